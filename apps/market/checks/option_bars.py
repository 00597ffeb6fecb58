"""Checks of ``option_bars`` (SPEC §7), grouped by underlying symbol.

A bar's underlying comes from ``option_contracts`` (the root of an OSI symbol is not always the
underlying, e.g. SPXW); bars whose contract is unknown fall back to the OSI root. ``scope.provider``,
when given, limits the check to that provider's bars (provider is part of the bar's key).
"Not increasing" has the same write-order meaning as for candles: within one write batch of a contract
(rows sharing ``updated_at``), bars in storage order must have strictly increasing dates.
"""

from __future__ import annotations

import duckdb

from apps.ledger.checks.base import (
    ERROR,
    CheckScope,
    CheckSpec,
    SymbolResult,
    outcomes_for_symbols,
    placeholders,
)
from apps.ledger.services.run_types import CheckOutcome

MONOTONIC = CheckSpec(
    "option_bars_monotonic_ts", "option_bars", ERROR, "bars not strictly increasing in date"
)
NO_NEGATIVE = CheckSpec("option_bars_no_negative_prices", "option_bars", ERROR, "negative prices")
DUPLICATE_PK = CheckSpec(
    "option_bars_duplicate_pk", "option_bars", ERROR, "duplicate (contract, date, provider) keys"
)

# Doubled braces: the SQL below goes through str.format.
_ROOT = r"regexp_extract(upper(b.contract_symbol), '^\s*([A-Z0-9.]{{1,6}})\s*\d{{6}}[CP]\d{{8}}\s*$', 1)"

# The scope's bars (``{bars}``: every stored bar or what the job wrote, see below): those of its
# symbols' known contracts, then those whose contract is unknown and whose OSI root names a scope
# symbol (the root is parsed only for those few).
_BARS_CTE = f"""
WITH scoped AS (
    SELECT c.underlying AS symbol, b.contract_symbol, b.date, b.provider,
           b.open, b.high, b.low, b.close, b.vwap, b.updated_at, b.rid
    FROM {{bars}} b JOIN option_contracts c ON c.contract_symbol = b.contract_symbol
    WHERE {{provider_filter}} AND c.underlying IN ({{ph}})
    UNION ALL
    SELECT * FROM (
        SELECT {_ROOT} AS symbol, b.contract_symbol, b.date, b.provider,
               b.open, b.high, b.low, b.close, b.vwap, b.updated_at, b.rid
        FROM {{bars}} b ANTI JOIN option_contracts c ON c.contract_symbol = b.contract_symbol
        WHERE {{provider_filter}}
    ) WHERE symbol IN ({{ph}})
)
"""
_ALL_BARS = "(SELECT *, rowid AS rid FROM option_bars)"
# What a job wrote (rows stored since it started; older rows were checked when they were written).
_WRITTEN = "(SELECT *, rowid AS rid FROM option_bars WHERE updated_at >= ?)"
# ... and every stored row with the key of one of them: a clash is a fault of both.
_WRITTEN_AND_CLASHES = (
    "(SELECT *, rowid AS rid FROM option_bars WHERE updated_at >= ? AND date IS NULL "
    "UNION ALL SELECT o.*, o.rowid AS rid FROM option_bars o SEMI JOIN "
    "(SELECT contract_symbol, provider, date FROM option_bars WHERE updated_at >= ?) w "
    "USING (contract_symbol, provider, date))"
)

_KEY = "contract_symbol || '|' || coalesce(strftime(date, '%Y-%m-%d'), 'NULL')"

_DUPLICATE_SQL = f"""
, keys AS (
    SELECT symbol, contract_symbol, date, provider, count(*) AS n
    FROM scoped GROUP BY ALL
)
SELECT symbol, sum(n)::BIGINT, count(*) FILTER (WHERE n > 1),
       list_slice(list({_KEY} || '|' || provider ORDER BY contract_symbol, date)
                  FILTER (WHERE n > 1), 1, 10)
FROM keys GROUP BY symbol
"""

_MONOTONIC_SQL = f"""
, ordered AS (
    SELECT symbol, contract_symbol, date,
           lag(date) OVER (PARTITION BY contract_symbol, provider ORDER BY date, rid) AS previous
    FROM scoped
), flagged AS (
    SELECT *, date IS NULL OR (previous IS NOT NULL AND date <= previous) AS bad FROM ordered
)
SELECT symbol, count(*), count(*) FILTER (WHERE bad),
       list_slice(list({_KEY} || ' after ' || strftime(previous, '%Y-%m-%d')
                       ORDER BY contract_symbol, date) FILTER (WHERE bad), 1, 10)
FROM flagged GROUP BY symbol
"""

_NEGATIVE_SQL = f"""
, flagged AS (
    SELECT *, open < 0 OR high < 0 OR low < 0 OR close < 0 OR vwap < 0 AS bad FROM scoped
)
SELECT symbol, count(*), count(*) FILTER (WHERE bad),
       list_slice(list({_KEY} ORDER BY contract_symbol, date) FILTER (WHERE bad), 1, 10)
FROM flagged GROUP BY symbol
"""


def _aggregate(
    connection: duckdb.DuckDBPyConnection, tail_sql: str, scope: CheckScope, written: str
) -> list[SymbolResult]:
    symbols = scope.normalized_symbols
    params: list[object] = []
    provider_filter = "TRUE"
    if scope.provider:
        provider_filter, params = "b.provider = ?", [scope.provider]
    bars, since = written, [scope.written_since] * written.count("?")
    if scope.written_since is None:
        bars, since = _ALL_BARS, []
    sql = _BARS_CTE.format(bars=bars, provider_filter=provider_filter, ph=placeholders(symbols))
    branch = [*since, *params, *symbols]
    rows = connection.execute(sql + tail_sql, [*branch, *branch]).fetchall()
    return [
        SymbolResult(symbol, count, bad, tuple(sample or ())) for symbol, count, bad, sample in rows
    ]


def _run(spec: CheckSpec, tail_sql: str, written: str):
    def check(connection: duckdb.DuckDBPyConnection, scope: CheckScope) -> list[CheckOutcome]:
        symbols = scope.normalized_symbols
        results = _aggregate(connection, tail_sql, scope, written) if symbols else []
        return outcomes_for_symbols(spec, symbols, results)

    check.__name__ = f"check_{spec.name}"
    check.__doc__ = f"Run ``{spec.name}`` over the scope symbols' bars in one query."
    return check


SOURCE = "warehouse"
CHECKS = (
    (MONOTONIC, _run(MONOTONIC, _MONOTONIC_SQL, _WRITTEN_AND_CLASHES)),
    (NO_NEGATIVE, _run(NO_NEGATIVE, _NEGATIVE_SQL, _WRITTEN)),
    (DUPLICATE_PK, _run(DUPLICATE_PK, _DUPLICATE_SQL, _WRITTEN_AND_CLASHES)),
)
