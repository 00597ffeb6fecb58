"""Black–Scholes, greeks, IV and mark rules against py_vollib (SPEC §6.3)."""

import datetime as dt
import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from apps.core.greeks import (
    bs_greeks,
    bs_price,
    compute_mark,
    enrich_chain,
    implied_vol,
    quote_quality,
)
from tests.core.realdata import load_vxx_raw

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes import black_scholes
    from py_vollib.black_scholes.greeks import analytical
    from py_vollib.black_scholes.implied_volatility import implied_volatility
    from py_vollib.black_scholes_merton import black_scholes_merton

SPOT = 100.0


def _grid() -> pd.DataFrame:
    rows = itertools.product(
        [60.0, 80.0, 95.0, 100.0, 105.0, 120.0, 150.0],
        [3, 30, 91, 365, 730],
        [0.08, 0.2, 0.45, 1.2],
        [0.0, 0.015, 0.05],
        [True, False],
    )
    grid = pd.DataFrame(rows, columns=["strike", "days", "vol", "r", "is_call"])
    grid["t"] = grid["days"] / 365.0
    return grid


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    g = _grid()
    g["price"] = bs_price(SPOT, g["strike"], g["t"], g["vol"], g["r"], g["is_call"])
    greeks = bs_greeks(SPOT, g["strike"], g["t"], g["vol"], g["r"], g["is_call"])
    for name, values in greeks.items():
        g[name] = values
    return g


def _flag(is_call: bool) -> str:
    return "c" if is_call else "p"


def test_price_and_greeks_match_vollib(grid: pd.DataFrame) -> None:
    checked = 0
    for row in grid.itertuples():
        args = (_flag(row.is_call), SPOT, row.strike, row.t, row.r, row.vol)
        assert row.price == pytest.approx(black_scholes(*args), abs=1e-6)
        if row.vega < 0.01:
            continue
        checked += 1
        assert row.delta == pytest.approx(analytical.delta(*args), abs=1e-6)
        assert row.gamma == pytest.approx(analytical.gamma(*args), abs=1e-6)
        assert row.theta_per_day == pytest.approx(analytical.theta(*args), abs=1e-6)
        assert row.vega == pytest.approx(analytical.vega(*args) * 100.0, abs=1e-6)
    assert checked > 500


def test_implied_vol_matches_vollib(grid: pd.DataFrame) -> None:
    sub = grid[grid["vega"] >= 0.01]
    ours = implied_vol(sub["price"], SPOT, sub["strike"], sub["t"], sub["r"], sub["is_call"])
    np.testing.assert_allclose(ours, sub["vol"], atol=1e-6)
    for row, iv in zip(sub.itertuples(), ours, strict=True):
        theirs = implied_volatility(row.price, SPOT, row.strike, row.t, row.r, _flag(row.is_call))
        assert iv == pytest.approx(theirs, abs=1e-6)


def test_dividend_yield_matches_merton() -> None:
    args = ("c", 100.0, 110.0, 0.5, 0.03, 0.25, 0.02)
    ours = bs_price(100.0, 110.0, 0.5, 0.25, 0.03, True, 0.02)
    assert float(ours) == pytest.approx(black_scholes_merton(*args), abs=1e-9)
    iv = implied_vol(ours, 100.0, 110.0, 0.5, 0.03, True, 0.02)
    assert float(iv) == pytest.approx(0.25, abs=1e-8)


def test_out_of_bounds_prices_give_nan() -> None:
    # call worth more than spot, below intrinsic, put above discounted strike, zero price
    prices = [101.0, 4.0, 120.0, 0.0, np.nan]
    strikes = [100.0, 95.0, 110.0, 100.0, 100.0]
    calls = [True, True, False, True, True]
    iv = implied_vol(prices, 100.0, strikes, 0.25, 0.0, calls)
    assert np.isnan(iv).all()


def test_expired_contracts_have_no_greeks() -> None:
    greeks = bs_greeks(100.0, [100.0, 100.0], [0.0, -0.01], 0.3, 0.0, True)
    assert all(np.isnan(v).all() for v in greeks.values())
    assert np.isnan(bs_price(100.0, 100.0, 0.0, 0.3)).all()


@pytest.mark.parametrize(
    "bid,ask,last,expected,source",
    [(1.0, 1.2, 5.0, 1.1, "mid"), (0.0, 1.2, 0.9, 0.9, "last"), (np.nan, 1.2, 0.9, 0.9, "last"),
     (0.0, 1.2, 0.0, 1.2, "ask"), (0.5, 0.0, np.nan, 0.5, "bid"),
     (0.0, 0.0, 0.0, np.nan, "missing"), (np.nan, np.nan, np.nan, np.nan, "missing")],
)
def test_mark_rule(bid: float, ask: float, last: float, expected: float, source: str) -> None:
    mark, src = compute_mark([bid], [ask], [last], [0])
    np.testing.assert_equal(mark.iloc[0], expected)
    assert src.iloc[0] == source


