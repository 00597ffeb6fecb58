"""``snapshot_parseable_contract_symbol`` (SPEC §7): OSI symbols of one snapshot agree with their rows.

Parsed in SQL (the same pattern as ``apps.core.osi``: root, ``YYMMDD``, ``C|P``, strike x
1000 in 8 digits, padded form tolerated). A row disagrees when the OSI expiry, type or strike differs
from the row's columns; a vendor Saturday expiry one day after the OSI Friday is tolerated.
"""

from __future__ import annotations

import duckdb

from apps.ledger.checks.base import (
    WARN,
    CheckScope,
    CheckSpec,
    SymbolResult,
    outcomes_for_symbols,
    placeholders,
)
from apps.ledger.services.runs import CheckOutcome

PARSEABLE = CheckSpec(
    "snapshot_parseable_contract_symbol",
    "options_snapshots",
    WARN,
    "contract symbols that do not parse as OSI or disagree with their row",
)

# Doubled braces: the SQL below goes through str.format.
_OSI = r"'^\s*([A-Z0-9.]{{1,6}})\s*(\d{{6}})([CP])(\d{{8}})\s*$'"

_SQL = f"""
WITH rows AS (
    SELECT c.symbol, c.snapshot_date, c.contract_symbol, c.expiry, c.option_type, c.strike,
           regexp_extract(upper(c.contract_symbol), {_OSI}, ['root', 'ymd', 'cp', 'k']) AS osi
    FROM options_chain c
    WHERE c.symbol IN ({{ph}}) AND {{date_filter}} AND {{provider_filter}}
), parsed AS (
    SELECT *, CAST(try_strptime(osi.ymd, '%y%m%d') AS DATE) AS osi_expiry,
           TRY_CAST(osi.k AS BIGINT) / 1000.0 AS osi_strike,
           CASE lower(option_type) WHEN 'call' THEN 'C' WHEN 'c' THEN 'C'
                                   WHEN 'put' THEN 'P' WHEN 'p' THEN 'P' END AS row_cp
    FROM rows
), flagged AS (
    SELECT *, CASE
        WHEN osi.ymd = '' OR osi_expiry IS NULL OR osi_strike IS NULL THEN 'unparseable'
        WHEN expiry IS NULL OR (osi_expiry <> expiry
             AND NOT (dayofweek(expiry) = 6 AND osi_expiry = CAST(expiry - INTERVAL 1 DAY AS DATE)))
             THEN 'expiry ' || coalesce(strftime(expiry, '%Y-%m-%d'), 'NULL')
        WHEN row_cp IS NULL OR row_cp <> osi.cp THEN 'type ' || coalesce(option_type, 'NULL')
        WHEN strike IS NULL OR abs(strike - osi_strike) > 0.0005
             THEN 'strike ' || coalesce(CAST(strike AS VARCHAR), 'NULL')
    END AS problem
    FROM parsed
)
SELECT symbol, count(*), count(problem),
       list_slice(list(coalesce(contract_symbol, 'NULL') || ' (' || problem || ')'
                       ORDER BY contract_symbol) FILTER (WHERE problem IS NOT NULL), 1, 10),
       strftime(max(snapshot_date), '%Y-%m-%d')
FROM flagged GROUP BY symbol
"""

_LATEST = (
    "c.snapshot_date = (SELECT max(l.snapshot_date) FROM options_chain l WHERE l.symbol = c.symbol)"
)


def check_parseable(connection: duckdb.DuckDBPyConnection, scope: CheckScope) -> list[CheckOutcome]:
    """The snapshot of ``scope.market_date`` (each symbol's newest snapshot when it is ``None``)."""
    symbols = scope.normalized_symbols
    results: list[SymbolResult] = []
    if symbols:
        params: list[object] = list(symbols)
        date_filter, provider_filter = _LATEST, "TRUE"
        if scope.market_date is not None:
            date_filter = "c.snapshot_date = ?"
            params.append(scope.market_date)
        if scope.provider:
            provider_filter = "c.provider = ?"
            params.append(scope.provider)
        sql = _SQL.format(
            ph=placeholders(symbols), date_filter=date_filter, provider_filter=provider_filter
        )
        for symbol, count, bad, sample, day in connection.execute(sql, params).fetchall():
            extra = {"snapshot_date": day}
            results.append(SymbolResult(symbol, count, bad, tuple(sample or ()), extra=extra))
    return outcomes_for_symbols(PARSEABLE, symbols, results, empty_reason="no snapshot rows")


SOURCE = "warehouse"
CHECKS = ((PARSEABLE, check_parseable),)
