"""The set-based compute_derived (chain metrics per date, RV and IV percentile/rank for all symbols
and dates in one DuckDB pass) stores exactly what the per-row path stored: each date computed
oldest first from stored inputs, each written before the next (``derived_for_date``)."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from apps.analytics import jobs
from apps.analytics.jobs import derived_for_date
from apps.core.asof import resolve_as_of
from apps.core.chain import summarize_chain
from apps.core.chain_sets import SUMMARY_KEYS, summaries_on_connection, summary_frame
from apps.core.derived import DERIVED_COLUMNS, SUMMARY_COLUMNS
from apps.core.jobs import JobParams
from apps.market import selectors
from apps.market import stores as warehouse_stores
from apps.pipeline.jobs import execute_job
from optionshelper import warehouse
from tests.analytics.test_flow_setbased import REAL_FILES, _store_real
from tests.jobs.helpers import past_sessions
from tests.support import REALDATA_DIR

END = dt.date(2026, 11, 20)
DEMO = ("AAPL",)


def _stored(symbols) -> dict[tuple[str, dt.date], dict]:
    frame = warehouse.fetch_df(
        f"SELECT {', '.join(DERIVED_COLUMNS)} FROM derived_daily "
        "WHERE list_contains(?::VARCHAR[], symbol) ORDER BY symbol, date",
        [list(symbols)],
    )
    out = {}
    for row in frame.to_dict("records"):
        clean = {k: (None if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v))
                     else v) for k, v in row.items()}
        for k in ("date", "max_pain_expiry", "near_expiry", "next_expiry"):
            clean[k] = None if clean[k] is None else pd.Timestamp(clean[k]).date()
        out[(row["symbol"], clean["date"])] = clean
    return out


def _per_row_reference(symbols, up_to: dt.date) -> dict:
    for symbol in symbols:
        for day in selectors.snapshot_dates(symbol, up_to=up_to):
            row = derived_for_date(symbol, day)
            warehouse_stores.derived_write(rows=pd.DataFrame([row]), provider="derived")
    return _stored(symbols)


def _assert_same(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for key, row in expected.items():
        for column, value in row.items():
            mine = got[key][column]
            if isinstance(value, float):
                assert mine == pytest.approx(value, rel=1e-9, abs=1e-12), (key, column)
            else:
                assert mine == value, (key, column)


@pytest.mark.django_db
def test_set_based_derived_equals_per_row_path(warehouse_db, monkeypatch) -> None:
    monkeypatch.setattr(jobs, "DERIVED_CHUNK_SNAPSHOTS", 4)  # several chunks, symbols kept whole
    sessions = past_sessions(5, end=END)
    execute_job("ingest_candles", JobParams(as_of=resolve_as_of(END), symbols=DEMO))
    for day in sessions:
        execute_job("snapshot_options", JobParams(as_of=resolve_as_of(day), symbols=DEMO))
    symbols = list(DEMO)
    vxx = REALDATA_DIR / REAL_FILES["VXX"]
    if vxx.exists():
        _store_real("VXX", vxx, up_to=dt.date(2016, 12, 9))
        symbols.append("VXX")
    expected = _per_row_reference(symbols, END)
    assert any(r["rv_20d"] is not None for r in expected.values())
    assert any(r["atm_iv_percentile"] is not None for r in expected.values())
    assert all(r["next_expiry"] is not None for k, r in expected.items() if k[0] in DEMO)

    # all dates, set-based: identical rows (the job overwrites every one of them)
    warehouse_db_rows = len(expected)
    run = execute_job("compute_derived", JobParams(as_of=resolve_as_of(END),
                                                   symbols=(*symbols, "NONE"),
                                                   options={"all_dates": True}))
    assert run.outcome.status == "success"
    assert {p.symbol: p.status for p in run.result.partitions}["NONE"] == "skipped"
    assert sum(p.rows for p in run.result.partitions) == warehouse_db_rows
    _assert_same(_stored(symbols), expected)

    # newest date only: history comes from the stored rows before it
    with warehouse.transaction() as con:
        con.execute("DELETE FROM derived_daily WHERE date = ?", [sessions[-1]])
    run = execute_job("compute_derived", JobParams(as_of=resolve_as_of(END), symbols=DEMO))
    assert [p.market_date for p in run.result.partitions] == [sessions[-1]]
    _assert_same(_stored(symbols), expected)


def _summary_reference(symbol: str, day: dt.date) -> dict:
    header = selectors.snapshot_header(symbol, day)
    spot = header["spot"]
    spot = None if spot is None or pd.isna(spot) else float(spot)
    return summarize_chain(selectors.snapshot_chains(symbol, [day]), spot=spot, as_of=day)


@pytest.mark.django_db
def test_every_chain_metric_on_the_warehouse_equals_summarize_chain(warehouse_db) -> None:
    """Every metric of every stored (symbol, date) — demo, real VXX/SPXW, a NULL and a zero
    spot, a header whose chain is empty — from one set-based pass equals summarize_chain."""
    for day in past_sessions(3, end=END):
        execute_job("snapshot_options", JobParams(as_of=resolve_as_of(day), symbols=DEMO))
    symbols = [*DEMO, "NOSPOT", "ZEROSPOT", "EMPTY"]
    for symbol, up_to in (("VXX", dt.date(2016, 12, 6)), ("SPXW", dt.date(2018, 1, 5))):
        if (REALDATA_DIR / REAL_FILES[symbol]).exists():
            _store_real(symbol, REALDATA_DIR / REAL_FILES[symbol], up_to=up_to)
            symbols.append(symbol)
    with warehouse.transaction() as con:
        for symbol, spot in (("NOSPOT", "NULL"), ("ZEROSPOT", "0.0"), ("EMPTY", "spot")):
            con.execute(
                f"INSERT INTO options_snapshot_headers SELECT ?, snapshot_date, provider, {spot}, "
                "risk_free_rate, contracts, quote_quality, meta, updated_at "
                "FROM options_snapshot_headers WHERE symbol = ?", [symbol, DEMO[0]])
            if symbol != "EMPTY":
                con.execute("INSERT INTO options_chain SELECT * REPLACE (? AS symbol) "
                            "FROM options_chain WHERE symbol = ?", [symbol, DEMO[0]])
    todo = {s: selectors.snapshot_dates(s) for s in symbols}
    with warehouse.read() as con:
        got = summary_frame(summaries_on_connection(con, todo=todo))
    rows = {(r["symbol"], r["date"]): r for r in got.to_dict("records")}
    assert set(rows) == {(s, d) for s, days in todo.items() for d in days}
    for (symbol, day), row in rows.items():
        expected = _summary_reference(symbol, day)
        for key in SUMMARY_KEYS:
            if isinstance(expected[key], float):
                assert row[key] == pytest.approx(expected[key], rel=1e-9), (symbol, day, key)
            else:
                assert row[key] == expected[key], (symbol, day, key)
    assert rows[("EMPTY", todo["EMPTY"][0])]["contracts"] == 0
    assert all(rows[("NOSPOT", d)]["call_wall"] is None for d in todo["NOSPOT"])

    # the job stores them all, a NULL spot included (the per-date path failed on it)
    run = execute_job("compute_derived", JobParams(as_of=resolve_as_of(END),
                                                   symbols=tuple(symbols),
                                                   options={"all_dates": True}))
    assert {p.status for p in run.result.partitions} == {"success"}
    stored = _stored(symbols)
    for (symbol, day), row in rows.items():
        for key in SUMMARY_COLUMNS:
            assert stored[(symbol, day)][key] == (
                pytest.approx(row[key], rel=1e-9) if isinstance(row[key], float) else row[key])


@pytest.mark.django_db
def test_newest_row_computed_after_its_inputs_is_up_to_date(warehouse_db) -> None:
    sessions = past_sessions(2, end=END)
    symbols = ("AAPL", "MSFT")
    execute_job("ingest_candles", JobParams(as_of=resolve_as_of(END), symbols=symbols))
    for day in sessions:
        execute_job("snapshot_options", JobParams(as_of=resolve_as_of(day), symbols=symbols))

    def run(**options):
        execution = execute_job("compute_derived", JobParams(
            as_of=resolve_as_of(END), symbols=symbols, options=options))
        return {p.symbol: (p.status, p.detail) for p in execution.result.partitions}

    def stamps():
        return dict(warehouse.fetch_all(
            "SELECT symbol, updated_at FROM derived_daily WHERE date = ?", [sessions[-1]]))

    assert run() == {s: ("success", "") for s in symbols}
    before = stamps()
    assert run() == {s: ("skipped", "up_to_date") for s in symbols}
    assert stamps() == before  # nothing written
    # a newer snapshot of the newest date, or newer candles, make the row stale
    execute_job("snapshot_options", JobParams(as_of=resolve_as_of(sessions[-1]),
                                              symbols=("AAPL",), options={"force": True}))
    with warehouse.transaction() as con:
        con.execute("UPDATE candles_daily SET updated_at = now() WHERE symbol = 'MSFT' "
                    "AND date = ?", [sessions[0]])
    assert run() == {s: ("success", "") for s in symbols}
    assert run() == {s: ("skipped", "up_to_date") for s in symbols}
    assert run(force=True) == {s: ("success", "") for s in symbols}
    assert run(all_dates=True) == {s: ("success", "") for s in symbols}