def _mini_chain() -> pd.DataFrame:
    expiry = dt.date(2025, 2, 21)
    t = 31 / 365.0
    true_vol = 0.3
    rows = []
    for i, (kind, strike, bid_ask, last, volume, piv) in enumerate([
        ("call", 100.0, True, np.nan, 0, 0.25),        # provider IV kept
        ("call", 105.0, True, np.nan, 0, 0.0),         # IV 0 -> solved from mid
        ("put", 95.0, False, "px", 10, np.nan),        # solved from last with volume
        ("put", 100.0, False, "px", 0, np.nan),        # last without volume -> missing
        ("put", 90.0, False, np.nan, 0, 1e-5),         # no mark at all -> missing
    ]):
        px = float(bs_price(100.0, strike, t, true_vol, 0.01, kind == "call"))
        rows.append({
            "contract_symbol": f"X{i}", "option_type": kind, "expiry": expiry, "strike": strike,
            "bid": px if bid_ask else 0.0, "ask": px if bid_ask else 0.0,
            "last": px if last == "px" else np.nan, "volume": volume, "open_interest": 10,
            "implied_vol": piv,
        })
    return pd.DataFrame(rows)


def test_enrich_chain_iv_sources() -> None:
    chain = _mini_chain()
    out = enrich_chain(chain, spot=100.0, as_of=dt.date(2025, 1, 21), risk_free_rate=0.01)
    assert out["iv_source"].tolist() == ["provider", "solved", "solved", "missing", "missing"]
    np.testing.assert_allclose(out["implied_vol"].iloc[:3], [0.25, 0.3, 0.3], atol=1e-8)
    assert out["bs_delta"].iloc[3:].isna().all()
    t = 31 / 365.0
    expected = bs_greeks(100.0, 100.0, t, 0.25, 0.01, True)
    assert out["bs_vega"].iloc[0] == pytest.approx(float(expected["vega"]))
    assert out["bs_price"].iloc[0] == pytest.approx(float(bs_price(100.0, 100.0, t, 0.25, 0.01)))
    for col in ("mark", "bs_gamma", "bs_theta_per_day"):
        assert col in out.columns


def test_enrich_accepts_datetime64_expiry() -> None:
    chain = _mini_chain()
    chain["expiry"] = pd.to_datetime(chain["expiry"])
    out = enrich_chain(chain, spot=100.0, as_of=dt.date(2025, 1, 21), risk_free_rate=0.01)
    assert out["expiry"].iloc[0] == dt.date(2025, 2, 21)
    assert out["iv_source"].iloc[1] == "solved"


def test_quote_quality_is_json_safe() -> None:
    chain = _mini_chain()
    out = enrich_chain(chain, spot=100.0, as_of=dt.date(2025, 1, 21))
    qq = quote_quality(out)
    assert qq["contracts"] == 5
    assert qq["missing_bid_ask_share"] == pytest.approx(0.6)
    assert qq["median_spread_pct"] == 0.0
    assert qq["missing_iv_share"] == pytest.approx(0.4)
    empty = quote_quality(chain.iloc[0:0])
    assert empty == {"contracts": 0, "missing_bid_ask_share": None, "median_spread_pct": None,
                     "missing_iv_share": None}


def test_solved_iv_close_to_vendor_on_real_vxx() -> None:
    """Solving every IV from the mid lands within ~1-2 vol points of the vendor's OTM IVs."""
    raw = load_vxx_raw()
    day = raw[raw["snapshot_date"] == dt.date(2016, 12, 15)].reset_index(drop=True)
    spot = float(day["spot"].iloc[0])
    out = enrich_chain(day.assign(implied_vol=np.nan), spot=spot, as_of=dt.date(2016, 12, 15),
                       risk_free_rate=0.01)
    otm = np.where(out["option_type"] == "call", out["strike"] > spot, out["strike"] < spot)
    vendor = day["implied_vol"]
    usable = otm & (out["iv_source"] == "solved") & vendor.between(0.05, 3.0) & (out["bid"] > 0)
    assert usable.sum() > 300
    assert (out["implied_vol"] - vendor)[usable].abs().median() < 0.02
    assert set(out["iv_source"]) <= {"solved", "missing"}
