"""The only code that writes the warehouse.

Every writer receives a frame computed in memory and lands it in one short DuckDB transaction
(register the frame, then one set-based statement), so the writer lock is held for milliseconds per
partition and a failure leaves the partition as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from apps.market.providers.base import BAR_COLUMNS, HISTORY_COLUMNS
from optionshelper import warehouse

CANDLE_VALUE_COLUMNS = HISTORY_COLUMNS[1:]  # everything but the date
CHAIN_VALUE_COLUMNS = (
    "expiry",
    "option_type",
    "strike",
    "bid",
    "ask",
    "last",
    "mark",
    "last_trade_at",
    "volume",
    "open_interest",
    "implied_vol",
    "iv_source",
    "bs_price",
    "bs_delta",
    "bs_gamma",
    "bs_theta_per_day",
    "bs_vega",
)
BAR_VALUE_COLUMNS = BAR_COLUMNS[2:]  # everything but contract_symbol and date


@dataclass
class WriteStats:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def written(self) -> int:
        return self.inserted + self.updated


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _with_columns(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        if column not in out.columns:
            out[column] = None
    return out


def _existing(con: duckdb.DuckDBPyConnection, table: str, keys: tuple[str, ...]) -> int:
    """How many incoming keys already exist (so an upsert can report inserted vs updated)."""
    on = " AND ".join(f"t.{k} = i.{k}" for k in keys)
    return con.execute(f"SELECT count(*) FROM incoming i JOIN {table} t ON {on}").fetchone()[0]


def _upsert(
    table: str, frame: pd.DataFrame, *, keys: tuple[str, ...], select_sql: str
) -> WriteStats:
    """INSERT OR REPLACE the rows of ``frame`` (exposed to SQL as ``incoming``) in one transaction."""
    if frame.empty:
        return WriteStats()
    # No cleanup in a ``finally``: after a failed statement the transaction is aborted and any
    # further statement would replace the real error with "Current transaction is aborted"; the
    # rollback drops the temp view and the connection (closed on exit) drops the registration.
    with warehouse.transaction() as con:
        con.register("incoming_raw", frame)
        con.execute(f"CREATE OR REPLACE TEMP VIEW incoming AS {select_sql}")
        existing = _existing(con, table, keys)
        # Key order makes storage (write) order match the keys: the monotonic checks read it.
        con.execute(
            f"INSERT OR REPLACE INTO {table} BY NAME SELECT * FROM incoming "
            f"ORDER BY {', '.join(keys)}"
        )
        con.execute("DROP VIEW IF EXISTS incoming")
        con.unregister("incoming_raw")
    return WriteStats(inserted=len(frame) - existing, updated=existing)


def candles_write(
    *, symbol: str, frame: pd.DataFrame, provider: str, replace_all: bool = False
) -> WriteStats:
    """Upsert a symbol's candles; ``replace_all`` first deletes its history (split/dividend)."""
    frame = _with_columns(frame, ("date", *CANDLE_VALUE_COLUMNS))
    frame = frame.assign(symbol=symbol, provider=provider, updated_at=_now())
    values = ", ".join(f"CAST({c} AS DOUBLE) AS {c}" for c in CANDLE_VALUE_COLUMNS)
    select_sql = (
        f"SELECT symbol, CAST(date AS DATE) AS date, {values}, provider, "
        "CAST(updated_at AS TIMESTAMPTZ) AS updated_at FROM incoming_raw"
    )
    deleted = 0
    if replace_all:
        with warehouse.transaction() as con:
            deleted = con.execute(
                "SELECT count(*) FROM candles_daily WHERE symbol = ?", [symbol]
            ).fetchone()[0]
            con.execute("DELETE FROM candles_daily WHERE symbol = ?", [symbol])
            stats = _upsert("candles_daily", frame, keys=("symbol", "date"), select_sql=select_sql)
        stats.deleted = deleted
        return stats
    return _upsert("candles_daily", frame, keys=("symbol", "date"), select_sql=select_sql)


def contracts_write(*, frame: pd.DataFrame, provider: str) -> WriteStats:
    frame = frame.assign(provider=provider, updated_at=_now())
    select_sql = (
        "SELECT contract_symbol, underlying, CAST(expiry AS DATE) AS expiry, option_type, "
        "CAST(strike AS DOUBLE) AS strike, CAST(coalesce(multiplier, 100) AS DOUBLE) AS multiplier, "
        "provider, CAST(updated_at AS TIMESTAMPTZ) AS updated_at FROM incoming_raw"
    )
    return _upsert("option_contracts", frame, keys=("contract_symbol",), select_sql=select_sql)


