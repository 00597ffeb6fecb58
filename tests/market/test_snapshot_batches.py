"""The set-based snapshot path equals the per-symbol path, row for row.

snapshot_options fetches, validates and enriches a chunk of symbols in one pass over their
concatenated rows; a symbol's rows, header and failure must not depend on which other symbols
share its chunk.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from apps.market import jobs
from apps.market.providers.base import ChainSnapshot, ProviderError
from apps.market.providers.demo import DemoProvider
from apps.market.providers.files import FilesProvider
from tests.jobs.helpers import event_status, run_job, table_checksum
from tests.support import REALDATA_DIR

DAY = dt.date(2026, 11, 20)
DEMO_SYMBOLS = ["AAPL", "SPY", "BRK.B", "S0001", "S0002", "S0003"]


def _hostile(base: ChainSnapshot) -> list[ChainSnapshot]:
    """Symbol-days that must fail alone (or be cleaned alone) inside a batch."""
    mostly_bad = base.chain.copy()
    mostly_bad.loc[: len(mostly_bad) * 0.6, "bid"] = -1.0
    duplicated = pd.concat([base.chain, base.chain.iloc[[5]]], ignore_index=True)
    messy = base.chain.copy()
    messy["volume"] = messy["volume"].astype(object)
    messy.loc[3, "volume"] = "x"
    messy.loc[4, "implied_vol"] = 0.01
    messy.loc[7, "expiry"] = dt.date(2020, 1, 1)
    return [
        dataclasses.replace(base, symbol="BAD", chain=mostly_bad),
        dataclasses.replace(base, symbol="DUP", chain=duplicated),
        dataclasses.replace(base, symbol="NOSTRIKE", chain=base.chain.drop(columns="strike")),
        dataclasses.replace(base, symbol="NOSPOT", spot=float("nan")),
        dataclasses.replace(base, symbol="MESSY", chain=messy),
    ]


def _outcome(result):
    """What a symbol-day becomes: its error line, or its rows and header."""
    if isinstance(result, Exception):
        return type(result).__name__, str(result)
    chain = result.chain if result.rows is None else result.chain.iloc[result.rows]
    return chain.reset_index(drop=True), result.quote_quality, result.meta, result.size


def _assert_same(batched: list, alone: list) -> None:
    assert len(batched) == len(alone)
    for one, other in zip(batched, alone, strict=True):
        one, other = _outcome(one), _outcome(other)
        if isinstance(one[0], pd.DataFrame):
            assert isinstance(other[0], pd.DataFrame)
            pd.testing.assert_frame_equal(one[0], other[0], check_exact=True)
            assert one[1:] == other[1:]
        else:
            assert one == other


def _batched_and_alone(snapshots: list[ChainSnapshot], provider) -> tuple[list, list]:
    batched = jobs._prepare_snapshots(snapshots, provider=provider, rate=0.01)
    alone = [jobs._prepare_snapshots([s], provider=provider, rate=0.01)[0] for s in snapshots]
    return batched, alone


def test_demo_chains_generated_together_equal_one_by_one():
    demo = DemoProvider()
    together = demo.get_chain_snapshots([*DEMO_SYMBOLS, "not a ticker"], as_of=DAY)
    assert isinstance(together["not a ticker"], ProviderError)
    for symbol in DEMO_SYMBOLS:
        alone = demo.get_chain_snapshot(symbol, as_of=DAY)
        got = together[symbol]
        assert (got.symbol, got.snapshot_date, got.spot) == (
            alone.symbol,
            alone.snapshot_date,
            alone.spot,
        )
        pd.testing.assert_frame_equal(got.chain, alone.chain, check_exact=True)


def test_demo_batch_validates_and_enriches_like_one_by_one():
    demo = DemoProvider()
    snapshots = [demo.get_chain_snapshot(s, as_of=DAY) for s in DEMO_SYMBOLS]
    snapshots += _hostile(snapshots[0])
    batched, alone = _batched_and_alone(snapshots, demo)
    _assert_same(batched, alone)
    failed = {s.symbol for s, r in zip(snapshots, batched, strict=True) if isinstance(r, Exception)}
    assert failed == {"BAD", "DUP", "NOSTRIKE", "NOSPOT"}
    messy = batched[snapshots.index(next(s for s in snapshots if s.symbol == "MESSY"))]
    assert messy.meta["dropped_rows"] == {"bad_volume": 1, "expired": 1}


REAL_DAYS = {
    "VXX": ["2016-12-01", "2016-12-09", "2016-12-30"],
    "SPXW": ["2018-02-05", "2018-02-06"],
    "A": ["2016-01-05"],
    "VIX": ["2016-06-01"],
    "GOOG": ["2015-12-22", "2015-12-31"],
}


@pytest.mark.skipif(
    not (REALDATA_DIR / "deltaneutral_VXX_2016-12.csv").exists(),
    reason=f"real vendor data not found under {REALDATA_DIR}",
)
def test_real_vendor_chains_batched_equal_one_by_one():
    files = FilesProvider(REALDATA_DIR)
    snapshots = [
        files.get_chain_snapshot(symbol, as_of=dt.date.fromisoformat(day))
        for symbol, days in REAL_DAYS.items()
        for day in days
    ]
    assert len({len(s.chain) for s in snapshots}) > 3  # real, differently sized chains
    batched, alone = _batched_and_alone(snapshots, files)
    _assert_same(batched, alone)
    assert not any(isinstance(r, Exception) for r in batched)


@pytest.mark.django_db
def test_job_rows_do_not_depend_on_the_chunk_size(warehouse_db, monkeypatch):
    """The same job, chunk of 4 vs one symbol per chunk: identical tables and outcomes."""
    symbols = ["AAPL", "SPY", "S0001", "S0002", "S0003", "S0004"]
    original = DemoProvider.get_chain_snapshots

    def one_bad(self, names, *, as_of=None):
        out = original(self, names, as_of=as_of)
        if "S0002" in out:
            snap = out["S0002"]
            out["S0002"] = dataclasses.replace(snap, chain=pd.concat([snap.chain] * 2))
        return out

    monkeypatch.setattr(DemoProvider, "get_chain_snapshots", one_bad)
    states = []
    for chunk in (4, 1):
        monkeypatch.setattr(jobs, "SNAPSHOT_CHUNK_SYMBOLS", chunk)
        execution = run_job("snapshot_options", DAY, symbols, force=True)
        assert execution.outcome.status == "partial"
        statuses = event_status(execution.outcome.run_id, "options_snapshots")
        assert statuses == {s: "failed" if s == "S0002" else "success" for s in symbols}
        states.append(
            {t: table_checksum(t) for t in ("options_chain", "options_snapshot_headers")}
        )
    assert states[0] == states[1]
    assert states[0]["options_snapshot_headers"][0] == len(symbols) - 1
