"""The set-based chain metrics (apps.core.chain_sets, one DuckDB pass over many snapshots) equal
the straightforward summarize_chain for every metric: on the hand chain, on edge cases and on
every real vendor session."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from apps.core import chain_sets
from apps.core.chain import summarize_chain, term_structure
from apps.core.chain_sets import SUMMARY_KEYS, summarize_chains, term_structures
from tests.core.handchain import AS_OF, NEAR, NEXT, SPOT
from tests.support import REALDATA_DIR


def _same(got: dict, expected: dict, where: object) -> None:
    assert set(SUMMARY_KEYS) == set(expected)
    for key in SUMMARY_KEYS:
        mine, ref = got[key], expected[key]
        if ref is None:
            assert mine is None, (where, key, mine)
        elif isinstance(ref, float):
            assert mine is not None and math.isclose(mine, ref, rel_tol=1e-9, abs_tol=1e-12), (
                where, key, mine, ref)
        else:
            assert mine == ref, (where, key, mine, ref)


def _check(snapshots: list[tuple[dt.date, float | None, pd.DataFrame]]) -> list[dict]:
    """Compare one symbol's snapshots (date, spot, chain) computed together with the reference."""
    frames = [chain.assign(snapshot_date=day) for day, _, chain in snapshots if len(chain)]
    chains = pd.concat(frames, ignore_index=True) if frames else snapshots[0][2].assign(
        snapshot_date=snapshots[0][0])
    got = summarize_chains(chains, {day: spot for day, spot, _ in snapshots})
    out = []
    for day, spot, chain in snapshots:
        expected = summarize_chain(chain, spot=spot, as_of=day)
        _same(got.loc[day].to_dict(), expected, day)
        out.append(expected)
    return out


def test_hand_chain(hand_chain) -> None:
    [summary] = _check([(AS_OF, SPOT, hand_chain)])
    assert summary["near_expiry"] == NEAR and summary["next_expiry"] == NEXT
    assert summary["skew_near_pp"] is not None and summary["iv_term_slope"] is not None


@pytest.mark.parametrize("spot", [None, float("nan"), 0.0, -5.0, float("inf")])
def test_no_usable_spot(hand_chain, spot) -> None:
    [summary] = _check([(AS_OF, spot, hand_chain)])
    assert summary["call_wall"] is None and summary["near_expiry"] is None
    assert summary["max_pain"] is not None  # not spot-relative


def test_single_expiry_and_expiry_on_the_as_of_date(hand_chain) -> None:
    only_near = hand_chain[hand_chain["expiry"] == NEAR]
    [single] = _check([(AS_OF, SPOT, only_near)])
    assert single["next_expiry"] is None and single["iv_term_slope"] is None
    # the chain seen on NEAR itself: NEAR expires that day (days 0), so it is the max-pain
    # expiry only when no monthly is listed, and never the near expiry
    [on_expiry] = _check([(NEAR, SPOT, hand_chain)])
    [alone] = _check([(NEAR, SPOT, only_near)])
    assert alone["max_pain_expiry"] == NEAR and alone["near_expiry"] is None
    assert on_expiry["max_pain_expiry"] != NEAR


def test_missing_iv(hand_chain) -> None:
    calls = hand_chain["option_type"].str.startswith("c")
    no_call_iv = hand_chain.assign(implied_vol=np.where(calls, np.nan, hand_chain["implied_vol"]))
    [one_side] = _check([(AS_OF, SPOT, no_call_iv)])
    assert one_side["atm_iv_near"] is not None and one_side["skew_near_pp"] is None
    [none] = _check([(AS_OF, SPOT, hand_chain.assign(implied_vol=np.nan))])
    assert none["atm_iv_near"] is None and none["em_near_pct"] is not None
    near_only = hand_chain["expiry"] == NEAR
    no_near_iv = hand_chain.assign(
        implied_vol=np.where(near_only, np.nan, hand_chain["implied_vol"]))
    [slope] = _check([(AS_OF, SPOT, no_near_iv)])
    assert slope["iv_term_slope"] is None and slope["next_expiry"] == NEXT


def test_zero_oi_missing_marks_and_empty_chain(hand_chain) -> None:
    [zero] = _check([(AS_OF, SPOT, hand_chain.assign(open_interest=0.0))])
    assert zero["max_pain"] is None and zero["call_wall"] is None and zero["pc_oi"] is None
    [nomark] = _check([(AS_OF, SPOT, hand_chain.assign(mark=np.nan))])
    assert nomark["near_expiry"] is None
    day2 = AS_OF + dt.timedelta(days=1)
    _, empty = _check([(AS_OF, SPOT, hand_chain), (day2, SPOT, hand_chain.iloc[0:0])])
    assert empty["contracts"] == 0 and empty["max_pain_expiry"] is None


