"""The set-based compute_derived (chain metrics per date, RV and IV percentile/rank for all symbols
and dates in one DuckDB pass) stores exactly what the per-row path stored: each date computed
oldest first from stored inputs, each written before the next (``derived_for_date``)."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from apps.analytics.jobs import derived_for_date
from apps.core.asof import resolve_as_of
from apps.core.derived import DERIVED_COLUMNS
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
        clean = {k: (None if v is None or (isinstance(v, float) and math.isnan(v)) else v)
                 for k, v in row.items()}
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
def test_set_based_derived_equals_per_row_path(warehouse_db) -> None:
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
