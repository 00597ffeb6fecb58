"""Checks of ``candles_daily`` (SPEC §7), one aggregate query per check over all scope symbols.

"Dates are not increasing" (``candles_monotonic_date``): a symbol's series, ordered by date, must
have strictly increasing dates, so a repeated date (the stores refuse one, an outside write could
store it) or a NULL date fails. DuckDB gives no stable storage order after upserts, so the check
never relies on ``rowid``; a later write filling an older gap (a backfill) is not a failure.
Invalid dates (NULL, a Saturday/Sunday, or later than tomorrow) are reported by
``candles_unique_symbol_date`` together with duplicates.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from apps.core import calendar
from apps.ledger.checks.base import (
    ERROR,
    WARN,
    CheckScope,
    CheckSpec,
    SymbolResult,
    outcomes_for_symbols,
    placeholders,
)
from apps.ledger.services.run_types import CheckOutcome

UNIQUE = CheckSpec(
    "candles_unique_symbol_date", "candles_daily", ERROR, "duplicate or invalid (symbol, date) keys"
)
MONOTONIC = CheckSpec(
    "candles_monotonic_date", "candles_daily", ERROR, "dates not strictly increasing"
)
NO_NEGATIVE = CheckSpec(
    "candles_no_negative_prices", "candles_daily", ERROR, "negative prices or high < low"
)
GAPS = CheckSpec(
    "candles_gap_days_last_30",
    "candles_daily",
    WARN,
    "missing trading sessions in the last 30 days",
)
GAP_WINDOW_DAYS = 30

_UNIQUE_SQL = """
WITH keys AS (
    SELECT symbol, date, count(*) AS n FROM candles_daily
    WHERE symbol IN ({ph}) GROUP BY symbol, date
), labelled AS (
    SELECT symbol, date, n, CASE
        WHEN date IS NULL THEN 'NULL date'
        WHEN n > 1 THEN strftime(date, '%Y-%m-%d') || ' x' || n
        WHEN dayofweek(date) IN (0, 6) THEN strftime(date, '%Y-%m-%d') || ' (weekend)'
        WHEN date > ? THEN strftime(date, '%Y-%m-%d') || ' (future)'
    END AS problem
    FROM keys
)
SELECT symbol, sum(n)::BIGINT, count(problem),
       list_slice(list(problem ORDER BY date) FILTER (WHERE problem IS NOT NULL), 1, 10)
FROM labelled GROUP BY symbol
"""

_MONOTONIC_SQL = """
WITH ordered AS (
    SELECT symbol, date,
           lag(date) OVER (PARTITION BY symbol ORDER BY date, rowid) AS previous
    FROM candles_daily WHERE symbol IN ({ph})
), flagged AS (
    SELECT symbol, date, previous,
           date IS NULL OR (previous IS NOT NULL AND date <= previous) AS bad FROM ordered
)
SELECT symbol, count(*), count(*) FILTER (WHERE bad),
       list_slice(list(strftime(date, '%Y-%m-%d') || ' after ' || strftime(previous, '%Y-%m-%d')
                       ORDER BY date) FILTER (WHERE bad), 1, 10)
FROM flagged GROUP BY symbol
"""

_NEGATIVE_SQL = """
WITH flagged AS (
    SELECT symbol, date,
           open < 0 OR high < 0 OR low < 0 OR close < 0 OR adj_close < 0 OR high < low AS bad
    FROM candles_daily WHERE symbol IN ({ph})
)
SELECT symbol, count(*), count(*) FILTER (WHERE bad),
       list_slice(list(strftime(date, '%Y-%m-%d') ORDER BY date) FILTER (WHERE bad), 1, 10)
FROM flagged GROUP BY symbol
"""

_GAPS_SQL = """
WITH bounds AS (
    SELECT symbol, date, max(date) OVER w AS newest, min(date) OVER w AS first
    FROM candles_daily WHERE symbol IN ({ph}) AND date IS NOT NULL
    WINDOW w AS (PARTITION BY symbol)
)
SELECT symbol, any_value(newest), any_value(first),
       list(DISTINCT date) FILTER (WHERE date >= newest - INTERVAL {days} DAY)
FROM bounds GROUP BY symbol
"""


def _aggregate(
    connection: duckdb.DuckDBPyConnection, sql: str, symbols: tuple[str, ...], *extra: object
) -> list[SymbolResult]:
    rows = connection.execute(sql.format(ph=placeholders(symbols)), [*symbols, *extra]).fetchall()
    return [
        SymbolResult(symbol, count, bad, tuple(sample or ())) for symbol, count, bad, sample in rows
    ]


def check_unique(connection: duckdb.DuckDBPyConnection, scope: CheckScope) -> list[CheckOutcome]:
    symbols = scope.normalized_symbols
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    results = _aggregate(connection, _UNIQUE_SQL, symbols, tomorrow) if symbols else []
    return outcomes_for_symbols(UNIQUE, symbols, results)


def check_monotonic(connection: duckdb.DuckDBPyConnection, scope: CheckScope) -> list[CheckOutcome]:
    symbols = scope.normalized_symbols
    results = _aggregate(connection, _MONOTONIC_SQL, symbols) if symbols else []
    return outcomes_for_symbols(MONOTONIC, symbols, results)


def check_no_negative(
    connection: duckdb.DuckDBPyConnection, scope: CheckScope
) -> list[CheckOutcome]:
    symbols = scope.normalized_symbols
    results = _aggregate(connection, _NEGATIVE_SQL, symbols) if symbols else []
    return outcomes_for_symbols(NO_NEGATIVE, symbols, results)


def _gap_result(symbol: str, newest: dt.date, first: dt.date, present: list) -> SymbolResult:
    """Sessions in the 30 days before the newest candle (not before the first one) that are absent."""
    start = max(newest - dt.timedelta(days=GAP_WINDOW_DAYS), first)
    expected = calendar.sessions_between(start, newest)
    have = set(present or ())
    missing = [day.isoformat() for day in expected if day not in have]
    return SymbolResult(
        symbol,
        len(expected),
        len(missing),
        tuple(missing),
        extra={"window_start": start.isoformat(), "newest": newest.isoformat()},
    )


def check_gaps(connection: duckdb.DuckDBPyConnection, scope: CheckScope) -> list[CheckOutcome]:
    symbols = scope.normalized_symbols
    results: list[SymbolResult] = []
    if symbols:
        sql = _GAPS_SQL.format(ph=placeholders(symbols), days=GAP_WINDOW_DAYS)
        for symbol, newest, first, present in connection.execute(sql, list(symbols)).fetchall():
            results.append(_gap_result(symbol, newest, first, present))
    return outcomes_for_symbols(GAPS, symbols, results)


SOURCE = "warehouse"
CHECKS = (
    (UNIQUE, check_unique),
    (MONOTONIC, check_monotonic),
    (NO_NEGATIVE, check_no_negative),
    (GAPS, check_gaps),
)
