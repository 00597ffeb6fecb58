"""The set-based flow (one DuckDB query for the whole symbol set) equals the previous per-symbol
pandas computation (tests/analytics/flow_reference.py) on demo data and on the real VXX and SPXW
chains, for every group-by and windows 1 and 5: rows, partition facts, provider and top rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from apps.analytics import selectors as analytics_selectors
from apps.core import flow
from apps.core.asof import resolve_as_of
from apps.core.greeks import enrich_chain
from apps.core.jobs import JobParams
from apps.market import selectors
from apps.market import stores as warehouse_stores
from apps.pipeline.jobs import execute_job
from tests.analytics import flow_reference
from tests.core.realdata import COLUMNS
from tests.jobs.helpers import past_sessions
from tests.support import REALDATA_DIR

REAL_FILES = {
    "VXX": "deltaneutral_VXX_2016-12.csv",
    "SPXW": "deltaneutral_SPXW_2018-01-02_2018-02-28.csv",
}
DEMO = ("AAPL",)
DEMO_END = dt.date(2026, 11, 20)
CHAIN_COLS = ["contract_symbol", "option_type", "expiry", "strike", "bid", "ask", "last",
              "volume", "open_interest", "implied_vol"]


def _store_real(symbol: str, path, *, up_to: dt.date | None = None) -> None:
    """Every session of a DeltaNeutral file as stored snapshots (Saturday monthlies → Friday)."""
    raw = pd.read_csv(path, skipinitialspace=True).rename(columns=COLUMNS)
    raw["snapshot_date"] = pd.to_datetime(raw["snapshot_date"], format="%m/%d/%Y").dt.date
    expiry = pd.to_datetime(raw["expiry"], format="%m/%d/%Y")
    raw["expiry"] = (expiry - pd.to_timedelta((expiry.dt.day_of_week == 5).astype(int), unit="D"))
    raw["expiry"] = raw["expiry"].dt.date
    days = sorted(raw["snapshot_date"].unique())
    keep = set(days[-6:]) | {d for d in days if d <= dt.date(2016, 12, 13)}  # cases below
    if up_to is not None:
        keep = {d for d in days if d <= up_to}
    for day, chain in raw[raw["snapshot_date"].isin(keep)].groupby("snapshot_date"):
        spot = float(chain["spot"].iloc[0])
        enriched = enrich_chain(chain[CHAIN_COLS], spot=spot, as_of=day, risk_free_rate=0.01)
        warehouse_stores.snapshot_write(symbol=symbol, snapshot_date=day, provider="files",
                                        spot=spot, risk_free_rate=0.01, chain=enriched,
                                        quote_quality={}, meta={})


@pytest.fixture
def demo(warehouse_db) -> None:
    for day in past_sessions(6, end=DEMO_END):
        execute_job("snapshot_options", JobParams(as_of=resolve_as_of(day), symbols=DEMO))


@pytest.fixture
def stored(demo) -> list[str]:
    symbols = []
    for symbol, name in REAL_FILES.items():
        if (REALDATA_DIR / name).exists():
            _store_real(symbol, REALDATA_DIR / name)
            symbols.append(symbol)
    return [*symbols, *DEMO, "NONE"]  # NONE: no snapshots at all


def _reference(symbol: str, as_of: dt.date, window: int, group_by: str):
    """The old job's path, one provider: the newest snapshot's provider → its stored dates → the
    last window+1 chains → pandas compute_flow."""
    newest = selectors.latest_snapshot_headers([symbol], up_to=as_of).get(symbol)
    provider = newest["provider"] if newest is not None else None
    dates = selectors.snapshot_dates(symbol, up_to=as_of, provider=provider)
    if len(dates) < window + 1:
        return None, dates, ""
    chains = selectors.snapshot_chains(symbol, dates[-(window + 1):], provider=provider)
    result = flow_reference.compute_flow(chains, as_of_date=dates[-1], window=window,
                                         group_by=group_by)
    return result, dates, str(chains["provider"].iloc[0])


def _assert_rows_equal(got: pd.DataFrame, ref: pd.DataFrame, context) -> None:
    got, ref = got.set_index("row_key"), ref.set_index("row_key")
    assert got.index.is_unique and set(got.index) == set(ref.index), context
    got = got.loc[ref.index]
    for col in flow.SUM_COLUMNS + ["strike"]:
        np.testing.assert_allclose(got[col].to_numpy(float), ref[col].to_numpy(float),
                                   rtol=1e-9, atol=1e-6, err_msg=f"{context} {col}")
    assert (got["n_pairs"].to_numpy() == ref["n_pairs"].to_numpy()).all(), context
    assert (got["flow_class"] == ref["flow_class"]).all(), context
    for col in ("contract_symbol", "option_type"):
        assert got[col].fillna("").tolist() == ref[col].fillna("").tolist(), (context, col)
    assert [None if pd.isna(e) else pd.Timestamp(e).date() for e in got["expiry"]] == [
        None if pd.isna(e) else pd.Timestamp(e).date() for e in ref["expiry"]], context


@pytest.mark.django_db
def test_set_based_flow_equals_per_symbol_reference(stored: list[str]) -> None:
    cases = [(DEMO_END, w, g) for w in (1, 5) for g in flow.GROUP_BY_MODES]
    if "VXX" in stored:  # an as-of whose window spans the real 2016-12-08 gap
        cases.append((dt.date(2016, 12, 9), 1, "contract"))
        cases.append((dt.date(2016, 12, 13), 3, "strike"))
    compared = 0
    for as_of, window, group_by in cases:
        batch = analytics_selectors.flow_batch(symbols=stored, as_of=as_of, window=window,
                                               group_by=group_by)
        assert [p.symbol for p in batch.partitions] == stored
        for part in batch.partitions:
            context = (part.symbol, as_of, window, group_by)
            ref, dates, provider = _reference(part.symbol, as_of, window, group_by)
            if ref is None:
                assert part.status == "insufficient_snapshots", context
                assert part.snapshot_dates == dates[-(window + 1):], context
                assert flow.symbol_rows(batch.rows, part.symbol).empty, context
                continue
            assert part.status == "ok" and part.pairs == window, context
            assert part.meta() == ref.meta(), context
            assert part.provider == provider, context
            got = flow.symbol_rows(batch.rows, part.symbol)
            _assert_rows_equal(got, ref.rows, context)
            ranked = batch.rows.filter(
                batch.rows["symbol"].to_numpy(zero_copy_only=False) == part.symbol
            ).to_pandas()
            for kind in flow.TOP_CLASSES:
                mine = ranked[ranked["flow_class"] == kind].sort_values("top_rank")
                expected = flow_reference.top_rows(ref.rows, 10, kind)["row_key"].tolist()
                assert mine["row_key"].head(10).tolist() == expected, (context, kind)
            compared += 1
    assert compared >= 8 * (len(stored) - 1)
    insufficient = analytics_selectors.flow_batch(symbols=["AAPL"], as_of=DEMO_END, window=30,
                                                  group_by="strike")
    assert insufficient.partitions[0].status == "insufficient_snapshots"


@pytest.mark.django_db
def test_flow_on_view_and_frame_path_agree(demo) -> None:
    """The portal's on-view selector and the frame path (core.compute_flow) give the same rows."""
    on_view = analytics_selectors.flow_on_view(symbol="AAPL", window=2, group_by="expiry-strike",
                                               as_of=DEMO_END)
    dates = selectors.snapshot_dates("AAPL", up_to=DEMO_END)[-3:]
    framed = flow.compute_flow(selectors.snapshot_chains("AAPL", dates), as_of_date=DEMO_END,
                               window=2, group_by="expiry-strike")
    assert on_view.status == "ok" and on_view.snapshot_dates == framed.snapshot_dates
    _assert_rows_equal(on_view.rows, framed.rows, "AAPL")
    missing = analytics_selectors.flow_on_view(symbol="NONE", window=1, group_by="strike",
                                               as_of=DEMO_END)
    assert missing.status == "insufficient_snapshots" and missing.rows.empty


