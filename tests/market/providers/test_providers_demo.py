"""Demo provider: determinism, realism sanity and shapes (no timed assertions)."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest

from apps.core import calendar
from apps.market.providers.base import (
    BAR_COLUMNS,
    CHAIN_COLUMNS,
    CONTRACT_COLUMNS,
    HISTORY_COLUMNS,
)
from apps.market.providers.demo import DEMO_SYMBOLS, DemoProvider
from apps.market.providers.validation import validate_chain, validate_history

DAY = dt.date(2024, 6, 14)


@pytest.fixture(scope="module")
def demo() -> DemoProvider:
    return DemoProvider()


def test_history_is_independent_of_requested_range(demo):
    long = demo.get_history("AAPL", dt.date(2016, 1, 1), dt.date(2024, 6, 28))
    short = demo.get_history("AAPL", dt.date(2024, 6, 3), dt.date(2024, 6, 28))
    tail = long[long["date"] >= dt.date(2024, 6, 3)].reset_index(drop=True)
    pd.testing.assert_frame_equal(tail, short)
    assert list(short.columns) == list(HISTORY_COLUMNS)


def test_history_sessions_only(demo):
    hist = validate_history(
        "SPY", demo.get_history("SPY", dt.date(2016, 12, 19), dt.date(2016, 12, 30))
    )
    assert dt.date(2016, 12, 26) not in set(hist["date"])
    assert list(hist["date"]) == calendar.sessions_between(
        dt.date(2016, 12, 19), dt.date(2016, 12, 30)
    )
    assert (hist["low"] <= hist[["open", "close"]].min(axis=1)).all()
    assert (hist["high"] >= hist[["open", "close"]].max(axis=1)).all()


def test_snapshot_deterministic_across_instances(demo):
    a = demo.get_chain_snapshot("MSFT", as_of=DAY)
    b = DemoProvider().get_chain_snapshot("MSFT", as_of=DAY)
    pd.testing.assert_frame_equal(a.chain, b.chain)
    assert a.spot == b.spot and a.snapshot_date == DAY


def test_snapshot_shape_and_realism(demo):
    t0 = time.perf_counter()
    snap = demo.get_chain_snapshot("AAPL", as_of=DAY)
    print(f"demo snapshot AAPL: {(time.perf_counter() - t0) * 1000:.1f} ms")
    chain = validate_chain("AAPL", snap.chain)  # raises on negatives / crossed / duplicates
    assert list(snap.chain.columns) == list(CHAIN_COLUMNS)
    order = snap.chain.assign(put=snap.chain["option_type"] == "put")
    assert order.equals(order.sort_values(["expiry", "strike", "put"]))  # as the provider built it
    assert 2000 <= len(chain) <= 5000
    assert (chain["bid"] <= chain["ask"]).all() and (chain["bid"] >= 0).all()
    assert (chain["bid"] == 0).any()  # some far-OTM zero bids
    assert 0.02 < chain["implied_vol"].isna().mean() < 0.09
    assert set(chain["option_type"]) == {"call", "put"}
    assert chain["last_trade_at"].dt.tz is not None
    expiries = sorted(set(chain["expiry"]))
    assert all(calendar.is_session(e) for e in expiries)
    assert any(calendar.is_monthly_expiry(e) for e in expiries)
    assert (expiries[-1] - DAY).days > 300
    counts = chain.groupby("expiry")["strike"].nunique()
    assert counts.min() >= 25


def test_put_skew_and_term_structure(demo):
    chain = demo.get_chain_snapshot("SPY", as_of=DAY)
    c, spot = chain.chain.dropna(subset=["implied_vol"]), chain.spot
    monthly = [e for e in sorted(set(c["expiry"])) if calendar.is_monthly_expiry(e)][1]
    one = c[(c["expiry"] == monthly)]
    low_put = one[(one["option_type"] == "put") & (one["strike"] < spot * 0.9)]
    atm = one.iloc[(one["strike"] - spot).abs().argsort()[:4]]
    assert low_put["implied_vol"].median() > atm["implied_vol"].median()


def test_open_interest_evolves(demo):
    a = demo.get_chain_snapshot("NVDA", as_of=dt.date(2024, 6, 10)).chain
    b = demo.get_chain_snapshot("NVDA", as_of=dt.date(2024, 6, 17)).chain
    joined = a.merge(b, on="contract_symbol", how="outer", suffixes=("_a", "_b"))
    change = joined["open_interest_b"] - joined["open_interest_a"]
    assert (change > 0).sum() > 50 and (change < 0).sum() > 50
    new = joined[joined["open_interest_a"].isna()]
    assert len(new) > 0  # new listings appeared during the week
    fresh = demo.get_chain_snapshot("NVDA", as_of=dt.date(2024, 6, 14)).chain
    first_day = set(fresh["contract_symbol"]) - set(
        demo.get_chain_snapshot("NVDA", as_of=dt.date(2024, 6, 13)).chain["contract_symbol"]
    )
    assert (
        first_day
        and (fresh.set_index("contract_symbol").loc[sorted(first_day), "open_interest"] == 0).all()
    )


def test_snapshot_date_is_last_session(demo):
    snap = demo.get_chain_snapshot("QQQ", as_of=dt.date(2016, 12, 26))  # Christmas observed
    assert snap.snapshot_date == dt.date(2016, 12, 23)
    assert demo.get_quote("QQQ", as_of=dt.date(2016, 12, 26)) == snap.spot


def test_all_demo_symbols_and_hashed_default(demo):
    for sym in (*DEMO_SYMBOLS, "ZZZQ"):
        snap = demo.get_chain_snapshot(sym, as_of=DAY)
        assert snap.spot > 0 and len(snap.chain) > 1000
    assert demo.get_quote("ZZZQ", as_of=DAY) == DemoProvider().get_quote("ZZZQ", as_of=DAY)


def test_expiries_and_single_chain_match_snapshot(demo):
    expiries = demo.list_option_expiries("AMD", as_of=DAY)
    snap = demo.get_chain_snapshot("AMD", as_of=DAY).chain
    assert expiries == sorted(set(snap["expiry"]))
    one = demo.get_option_chain("AMD", expiries[2], as_of=DAY)
    pd.testing.assert_frame_equal(one, snap[snap["expiry"] == expiries[2]].reset_index(drop=True))


def test_contracts_listing(demo):
    contracts = demo.list_option_contracts("JPM", as_of=DAY)
    assert list(contracts.columns) == list(CONTRACT_COLUMNS)
    assert (contracts["multiplier"] == 100).all() and (contracts["underlying"] == "JPM").all()


def test_next_earnings(demo):
    nxt = demo.next_earnings("AAPL", as_of=DAY)
    assert nxt is not None and DAY < nxt <= DAY + dt.timedelta(days=100)
    assert calendar.is_session(nxt)
    assert demo.next_earnings("SPY", as_of=DAY) is None


def test_option_bars_consistent_with_chain(demo):
    snap = demo.get_chain_snapshot("TSLA", as_of=DAY).chain
    traded = snap[(snap["volume"] > 0)].head(20)
    bars = demo.get_option_bars(list(traded["contract_symbol"]), dt.date(2024, 5, 1), DAY)
    assert list(bars.columns) == list(BAR_COLUMNS)
    today = bars[bars["date"] == DAY].set_index("contract_symbol")
    assert len(today) == len(traded)
    np.testing.assert_allclose(today.loc[traded["contract_symbol"], "volume"], traded["volume"])
    assert (bars["low"] <= bars["high"]).all() and (bars["close"] > 0).all()
    again = demo.get_option_bars(list(traded["contract_symbol"]), dt.date(2024, 6, 1), DAY)
    pd.testing.assert_frame_equal(
        again, bars[bars["date"] >= dt.date(2024, 6, 1)].reset_index(drop=True)
    )


@pytest.mark.parametrize("day", [dt.date(2026, 11, 23), dt.date(2026, 11, 27)])
def test_last_trade_times_fall_on_sessions(demo, day):
    """Stale prints sit at an earlier session's close: never a weekend or a holiday."""
    chain = demo.get_chain_snapshot("AAPL", as_of=day).chain
    stamps = pd.to_datetime(chain["last_trade_at"]).dropna()
    assert len(stamps) > 100
    days = set(stamps.dt.tz_convert(calendar.MARKET_TZ).dt.date)
    off = sorted(d for d in days if not calendar.is_session(d))
    assert off == [] and max(days) <= day