def test_ties_follow_contract_order(hand_chain) -> None:
    """Duplicate (expiry, strike, side) contracts and equal deltas: the first contract wins."""
    twin = hand_chain.assign(contract_symbol=hand_chain["contract_symbol"] + "X",
                             implied_vol=hand_chain["implied_vol"] + 0.05,
                             open_interest=hand_chain["open_interest"][::-1].to_numpy())
    both = pd.concat([hand_chain, twin]).sort_values("contract_symbol", kind="mergesort")
    _check([(AS_OF, SPOT, both.reset_index(drop=True))])
    flat = hand_chain.assign(bs_delta=np.where(hand_chain["option_type"] == "call", 0.5, -0.5),
                             implied_vol=0.2 + 0.001 * np.arange(len(hand_chain)) ** 2,
                             open_interest=100.0)
    [tied] = _check([(AS_OF, SPOT, flat)])
    assert tied["skew_near_pp"] is not None


def test_every_real_session() -> None:
    if not REALDATA_DIR.exists():
        pytest.skip(f"real-data fixtures not present: {REALDATA_DIR}")
    from tests.core.realchains import real_chains

    by_symbol: dict[str, list] = {}
    for symbol, day, spot, chain in real_chains():
        by_symbol.setdefault(symbol, []).append((day, spot, chain))
    seen = [s for items in by_symbol.values() for s in _check(items)]
    assert len(seen) >= 70
    for key in SUMMARY_KEYS:  # every metric is exercised with a value somewhere
        assert any(s[key] is not None for s in seen), key


def _same_term(snapshots: list[tuple[dt.date, float | None, pd.DataFrame]]) -> int:
    """The set-based term structure of one symbol's snapshots equals term_structure per date."""
    frames = [chain.assign(snapshot_date=day) for day, _, chain in snapshots if len(chain)]
    got = term_structures(pd.concat(frames, ignore_index=True), {d: s for d, s, _ in snapshots})
    compared = 0
    for day, spot, chain in snapshots:
        expected = term_structure(chain, spot=spot if spot is not None else np.nan, as_of=day)
        mine = got[got["date"] == day].drop(columns="date").reset_index(drop=True)
        assert list(mine["expiry"]) == list(expected["expiry"]), day
        assert list(mine["days"]) == list(expected["days"]), day
        for column in ("atm_strike", "atm_iv", "straddle", "em_pct"):
            a = pd.to_numeric(mine[column], errors="coerce").to_numpy(dtype=float)
            b = expected[column].to_numpy(dtype=float)
            assert np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True), (day, column)
        compared += int(expected["atm_iv"].notna().sum())
    return compared


def test_term_structure_of_the_hand_chain_and_every_real_session(hand_chain) -> None:
    assert _same_term([(AS_OF, SPOT, hand_chain)]) > 0
    assert _same_term([(AS_OF, None, hand_chain)]) == 0  # no usable spot: no ATM anywhere
    if not REALDATA_DIR.exists():
        pytest.skip(f"real-data fixtures not present: {REALDATA_DIR}")
    from tests.core.realchains import real_chains

    by_symbol: dict[str, list] = {}
    for symbol, day, spot, chain in real_chains():
        by_symbol.setdefault(symbol, []).append((day, spot, chain))
    assert sum(_same_term(items) for items in by_symbol.values()) > 100


def test_one_statement_per_snapshot_gives_the_same_results(hand_chain, monkeypatch) -> None:
    """Snapshots split over several statements (SUMMARY_CHUNK_ROWS below one chain) come back
    equal to the reference and in date order; an empty chain is a slice like any other."""
    monkeypatch.setattr(chain_sets, "SUMMARY_CHUNK_ROWS", 1)
    cheap = hand_chain.assign(mark=hand_chain["mark"] * 0.5)
    snapshots = [
        (AS_OF, SPOT, hand_chain),
        (AS_OF + dt.timedelta(days=1), SPOT + 2.0, cheap),
        (AS_OF + dt.timedelta(days=2), SPOT, hand_chain.iloc[0:0]),
        (AS_OF + dt.timedelta(days=5), SPOT - 6.0, hand_chain),
    ]
    first, second, empty, last = _check(snapshots)
    assert first["em_near_pct"] != second["em_near_pct"] and empty["contracts"] == 0
    assert last["atm_strike_near"] != first["atm_strike_near"]
    assert _same_term([s for s in snapshots if len(s[2])]) > 0
    chains = pd.concat([c.assign(snapshot_date=d) for d, _, c in snapshots], ignore_index=True)
    with chain_sets._frame_connection(chains, {d: s for d, s, _ in snapshots}) as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        chain_sets.summaries_on_connection(con, todo={"X": [d for d, _, _ in snapshots]})
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == limit


def test_the_memory_limit_is_restored_by_its_last_holder_only() -> None:
    """Two accesses of one process share a DuckDB instance (and its memory limit): the one that
    finishes first leaves the limit in place for the other, the last one restores the default."""
    root = duckdb.connect()
    one, other = root.cursor(), root.cursor()

    def limit() -> str:
        return root.execute("SELECT current_setting('memory_limit')").fetchone()[0]

    default = limit()
    first, second = (chain_sets._memory_limit(con, "512MB") for con in (one, other))
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert limit() != default  # the other access still runs bounded
    second.__exit__(None, None, None)
    assert limit() == default
    root.close()