@pytest.mark.django_db
def test_flow_never_pairs_two_providers_nor_replaces_a_partition_with_one(demo) -> None:
    """A second vendor's single snapshot on the newest date: flow compares one provider's
    snapshots only, so it is insufficient_snapshots and the stored demo partition stays."""
    from apps.analytics.models import OptionsFlowPartition

    params = JobParams(as_of=resolve_as_of(DEMO_END), symbols=DEMO, options={"window": 1})
    assert execute_job("compute_flow", params).outcome.status == "success"
    stored = OptionsFlowPartition.objects.get(symbol="AAPL", to_date=DEMO_END)
    chain = selectors.snapshot_chains("AAPL", [DEMO_END]).head(2)[CHAIN_COLS]
    enriched = enrich_chain(chain, spot=100.0, as_of=DEMO_END)
    warehouse_stores.snapshot_write(symbol="AAPL", snapshot_date=DEMO_END, provider="files",
                                    spot=100.0, risk_free_rate=0.0, chain=enriched,
                                    quote_quality={}, meta={})
    batch = analytics_selectors.flow_batch(symbols=["AAPL"], as_of=DEMO_END, window=1,
                                           group_by="contract")
    assert batch.partitions[0].status == "insufficient_snapshots"
    assert batch.partitions[0].provider in ("", "files")
    force = JobParams(as_of=resolve_as_of(DEMO_END), symbols=DEMO,
                      options={"window": 1, "force": True})
    execute_job("compute_flow", force)
    again = OptionsFlowPartition.objects.get(symbol="AAPL", to_date=DEMO_END)
    assert (again.pk, again.rows, again.provider) == (stored.pk, stored.rows, "demo")