def bars_write(*, frame: pd.DataFrame, provider: str) -> WriteStats:
    frame = _with_columns(frame, ("contract_symbol", "date", *BAR_VALUE_COLUMNS))
    frame = frame.assign(provider=provider, updated_at=_now())
    values = ", ".join(f"CAST({c} AS DOUBLE) AS {c}" for c in BAR_VALUE_COLUMNS)
    select_sql = (
        f"SELECT contract_symbol, CAST(date AS DATE) AS date, provider, {values}, "
        "CAST(updated_at AS TIMESTAMPTZ) AS updated_at FROM incoming_raw"
    )
    return _upsert(
        "option_bars", frame, keys=("contract_symbol", "date", "provider"), select_sql=select_sql
    )


def bars_meta_write(*, frame: pd.DataFrame) -> WriteStats:
    """Upsert per-contract fetch bookkeeping (status, covered range, errors) for resumable bars."""
    select_sql = (
        "SELECT contract_symbol, provider, status, CAST(rows AS BIGINT) AS rows, "
        "CAST(start_date AS DATE) AS start_date, CAST(end_date AS DATE) AS end_date, "
        "CAST(last_success_at AS TIMESTAMPTZ) AS last_success_at, "
        "CAST(last_attempt_at AS TIMESTAMPTZ) AS last_attempt_at, "
        "CAST(last_error AS VARCHAR) AS last_error, "
        "CAST(error_count AS INTEGER) AS error_count FROM incoming_raw"
    )
    return _upsert(
        "option_bars_meta", frame, keys=("contract_symbol", "provider"), select_sql=select_sql
    )


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def snapshot_write(
    *,
    symbol: str,
    snapshot_date: dt.date,
    provider: str,
    spot: float,
    risk_free_rate: float,
    chain: pd.DataFrame,
    quote_quality: dict[str, Any],
    meta: dict[str, Any],
) -> WriteStats:
    """Replace one (symbol, snapshot_date, provider) partition: header and chain, atomically."""
    key = [symbol, snapshot_date, provider]
    frame = _with_columns(chain, ("contract_symbol", *CHAIN_VALUE_COLUMNS))
    frame = frame.assign(symbol=symbol, snapshot_date=snapshot_date, provider=provider)
    values = ", ".join(
        f"CAST({c} AS {_CHAIN_TYPES.get(c, 'DOUBLE')}) AS {c}" for c in CHAIN_VALUE_COLUMNS
    )
    with warehouse.transaction() as con:
        deleted = con.execute(
            "SELECT count(*) FROM options_chain "
            "WHERE symbol = ? AND snapshot_date = ? AND provider = ?",
            key,
        ).fetchone()[0]
        con.execute(
            "DELETE FROM options_chain WHERE symbol = ? AND snapshot_date = ? AND provider = ?", key
        )
        con.register("incoming_chain", frame)
        con.execute(
            "INSERT INTO options_chain SELECT symbol, CAST(snapshot_date AS DATE), provider, "
            f"contract_symbol, {values} FROM incoming_chain ORDER BY contract_symbol"
        )
        con.unregister("incoming_chain")
        con.execute(
            "INSERT OR REPLACE INTO options_snapshot_headers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                *key,
                spot,
                risk_free_rate,
                len(frame),
                _json(quote_quality),
                _json(meta),
                _now(),
            ],
        )
    return WriteStats(
        inserted=max(len(frame) - deleted, 0),
        updated=min(deleted, len(frame)),
        deleted=max(deleted - len(frame), 0),
    )


_CHAIN_TYPES = {
    "expiry": "DATE",
    "option_type": "VARCHAR",
    "last_trade_at": "TIMESTAMPTZ",
    "iv_source": "VARCHAR",
}

DERIVED_COLUMNS = (
    "spot",
    "pc_oi",
    "pc_vol",
    "call_wall",
    "put_wall",
    "max_pain",
    "max_pain_expiry",
    "gamma_peak_strike",
    "atm_iv_near",
    "near_expiry",
    "em_near_pct",
    "skew_near_pp",
    "iv_term_slope",
    "next_expiry",
    "rv_20d",
    "rv_60d",
    "iv_rv_20d",
    "atm_iv_percentile",
    "atm_iv_rank",
)
_DATE_COLUMNS = {"max_pain_expiry", "near_expiry", "next_expiry"}


def derived_write(*, rows: pd.DataFrame, provider: str) -> WriteStats:
    """Upsert derived_daily rows (one per symbol and date)."""
    frame = _with_columns(rows, ("symbol", "date", *DERIVED_COLUMNS))
    frame = frame.assign(provider=provider, updated_at=_now())
    values = ", ".join(
        f"CAST({c} AS {'DATE' if c in _DATE_COLUMNS else 'DOUBLE'}) AS {c}" for c in DERIVED_COLUMNS
    )
    select_sql = (
        f"SELECT symbol, CAST(date AS DATE) AS date, {values}, provider, "
        "CAST(updated_at AS TIMESTAMPTZ) AS updated_at FROM incoming_raw"
    )
    return _upsert("derived_daily", frame, keys=("symbol", "date"), select_sql=select_sql)
