"""Options flow on the real DeltaNeutral VXX December-2016 chains (SPEC §6.4).

The reference below is written independently from the SPEC text with plain pandas (a dict of
prior OI per pair, row keys built with f-strings) and compared with compute_flow row by row.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from apps.core.flow import compute_flow, top_rows
from apps.core.greeks import enrich_chain
from tests.analytics.flow_reference import classify_flow, pair_snapshots
from tests.core.realdata import load_vxx_raw

MODES = ["contract", "strike", "expiry", "expiry-strike"]


@pytest.fixture(scope="module")
def vxx() -> pd.DataFrame:
    raw = load_vxx_raw()
    chains = [
        enrich_chain(day, spot=float(day["spot"].iloc[0]), as_of=date, risk_free_rate=0.01)
        for date, day in raw.groupby("snapshot_date")
    ]
    cols = ["snapshot_date", "spot", "contract_symbol", "option_type", "expiry", "strike", "bid",
            "ask", "last", "volume", "open_interest", "implied_vol", "mark", "iv_source",
            "bs_delta", "bs_gamma"]
    return pd.concat(chains, ignore_index=True)[cols]


def _ref_class(delta: float, volume: float, prior: float) -> str:
    prior = 0.0 if np.isnan(prior) else prior
    move, busy = max(10.0, 0.1 * prior), max(50.0, 0.5 * prior)
    if delta >= move:
        return "building"
    if delta <= -move:
        return "unwinding"
    return "churn" if volume >= busy else "unknown"


def _ref_pairs(vxx: pd.DataFrame, dates: list[dt.date]) -> pd.DataFrame:
    frames = []
    for earlier, later in zip(dates, dates[1:], strict=False):
        before = vxx[vxx["snapshot_date"] == earlier]
        prior = dict(zip(before["contract_symbol"], before["open_interest"], strict=True))
        today = vxx[vxx["snapshot_date"] == later].copy()
        today["prior_oi"] = today["contract_symbol"].map(prior).astype(float)
        today["delta_oi"] = today["open_interest"] - today["prior_oi"]
        today["delta_oi_notional"] = today["delta_oi"] * today["mark"] * 100
        today["volume_notional"] = today["volume"] * today["mark"] * 100
        today["delta_notional"] = today["delta_oi"] * today["bs_delta"] * today["spot"] * 100
        frames.append(today)
    return pd.concat(frames, ignore_index=True)


def _fmt(strike: float) -> str:
    return f"{strike:.3f}".rstrip("0").rstrip(".")


def _ref_key(mode: str, row: pd.Series) -> str:
    kind = row["option_type"]
    if mode == "strike":
        return f"{kind}|{_fmt(row['strike'])}"
    exp = row["expiry"].isoformat()
    if mode == "expiry":
        return f"{kind}|{exp}"
    if mode == "expiry-strike":
        return f"{kind}|{exp}|{_fmt(row['strike'])}"
    return f"{row['contract_symbol']}|{exp}|{kind}|{_fmt(row['strike'])}"


def _reference(vxx: pd.DataFrame, dates: list[dt.date], mode: str) -> pd.DataFrame:
    pairs = _ref_pairs(vxx, dates)
    keys = {"contract": ["contract_symbol", "expiry", "option_type", "strike"],
            "strike": ["option_type", "strike"], "expiry": ["option_type", "expiry"],
            "expiry-strike": ["option_type", "expiry", "strike"]}[mode]
    sums = ["delta_oi", "delta_oi_notional", "volume_notional", "delta_notional", "volume",
            "prior_oi"]
    ref = pairs.groupby(keys).agg(
        **{c: (c, lambda s: s.sum() if s.notna().any() else np.nan) for c in sums},
        n_pairs=("volume", "size"),
    ).reset_index()
    ref["row_key"] = [_ref_key(mode, row) for _, row in ref.iterrows()]
    ref["flow_class"] = [_ref_class(d, v, p) for d, v, p in
                         zip(ref["delta_oi"], ref["volume"], ref["prior_oi"], strict=True)]
    return ref.set_index("row_key")


@pytest.mark.parametrize("window", [1, 5])
@pytest.mark.parametrize("mode", MODES)
def test_flow_matches_reference(vxx: pd.DataFrame, mode: str, window: int) -> None:
    as_of = dt.date(2016, 12, 30)
    result = compute_flow(vxx, as_of_date=as_of, window=window, group_by=mode)
    dates = sorted(vxx["snapshot_date"].unique())[-(window + 1):]
    assert result.status == "ok" and result.pairs == window
    assert result.snapshot_dates == dates
    assert (result.from_date, result.to_date) == (dates[0], dates[-1])
    ref = _reference(vxx, dates, mode)
    rows = result.rows.set_index("row_key")
    assert rows.index.is_unique and set(rows.index) == set(ref.index)
    rows = rows.loc[ref.index]
    for col in ["delta_oi", "delta_oi_notional", "volume_notional", "delta_notional", "volume",
                "prior_oi"]:
        np.testing.assert_allclose(rows[col], ref[col], rtol=1e-9, atol=1e-6, err_msg=col)
        assert np.nansum(rows[col]) == pytest.approx(np.nansum(ref[col]), rel=1e-9, abs=1e-6)
    assert (rows["n_pairs"] == ref["n_pairs"]).all()
    assert int(rows["n_pairs"].sum()) == len(_ref_pairs(vxx, dates))
    assert (rows["flow_class"] == ref["flow_class"]).all()
    assert rows["expiry"].isna().all() == (mode == "strike")
    assert rows["strike"].isna().all() == (mode == "expiry")
    assert rows["contract_symbol"].notna().all() == (mode == "contract")


def test_row_key_formats(vxx: pd.DataFrame) -> None:
    args = {"as_of_date": dt.date(2016, 12, 9), "window": 1}
    contract = compute_flow(vxx, group_by="contract", **args).rows
    assert "VXX161216P00022500|2016-12-16|put|22.5" in set(contract["row_key"])
    strike = compute_flow(vxx, group_by="strike", **args).rows
    assert {"call|30", "put|22.5"} <= set(strike["row_key"])
    assert {"put|2016-12-16"} <= set(compute_flow(vxx, group_by="expiry", **args).rows["row_key"])
    es = compute_flow(vxx, group_by="expiry-strike", **args).rows
    assert "call|2017-01-20|30" in set(es["row_key"])


def test_gap_sessions_and_windows(vxx: pd.DataFrame) -> None:
    gap = compute_flow(vxx, as_of_date=dt.date(2016, 12, 9), window=1, group_by="contract")
    assert gap.snapshot_dates == [dt.date(2016, 12, 7), dt.date(2016, 12, 9)]
    assert gap.gap_sessions == [dt.date(2016, 12, 8)]
    assert gap.meta()["gap_sessions"] == ["2016-12-08"]
    # the Friday-to-Monday pair is not a gap; an as-of between snapshots uses the one before
    ok = compute_flow(vxx, as_of_date=dt.date(2016, 12, 11), window=1, group_by="strike")
    assert ok.snapshot_dates == [dt.date(2016, 12, 7), dt.date(2016, 12, 9)]
    weekend = compute_flow(vxx, as_of_date=dt.date(2016, 12, 12), window=1, group_by="strike")
    assert weekend.gap_sessions == []
    override = compute_flow(vxx, as_of_date=dt.date(2016, 12, 9), window=1, group_by="strike",
                            sessions=[dt.date(2016, 12, 7), dt.date(2016, 12, 9)])
    assert override.gap_sessions == []


def test_insufficient_snapshots(vxx: pd.DataFrame) -> None:
    result = compute_flow(vxx, as_of_date=dt.date(2016, 12, 2), window=5, group_by="contract")
    assert result.status == "insufficient_snapshots"
    assert result.pairs == 0 and result.rows.empty
    assert result.snapshot_dates == [dt.date(2016, 12, 1), dt.date(2016, 12, 2)]
    assert compute_flow(vxx, as_of_date=dt.date(2016, 11, 30), window=1,
                        group_by="strike").status == "insufficient_snapshots"


@pytest.mark.parametrize("kwargs,message", [
    ({"window": 0, "group_by": "contract"}, "window"),
    ({"window": 31, "group_by": "contract"}, "window"),
    ({"window": 1, "group_by": "symbol"}, "group_by"),
])
def test_validation(kwargs: dict, message: str) -> None:
    frame = pd.DataFrame(columns=["snapshot_date", "expiry"])
    with pytest.raises(ValueError, match=message):
        compute_flow(frame, as_of_date=dt.date(2016, 12, 30), **kwargs)


def test_pair_rules_and_top_rows() -> None:
    base = {"option_type": "call", "expiry": dt.date(2025, 1, 17), "strike": 100.0,
            "mark": 2.0, "bs_delta": 0.5}
    before = pd.DataFrame([{**base, "contract_symbol": s, "open_interest": oi}
                           for s, oi in [("A", 100), ("B", 500), ("C", 100), ("D", np.nan),
                                         ("GONE", 5)]])
    today = pd.DataFrame([{**base, "contract_symbol": s, "open_interest": oi, "volume": v}
                          for s, oi, v in [("A", 110, 0), ("B", 520, 0), ("C", 95, 60),
                                           ("D", 50, 0), ("NEW", 30, 0)]])
    out = pair_snapshots(today, before, spot=100.0).set_index("contract_symbol")
    assert "GONE" not in out.index
    assert out.loc["A", "flow_class"] == "building"       # +10 >= max(10, 10)
    assert out.loc["B", "flow_class"] == "unknown"        # +20 < 50 (10% of 500)
    assert out.loc["C", "flow_class"] == "churn"          # -5, volume 60 >= 50
    assert np.isnan(out.loc["D", "delta_oi"]) and np.isnan(out.loc["NEW", "delta_oi"])
    assert out.loc["A", "delta_oi_notional"] == 10 * 2.0 * 100
    assert out.loc["A", "delta_notional"] == 10 * 0.5 * 100.0 * 100
    assert out.loc["C", "volume_notional"] == 60 * 2.0 * 100
    assert list(classify_flow([-20.0], [0.0], [100.0])) == ["unwinding"]
    rows = pd.DataFrame({"row_key": ["a", "b", "c"], "flow_class": ["building"] * 3,
                         "delta_oi_notional": [5.0, -50.0, 20.0]})
    assert top_rows(rows, 2, "building")["row_key"].tolist() == ["b", "c"]
    with pytest.raises(ValueError):
        top_rows(rows, 2, "hot")
