"""Checks of ``options_snapshots`` (SPEC §7), one aggregate query per check over all scope symbols.

``snapshot_spot_sane`` (error): the header spot is a finite positive price within
``SPOT_TOLERANCE`` of that day's candle close (when a candle exists).
``snapshot_iv_range`` (error): every stored implied vol is finite and in (0, ``IV_MAX``].
``snapshot_quote_sanity`` (error): no bid > ask, no negative price/volume/OI, strikes finite
positive, no expiry before the snapshot date.
``snapshot_dropped_rows`` (warn): the share of vendor rows validation dropped (header
``meta.dropped_rows`` / ``meta.rows_received``) stays at or below ``MAX_DROPPED_SHARE``.

``snapshot_parseable_contract_symbol`` (warn): OSI symbols of one snapshot agree with their rows.

Parsed in SQL (the same pattern as ``apps.core.osi``: root, ``YYMMDD``, ``C|P``, strike x
1000 in 8 digits, padded form tolerated). A row disagrees when the OSI expiry, type or strike differs
from the row's columns; a vendor Saturday expiry one day after the OSI Friday is tolerated.
"""

from __future__ import annotations

import duckdb

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


def _run(
    connection: duckdb.DuckDBPyConnection,
    scope: CheckScope,
    spec: CheckSpec,
    sql: str,
    *,
    table: str = "c",
) -> list[CheckOutcome]:
    """Run one per-symbol aggregate over the scope's snapshots (newest per symbol by default)."""
    symbols = scope.normalized_symbols
    results: list[SymbolResult] = []
    if symbols:
        params: list[object] = list(symbols)
        latest = _LATEST if table == "c" else _LATEST_HEADER
        date_filter, provider_filter = latest, "TRUE"
        if scope.market_date is not None:
            date_filter = f"{table}.snapshot_date = ?"
            params.append(scope.market_date)
        if scope.provider:
            provider_filter = f"{table}.provider = ?"
            params.append(scope.provider)
        query = sql.format(
            ph=placeholders(symbols), date_filter=date_filter, provider_filter=provider_filter
        )
        for symbol, count, bad, sample, day in connection.execute(query, params).fetchall():
            extra = {"snapshot_date": day}
            results.append(SymbolResult(symbol, count, bad, tuple(sample or ()), extra=extra))
    return outcomes_for_symbols(spec, symbols, results, empty_reason="no snapshot rows")


def check_parseable(connection: duckdb.DuckDBPyConnection, scope: CheckScope) -> list[CheckOutcome]:
    """The snapshot of ``scope.market_date`` (each symbol's newest snapshot when it is ``None``)."""
    return _run(connection, scope, PARSEABLE, _SQL)


SPOT_TOLERANCE = 0.25
IV_MAX = 5.0
MAX_DROPPED_SHARE = 0.05

SPOT_SANE = CheckSpec(
    "snapshot_spot_sane",
    "options_snapshots",
    ERROR,
    "snapshot spots not finite positive or far from the candle close",
)
IV_RANGE = CheckSpec(
    "snapshot_iv_range", "options_snapshots", ERROR, "implied vols outside (0, 5]"
)
QUOTE_SANITY = CheckSpec(
    "snapshot_quote_sanity",
    "options_snapshots",
    ERROR,
    "impossible quotes (bid > ask, negative values, bad strike or past expiry)",
)
DROPPED_ROWS = CheckSpec(
    "snapshot_dropped_rows",
    "options_snapshots",
    WARN,
    "vendor rows dropped by validation (more than 5% of the snapshot)",
)

_LATEST_HEADER = (
    "h.snapshot_date = (SELECT max(l.snapshot_date) FROM options_snapshot_headers l "
    "WHERE l.symbol = h.symbol)"
)

_SPOT_SQL = f"""
WITH rows AS (
    SELECT h.symbol, h.snapshot_date, h.spot, k.close,
        CASE
            WHEN h.spot IS NULL OR isnan(h.spot) OR isinf(h.spot) OR h.spot <= 0
                THEN 'spot ' || coalesce(CAST(h.spot AS VARCHAR), 'NULL')
            WHEN k.close > 0 AND abs(h.spot / k.close - 1) > {SPOT_TOLERANCE}
                THEN 'spot ' || CAST(h.spot AS VARCHAR) || ' vs close ' || CAST(k.close AS VARCHAR)
        END AS problem
    FROM options_snapshot_headers h
    LEFT JOIN candles_daily k ON k.symbol = h.symbol AND k.date = h.snapshot_date
    WHERE h.symbol IN ({{ph}}) AND {{date_filter}} AND {{provider_filter}}
)
SELECT symbol, count(*), count(problem),
       list(strftime(snapshot_date, '%Y-%m-%d') || ' ' || problem)
           FILTER (WHERE problem IS NOT NULL),
       strftime(max(snapshot_date), '%Y-%m-%d')
FROM rows GROUP BY symbol
"""

