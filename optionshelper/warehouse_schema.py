"""Versioned, idempotent migrations of the DuckDB warehouse (SPEC §4).

Each migration is a version number and a list of statements. ``migrate`` applies the missing ones in
order, each in its own transaction together with its ``schema_migrations`` row, so a crash leaves the
warehouse at a well-defined version. Statements are written to be safe to repeat.

The same migrations build a DuckLake warehouse (lake mode). DuckLake has no indexes, PRIMARY KEY or
CHECK constraints, so :func:`lake_statement` drops those clauses (creating or dropping an index is
a no-op); the keys stay enforced by the stores, which replace by key (delete, then insert) in one
transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb

from optionshelper import warehouse


def _skip_parenthesised(sql: str, start: int) -> int:
    """Index just past the balanced ``( … )`` that starts at ``start`` (quotes respected)."""
    depth, quoted = 0, False
    for index in range(start, len(sql)):
        char = sql[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
    raise ValueError(f"unbalanced parentheses in migration statement: {sql[:60]}")


def _without_constraints(sql: str, kinds: tuple[str, ...]) -> str:
    """``sql`` (a CREATE TABLE) without its ``kinds`` of constraint (``PRIMARY KEY``, ``CHECK``);
    a column that was an inline primary key stays NOT NULL."""
    pattern = re.compile(r",?\s*\b(" + "|".join(kinds) + r")\s*", re.IGNORECASE)
    out, position = [], 0
    for match in pattern.finditer(sql):
        if match.start() < position:
            continue
        after = match.end()
        out.append(sql[position : match.start()])
        if sql.startswith("(", after):  # a table constraint or CHECK (…): drop the list too
            position = _skip_parenthesised(sql, after)
        else:  # an inline column PRIMARY KEY: the column stays NOT NULL, the key goes
            position = after
            out.append(" NOT NULL ")
    out.append(sql[position:])
    return "".join(out)


def _rebuilt_without_primary_key(create: str) -> tuple[str, ...]:
    """Statements that rebuild the table ``create`` makes without its PRIMARY KEY (DuckDB cannot
    drop a constraint): same columns, NOT NULLs and CHECKs, rows copied in their stored order."""
    table = re.match(r"\s*CREATE TABLE IF NOT EXISTS (\w+) \(", create).group(1)
    rebuilt = f"{table}__rebuilt"
    definition = _without_constraints(create, ("PRIMARY KEY",)).replace(
        f"CREATE TABLE IF NOT EXISTS {table} (", f"CREATE TABLE {rebuilt} (", 1
    )
    return (
        definition,
        f"INSERT INTO {rebuilt} BY NAME SELECT * FROM {table}",
        f"DROP TABLE {table}",
        f"ALTER TABLE {rebuilt} RENAME TO {table}",
    )


@dataclass(frozen=True)
class WarehouseMigration:
    version: int
    description: str
    statements: tuple[str, ...]
    skip_in_lake: bool = False  # e.g. rebuilding a table to drop a key a lake never had


# The tables exactly as migrations 1 and 2 created them; migration 5 rebuilds them from these too.
# Never edit them: a change to a table is a new migration.
_MARKET_TABLES = (
    """CREATE TABLE IF NOT EXISTS candles_daily (
        symbol VARCHAR NOT NULL, date DATE NOT NULL,
        open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, adj_close DOUBLE,
        volume DOUBLE, dividends DOUBLE, splits DOUBLE, vwap DOUBLE, trade_count DOUBLE,
        provider VARCHAR NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (symbol, date))""",
    """CREATE TABLE IF NOT EXISTS option_contracts (
        contract_symbol VARCHAR PRIMARY KEY, underlying VARCHAR NOT NULL,
        expiry DATE NOT NULL, option_type VARCHAR NOT NULL, strike DOUBLE NOT NULL,
        multiplier DOUBLE NOT NULL DEFAULT 100, provider VARCHAR NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS option_bars (
        contract_symbol VARCHAR NOT NULL, date DATE NOT NULL, provider VARCHAR NOT NULL,
        open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, vwap DOUBLE,
        trade_count DOUBLE, updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (contract_symbol, date, provider))""",
    """CREATE TABLE IF NOT EXISTS option_bars_meta (
        contract_symbol VARCHAR NOT NULL, provider VARCHAR NOT NULL,
        status VARCHAR NOT NULL
            CHECK (status IN ('ok', 'error', 'forbidden', 'not_found')),
        rows BIGINT NOT NULL DEFAULT 0, start_date DATE, end_date DATE,
        last_success_at TIMESTAMPTZ, last_attempt_at TIMESTAMPTZ, last_error VARCHAR,
        error_count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (contract_symbol, provider))""",
    """CREATE TABLE IF NOT EXISTS options_snapshot_headers (
        symbol VARCHAR NOT NULL, snapshot_date DATE NOT NULL, provider VARCHAR NOT NULL,
        spot DOUBLE, risk_free_rate DOUBLE, contracts BIGINT,
        quote_quality JSON, meta JSON, updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (symbol, snapshot_date, provider))""",
    """CREATE TABLE IF NOT EXISTS options_chain (
        symbol VARCHAR NOT NULL, snapshot_date DATE NOT NULL, provider VARCHAR NOT NULL,
        contract_symbol VARCHAR NOT NULL, expiry DATE NOT NULL,
        option_type VARCHAR NOT NULL, strike DOUBLE NOT NULL,
        bid DOUBLE, ask DOUBLE, last DOUBLE, mark DOUBLE, last_trade_at TIMESTAMPTZ,
        volume DOUBLE, open_interest DOUBLE, implied_vol DOUBLE,
        iv_source VARCHAR CHECK (iv_source IN ('provider', 'solved', 'missing')),
        bs_price DOUBLE, bs_delta DOUBLE, bs_gamma DOUBLE, bs_theta_per_day DOUBLE,
        bs_vega DOUBLE,
        PRIMARY KEY (symbol, snapshot_date, provider, contract_symbol))""",
)
_DERIVED_TABLES = (
    """CREATE TABLE IF NOT EXISTS derived_daily (
        symbol VARCHAR NOT NULL, date DATE NOT NULL,
        spot DOUBLE, pc_oi DOUBLE, pc_vol DOUBLE, call_wall DOUBLE, put_wall DOUBLE,
        max_pain DOUBLE, max_pain_expiry DATE, gamma_peak_strike DOUBLE,
        atm_iv_near DOUBLE, near_expiry DATE, em_near_pct DOUBLE, skew_near_pp DOUBLE,
        iv_term_slope DOUBLE, next_expiry DATE, rv_20d DOUBLE, rv_60d DOUBLE,
        iv_rv_20d DOUBLE, atm_iv_percentile DOUBLE, atm_iv_rank DOUBLE,
        provider VARCHAR, updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (symbol, date))""",
)

MIGRATIONS: tuple[WarehouseMigration, ...] = (
    WarehouseMigration(
        1,
        "market data: candles, option contracts, option bars, chain snapshots",
        _MARKET_TABLES,
    ),
    WarehouseMigration(
        2,
        "derived daily metrics",
        _DERIVED_TABLES,
    ),
    WarehouseMigration(
        3,
        "indexes for per-date reads (health grid, explorer, flow pairing)",
        (
            "CREATE INDEX IF NOT EXISTS chain_by_contract ON options_chain (contract_symbol)",
            "CREATE INDEX IF NOT EXISTS bars_by_date ON option_bars (date)",
            "CREATE INDEX IF NOT EXISTS contracts_by_underlying ON option_contracts (underlying)",
        ),
    ),
    WarehouseMigration(
        4,
        "drop the per-date bars and per-contract chain indexes: the planner never chose them "
        "(every date matches thousands of bars, no read looks a contract up) and keeping them "
        "up to date tripled the cost of each write's commit and checkpoint",
        (
            "DROP INDEX IF EXISTS bars_by_date",
            "DROP INDEX IF EXISTS chain_by_contract",
        ),
    ),
    WarehouseMigration(
        5,
        "keys kept by the stores, not by DuckDB indexes: a checkpoint rewrote each table's whole "
        "key index after every write, so a write cost more the more the table held; the stores "
        "replace by key and refuse a batch that names a key twice (as in a lake)",
        (
            "DROP INDEX IF EXISTS contracts_by_underlying",
            *(
                statement
                for create in (*_MARKET_TABLES, *_DERIVED_TABLES)
                for statement in _rebuilt_without_primary_key(create)
            ),
        ),
        skip_in_lake=True,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version

_SCHEMA_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL, description VARCHAR)"""
_LAKE_SCHEMA_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL, description VARCHAR)"""


def lake_statement(sql: str) -> str | None:
    """The DuckLake form of one migration statement (``None``: nothing to do in a lake)."""
    if re.match(r"\s*(CREATE\s+(UNIQUE\s+)?|DROP\s+)INDEX", sql, re.IGNORECASE):
        return None
    return _without_constraints(sql, ("PRIMARY KEY", "CHECK"))


def _statements(migration: WarehouseMigration) -> list[str]:
    if warehouse.mode() != "lake":
        return list(migration.statements)
    if migration.skip_in_lake:
        return []
    return [s for s in map(lake_statement, migration.statements) if s is not None]


def _applied_versions(connection: duckdb.DuckDBPyConnection) -> set[int]:
    exists = connection.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = 'schema_migrations' AND table_catalog = current_database()"
    ).fetchone()[0]
    if not exists:
        return set()
    return {
        row[0] for row in connection.execute("SELECT version FROM schema_migrations").fetchall()
    }


def schema_version() -> int | None:
    """The newest applied version, ``None`` without a warehouse file or without migrations.

    Read-only: never creates the warehouse.
    """
    if not warehouse.exists():
        return None
    with warehouse.read() as connection:
        versions = _applied_versions(connection)
    return max(versions) if versions else None


def migrate(*, target: int | None = None) -> list[int]:
    """Apply every missing migration up to ``target`` (default: all); return the versions applied."""
    applied_now: list[int] = []
    with warehouse.write(create=True) as connection:
        connection.execute(_SCHEMA_TABLE if warehouse.mode() != "lake" else _LAKE_SCHEMA_TABLE)
        done = _applied_versions(connection)
        for migration in MIGRATIONS:
            if migration.version in done or (target is not None and migration.version > target):
                continue
            connection.execute("BEGIN TRANSACTION")
            try:
                for statement in _statements(migration):
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [migration.version, dt.datetime.now(dt.UTC), migration.description],
                )
            except Exception:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            applied_now.append(migration.version)
    return applied_now


def applied_migrations() -> list[tuple[int, dt.datetime, str]]:
    """(version, applied_at, description) rows, oldest first; empty without a warehouse."""
    if not warehouse.exists():
        return []
    with warehouse.read() as connection:
        if not _applied_versions(connection):
            return []
        return connection.execute(
            "SELECT version, applied_at, description FROM schema_migrations ORDER BY version"
        ).fetchall()
