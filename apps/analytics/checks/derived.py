"""``derived_no_duplicate_keys`` (SPEC §7): one ``derived_daily`` row per (symbol, date)."""

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

NO_DUPLICATES = CheckSpec(
    "derived_no_duplicate_keys", "derived_daily", ERROR, "duplicate or NULL (symbol, date) keys"
)

_SQL = """
WITH keys AS (
    SELECT symbol, date, count(*) AS n FROM derived_daily
    WHERE symbol IN ({ph}) GROUP BY symbol, date
), flagged AS (
    SELECT *, n > 1 OR date IS NULL AS bad FROM keys
)
SELECT symbol, sum(n)::BIGINT, count(*) FILTER (WHERE bad),
       list_slice(list(coalesce(strftime(date, '%Y-%m-%d'), 'NULL') || ' x' || n ORDER BY date)
                  FILTER (WHERE bad), 1, 10)
FROM flagged GROUP BY symbol
"""


def check_no_duplicates(
    connection: duckdb.DuckDBPyConnection, scope: CheckScope
) -> list[CheckOutcome]:
    symbols = scope.normalized_symbols
    results: list[SymbolResult] = []
    if symbols:
        rows = connection.execute(_SQL.format(ph=placeholders(symbols)), list(symbols)).fetchall()
        results = [
            SymbolResult(s, count, bad, tuple(sample or ())) for s, count, bad, sample in rows
        ]
    return outcomes_for_symbols(NO_DUPLICATES, symbols, results)


SOURCE = "warehouse"
CHECKS = ((NO_DUPLICATES, check_no_duplicates),)