_ROWS_SQL = """
WITH flagged AS (
    SELECT c.symbol, c.snapshot_date, c.contract_symbol, ({problem}) AS problem
    FROM options_chain c
    WHERE c.symbol IN ({{ph}}) AND {{date_filter}} AND {{provider_filter}}
)
SELECT symbol, count(*), count(problem),
       list_slice(list(contract_symbol || ' (' || problem || ')' ORDER BY contract_symbol)
                  FILTER (WHERE problem IS NOT NULL), 1, 10),
       strftime(max(snapshot_date), '%Y-%m-%d')
FROM flagged GROUP BY symbol
"""

_IV_PROBLEM = f"""CASE WHEN c.implied_vol IS NOT NULL AND (isnan(c.implied_vol)
    OR isinf(c.implied_vol) OR c.implied_vol <= 0 OR c.implied_vol > {IV_MAX})
    THEN 'iv ' || CAST(c.implied_vol AS VARCHAR) END"""

_QUOTE_PROBLEM = """CASE
    WHEN c.strike IS NULL OR isnan(c.strike) OR isinf(c.strike) OR c.strike <= 0
        THEN 'strike ' || coalesce(CAST(c.strike AS VARCHAR), 'NULL')
    WHEN c.bid > c.ask THEN 'bid ' || CAST(c.bid AS VARCHAR) || ' > ask ' || CAST(c.ask AS VARCHAR)
    WHEN c.bid < 0 OR c.ask < 0 OR c.last < 0 THEN 'negative price'
    WHEN c.volume < 0 OR isnan(c.volume) OR isinf(c.volume) THEN 'volume'
    WHEN c.open_interest < 0 OR isinf(c.open_interest) THEN 'open interest'
    WHEN c.expiry < c.snapshot_date THEN 'expired ' || strftime(c.expiry, '%Y-%m-%d')
END"""

_DROPPED_SQL = f"""
WITH rows AS (
    SELECT h.symbol, h.snapshot_date,
        coalesce(TRY_CAST(json_extract(h.meta, '$.rows_received') AS BIGINT), h.contracts, 0)
            AS received,
        coalesce((SELECT sum(TRY_CAST(v AS BIGINT)) FROM (
            SELECT unnest(json_extract(h.meta, '$.dropped_rows.*')) AS v)), 0) AS dropped
    FROM options_snapshot_headers h
    WHERE h.symbol IN ({{ph}}) AND {{date_filter}} AND {{provider_filter}}
)
SELECT symbol, sum(received)::BIGINT,
       sum(CASE WHEN dropped > received * {MAX_DROPPED_SHARE} THEN dropped ELSE 0 END)::BIGINT,
       list(strftime(snapshot_date, '%Y-%m-%d') || ' dropped ' || dropped || ' of ' || received)
           FILTER (WHERE dropped > 0),
       strftime(max(snapshot_date), '%Y-%m-%d')
FROM rows GROUP BY symbol
"""


def check_spot(connection: duckdb.DuckDBPyConnection, scope: CheckScope) -> list[CheckOutcome]:
    return _run(connection, scope, SPOT_SANE, _SPOT_SQL, table="h")


def check_iv_range(connection: duckdb.DuckDBPyConnection, scope: CheckScope) -> list[CheckOutcome]:
    return _run(connection, scope, IV_RANGE, _ROWS_SQL.format(problem=_IV_PROBLEM))


def check_quotes(connection: duckdb.DuckDBPyConnection, scope: CheckScope) -> list[CheckOutcome]:
    return _run(connection, scope, QUOTE_SANITY, _ROWS_SQL.format(problem=_QUOTE_PROBLEM))


def check_dropped(connection: duckdb.DuckDBPyConnection, scope: CheckScope) -> list[CheckOutcome]:
    """Fails when more than MAX_DROPPED_SHARE of a snapshot's vendor rows were dropped."""
    return _run(connection, scope, DROPPED_ROWS, _DROPPED_SQL, table="h")


SOURCE = "warehouse"
CHECKS = (
    (PARSEABLE, check_parseable),
    (SPOT_SANE, check_spot),
    (IV_RANGE, check_iv_range),
    (QUOTE_SANITY, check_quotes),
    (DROPPED_ROWS, check_dropped),
)
