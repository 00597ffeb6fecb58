"""The only code that writes the warehouse.

A job computes every symbol's frame in memory first and comes here with a whole batch of symbols:
each writer lands the batch in one DuckDB transaction on the caller's writer connection (register
one Arrow table per target table, one keyed DELETE of what is replaced, one INSERT in key order), so
the writer lock is held once per batch, not once per symbol, and a failure leaves the batch as it
was. Per-symbol ``WriteStats`` come from one grouped count, not from a query per symbol.

The tables' keys (SPEC §4) are kept here, not by DuckDB indexes (warehouse migration 5): every
writer replaces by key and refuses, whole, a batch that names one key twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from apps.core.derived import DERIVED_DATE_COLUMNS, DERIVED_VALUE_COLUMNS
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


@dataclass(frozen=True)
class SnapshotRows:
    """One (symbol, snapshot_date) partition ready to land: the enriched chain and its header."""

    symbol: str
    snapshot_date: dt.date
    spot: float
    risk_free_rate: float
    chain: pd.DataFrame
    quote_quality: dict[str, Any]
    meta: dict[str, Any]
    # Set when ``chain`` holds many partitions' rows (a set-based batch): these are its rows.
    rows: slice | None = None

    @property
    def size(self) -> int:
        """How many chain rows the partition has."""
        return len(self.chain) if self.rows is None else self.rows.stop - self.rows.start


def _chain_rows(snapshots: list[SnapshotRows]) -> pd.DataFrame:
    """The partitions' chain rows in order, one piece per run of rows that share a frame."""
    pieces: list[list[Any]] = []
    for s in snapshots:
        start, stop = (0, len(s.chain)) if s.rows is None else (s.rows.start, s.rows.stop)
        if pieces and pieces[-1][0] is s.chain and pieces[-1][2] == start:
            pieces[-1][2] = stop
        else:
            pieces.append([s.chain, start, stop])
    frames = [f if (a, b) == (0, len(f)) else f.iloc[a:b] for f, a, b in pieces]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


class DuplicateKeys(warehouse.WarehouseError):
    """A batch named one key of a table twice; nothing of the batch was written."""

    def __init__(self, table: str, key: dict[str, Any]) -> None:
        self.table, self.key = table, key
        named = ", ".join(f"{column}={value}" for column, value in key.items())
        super().__init__(
            f"{table}: the rows to write name the key ({named}) more than once; nothing written"
        )


def _refuse_duplicate_keys(
    con: duckdb.DuckDBPyConnection, relation: str, *, table: str, keys: tuple[str, ...]
) -> None:
    """Raise DuplicateKeys (the caller's transaction then rolls back) if ``relation`` holds two
    rows with the same ``keys``."""
    columns = ", ".join(keys)
    row = con.execute(
        f"SELECT {columns} FROM {relation} GROUP BY {columns} HAVING count(*) > 1 LIMIT 1"
    ).fetchone()
    if row is not None:
        raise DuplicateKeys(table, dict(zip(keys, row, strict=True)))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _with_columns(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        if column not in out.columns:
            out[column] = None
    return out


def _arrow(frame: pd.DataFrame) -> pa.Table | pd.DataFrame:
    """The frame as an Arrow table (DuckDB scans Arrow without touching Python objects).

    A vendor column Arrow cannot type (mixed Python objects) falls back to DuckDB's pandas scan.
    """
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return frame


def _existing(con: duckdb.DuckDBPyConnection, table: str, keys: tuple[str, ...]) -> int:
    """How many incoming keys already exist (so an upsert can report inserted vs updated)."""
    on = " AND ".join(f"t.{k} = i.{k}" for k in keys)
    return con.execute(f"SELECT count(*) FROM incoming i JOIN {table} t ON {on}").fetchone()[0]


def _upsert(
    table: str, frame: pd.DataFrame, *, keys: tuple[str, ...], select_sql: str
) -> WriteStats:
    """Replace by key the rows of ``frame`` (exposed to SQL as ``incoming``) in one transaction.

    Delete-then-insert (no table has a primary key for ``INSERT OR REPLACE``, in either mode); in
    lake mode the table is locked for the write.
    """
    if frame.empty:
        return WriteStats()
    # No cleanup in a ``finally``: after a failed statement the transaction is aborted and any
    # further statement would replace the real error with "Current transaction is aborted"; the
    # rollback drops the temp view and the connection (closed on exit) drops the registration.
    for attempt in warehouse.attempts():
        with attempt, warehouse.transaction(partitions=[(table,)]) as con:
            con.register("incoming_raw", frame)
            con.execute(f"CREATE OR REPLACE TEMP VIEW incoming AS {select_sql}")
            _refuse_duplicate_keys(con, "incoming", table=table, keys=keys)
            existing = _existing(con, table, keys)
            con.execute(
                f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM incoming i WHERE "
                + " AND ".join(f"{table}.{k} = i.{k}" for k in keys)
                + ")"
            )
            # Key order makes storage (write) order match the keys: the monotonic checks read it.
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT * FROM incoming ORDER BY {', '.join(keys)}"
            )
            con.execute("DROP VIEW IF EXISTS incoming")
            con.unregister("incoming_raw")
    return WriteStats(inserted=len(frame) - existing, updated=existing)


def _replace_keys(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    *,
    keys: tuple[str, ...],
    select_sql: str,
    group: str,
    in_place: bool = False,
) -> dict[str, WriteStats]:
    """Land ``frame`` in ``table``: one keyed DELETE of the rows it replaces, one ordered INSERT.

    ``select_sql`` reads ``incoming_raw`` and yields the table's columns plus ``group`` (the
    partition, e.g. the symbol) which is used only to split the counts. ``in_place`` updates the
    stored rows whose content changed instead of deleting them (only what changed is rewritten,
    in place); only for tables where no check reads storage order. Counts: a stored row the frame
    matches is ``updated`` either way.
    """
    if frame.empty:
        return {}
    name = f"incoming_{table}"
    con.register(f"{name}_raw", _arrow(frame))
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {name} AS {select_sql.replace('incoming_raw', f'{name}_raw')}"
    )
    _refuse_duplicate_keys(con, name, table=table, keys=keys)
    on = " AND ".join(f"t.{k} = i.{k}" for k in keys)
    existing = dict(
        con.execute(
            f"SELECT i.{group}, count(*) FROM {name} i JOIN {table} t ON {on} GROUP BY 1"
        ).fetchall()
    )
    columns = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]
    where = " AND ".join(f"{table}.{k} = i.{k}" for k in keys)
    new_rows = ""
    if existing and in_place:
        values = [c for c in columns if c not in keys]
        changed = " OR ".join(
            f"{table}.{c} IS DISTINCT FROM i.{c}" for c in values if c != "updated_at"
        )
        con.execute(
            f"UPDATE {table} SET {', '.join(f'{c} = i.{c}' for c in values)} "
            f"FROM {name} i WHERE {where} AND ({changed})"
        )
        new_rows = f" i WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {where})"
    elif existing:
        con.execute(f"DELETE FROM {table} USING {name} i WHERE {where}")
    con.execute(
        f"INSERT INTO {table} SELECT {', '.join(columns)} FROM {name}{new_rows} "
        f"ORDER BY {', '.join(keys)}"
    )
    sizes = dict(con.execute(f"SELECT {group}, count(*) FROM {name} GROUP BY 1").fetchall())
    # Cleanup only after success: after a failed statement the transaction is aborted and
    # the rollback (and closing the connection) drops the view and the registration.
    con.execute(f"DROP VIEW IF EXISTS {name}")
    con.unregister(f"{name}_raw")
    return {
        key: WriteStats(inserted=size - existing.get(key, 0), updated=existing.get(key, 0))
        for key, size in sizes.items()
    }


def _candle_select() -> str:
    values = ", ".join(f"CAST({c} AS DOUBLE) AS {c}" for c in CANDLE_VALUE_COLUMNS)
    return (
        f"SELECT symbol, CAST(date AS DATE) AS date, {values}, provider, "
        "CAST(updated_at AS TIMESTAMPTZ) AS updated_at FROM incoming_raw"
    )


def candles_write_many(
    *, frames: Mapping[str, pd.DataFrame], provider: str, replace_all: Iterable[str] = ()
) -> dict[str, WriteStats]:
    """Land many symbols' candles in one transaction; ``replace_all`` symbols first lose their
    whole stored history (a split or dividend changed the adjusted past)."""
    now = _now()
    parts = [
        _with_columns(frame, ("date", *CANDLE_VALUE_COLUMNS)).assign(
            symbol=symbol, provider=provider, updated_at=now
        )
        for symbol, frame in frames.items()
        if not frame.empty
    ]
    if not parts:
        return {}
    frame = pd.concat(parts, ignore_index=True)
    replace = sorted(set(replace_all))
    for attempt in warehouse.attempts():
        with attempt, warehouse.transaction(partitions=[("candles_daily",)]) as con:
            deleted: dict[str, int] = {}
            if replace:
                deleted = dict(
                    con.execute(
                        "SELECT symbol, count(*) FROM candles_daily "
                        "WHERE symbol IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1",
                        [replace],
                    ).fetchall()
                )
                con.execute(
                    "DELETE FROM candles_daily WHERE symbol IN (SELECT unnest(?::VARCHAR[]))",
                    [replace],
                )
            stats = _replace_keys(
                con,
                "candles_daily",
                frame,
                keys=("symbol", "date"),
                select_sql=_candle_select(),
                group="symbol",
            )
    for symbol, count in deleted.items():
        stats.setdefault(symbol, WriteStats()).deleted = count
    return stats


def candles_write(
    *, symbol: str, frame: pd.DataFrame, provider: str, replace_all: bool = False
) -> WriteStats:
    """Upsert one symbol's candles; ``replace_all`` first deletes its history (split/dividend)."""
    stats = candles_write_many(
        frames={symbol: frame}, provider=provider, replace_all=[symbol] if replace_all else []
    )
    return stats.get(symbol, WriteStats())


_CONTRACT_SELECT = (
    "SELECT contract_symbol, underlying, CAST(expiry AS DATE) AS expiry, option_type, "
    "CAST(strike AS DOUBLE) AS strike, CAST(coalesce(multiplier, 100) AS DOUBLE) AS multiplier, "
    "provider, CAST(updated_at AS TIMESTAMPTZ) AS updated_at FROM incoming_raw"
)
_BAR_SELECT = (
    "SELECT contract_symbol, CAST(date AS DATE) AS date, provider, "
    + ", ".join(f"CAST({c} AS DOUBLE) AS {c}" for c in BAR_VALUE_COLUMNS)
    + ", CAST(updated_at AS TIMESTAMPTZ) AS updated_at, underlying FROM incoming_raw"
)
_BARS_META_SELECT = (
    "SELECT contract_symbol, provider, status, CAST(rows AS BIGINT) AS rows, "
    "CAST(start_date AS DATE) AS start_date, CAST(end_date AS DATE) AS end_date, "
    "CAST(last_success_at AS TIMESTAMPTZ) AS last_success_at, "
    "CAST(last_attempt_at AS TIMESTAMPTZ) AS last_attempt_at, "
    "CAST(last_error AS VARCHAR) AS last_error, "
    "CAST(error_count AS INTEGER) AS error_count, underlying FROM incoming_raw"
)


@dataclass
class BarsWriteStats:
    contracts: dict[str, WriteStats]
    bars: dict[str, WriteStats]


def bars_batch_write(
    *, contracts: pd.DataFrame, bars: pd.DataFrame, meta: pd.DataFrame, provider: str
) -> BarsWriteStats:
    """Land a batch of underlyings' contracts, bars and fetch bookkeeping in one transaction.

    ``bars`` and ``meta`` carry an ``underlying`` column (used only to split the counts).
    """
    now = _now()
    contracts = contracts.assign(provider=provider, updated_at=now)
    bars = _with_columns(bars, ("contract_symbol", "date", "underlying", *BAR_VALUE_COLUMNS))
    bars = bars.assign(provider=provider, updated_at=now)
    for attempt in warehouse.attempts():
        with (
            attempt,
            warehouse.transaction(
                partitions=[("option_contracts",), ("option_bars",), ("option_bars_meta",)]
            ) as con,
        ):
            contract_stats = _replace_keys(
                con,
                "option_contracts",
                contracts,
                keys=("contract_symbol",),
                select_sql=_CONTRACT_SELECT,
                group="underlying",
                in_place=True,
            )
            bar_stats = _replace_keys(
                con,
                "option_bars",
                bars,
                keys=("contract_symbol", "date", "provider"),
                select_sql=_BAR_SELECT,
                group="underlying",
            )
            _replace_keys(
                con,
                "option_bars_meta",
                meta,
                keys=("contract_symbol", "provider"),
                select_sql=_BARS_META_SELECT,
                group="underlying",
                in_place=True,
            )
    return BarsWriteStats(contract_stats, bar_stats)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def snapshots_write(*, snapshots: list[SnapshotRows], provider: str) -> dict[str, WriteStats]:
    """Replace many (symbol, snapshot_date, provider) partitions, headers and chains, atomically.

    One Arrow table for all the chains and one for the headers; the partitions' old chain rows go
    in one keyed DELETE (only when any exist), the new ones in one INSERT in key order.
    """
    if not snapshots:
        return {}
    now = _now()
    sizes = [s.size for s in snapshots]
    chain = _chain_table(snapshots, sizes=sizes, provider=provider)
    headers = pd.DataFrame(
        {
            "symbol": [s.symbol for s in snapshots],
            "snapshot_date": [s.snapshot_date for s in snapshots],
            "provider": provider,
            "spot": [float(s.spot) for s in snapshots],
            "risk_free_rate": [float(s.risk_free_rate) for s in snapshots],
            "contracts": sizes,
            "quote_quality": [_json(s.quote_quality) for s in snapshots],
            "meta": [_json(s.meta) for s in snapshots],
            "updated_at": now,
        }
    )
    values = ", ".join(
        f"CAST({c} AS {_CHAIN_TYPES.get(c, 'DOUBLE')}) AS {c}" for c in CHAIN_VALUE_COLUMNS
    )
    partitions = [("options_chain", s.symbol, s.snapshot_date, provider) for s in snapshots]
    for attempt in warehouse.attempts():
        with attempt, warehouse.transaction(partitions=partitions) as con:
            deleted = _snapshots_replace(con, _arrow(headers), chain, values)
    stats = {}
    for s in snapshots:
        old, new = deleted.get(s.symbol, 0), s.size
        stats[s.symbol] = WriteStats(
            inserted=max(new - old, 0), updated=min(old, new), deleted=max(old - new, 0)
        )
    return stats


def _chain_table(
    snapshots: list[SnapshotRows], *, sizes: list[int], provider: str
) -> pa.Table | pd.DataFrame:
    """The partitions' chain rows with their key columns, as one Arrow table built column by
    column from the enriched frames (no intermediate frame copies); a frame Arrow cannot type
    (a vendor column of mixed Python objects) goes through pandas instead."""
    rows = _chain_rows(snapshots)
    owner = pa.array(np.repeat(np.arange(len(snapshots), dtype=np.int32), sizes))
    keys = {  # one value per snapshot, repeated by Arrow (no Python object per row)
        "symbol": pa.array([s.symbol for s in snapshots], pa.string()).take(owner),
        "snapshot_date": pa.array([s.snapshot_date for s in snapshots], pa.date32()).take(owner),
        "provider": pa.repeat(pa.scalar(provider, pa.string()), len(rows)),
    }
    try:
        return pa.table(
            {
                name: keys[name]
                if name in keys
                else pa.array(rows[name], from_pandas=True)
                if name in rows.columns
                else pa.nulls(len(rows))
                for name in _CHAIN_FRAME_COLUMNS
            }
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        frame = _with_columns(rows, ("contract_symbol", *CHAIN_VALUE_COLUMNS))
        for name, values in keys.items():
            frame[name] = values.to_numpy(zero_copy_only=False)
        return frame.loc[:, _CHAIN_FRAME_COLUMNS]


def _snapshots_replace(
    con: duckdb.DuckDBPyConnection, headers: Any, chain: Any, values: str
) -> dict[str, int]:
    """Inside the caller's transaction: replace the partitions ``headers`` names (chain rows and
    headers); returns the old chain row count per symbol."""
    con.register("incoming_headers", headers)
    con.register("incoming_chain", chain)
    _refuse_duplicate_keys(
        con,
        "incoming_headers",
        table="options_snapshot_headers",
        keys=("symbol", "snapshot_date", "provider"),
    )
    _refuse_duplicate_keys(
        con,
        "incoming_chain",
        table="options_chain",
        keys=("symbol", "snapshot_date", "provider", "contract_symbol"),
    )
    on = (
        "c.symbol = h.symbol AND c.snapshot_date = CAST(h.snapshot_date AS DATE) "
        "AND c.provider = h.provider"
    )
    deleted = dict(
        con.execute(
            f"SELECT c.symbol, count(*) FROM options_chain c JOIN incoming_headers h "
            f"ON {on} GROUP BY 1"
        ).fetchall()
    )
    if deleted:
        con.execute(
            "DELETE FROM options_chain USING incoming_headers h WHERE "
            + on.replace("c.", "options_chain.")
        )
    con.execute(
        "INSERT INTO options_chain SELECT symbol, CAST(snapshot_date AS DATE), provider, "
        f"contract_symbol, {values} FROM incoming_chain ORDER BY symbol, contract_symbol"
    )
    con.execute(
        "DELETE FROM options_snapshot_headers USING incoming_headers h WHERE "
        + on.replace("c.", "options_snapshot_headers.")
    )
    con.execute(
        "INSERT INTO options_snapshot_headers SELECT symbol, "
        "CAST(snapshot_date AS DATE), provider, spot, risk_free_rate, contracts, "
        "CAST(quote_quality AS JSON), CAST(meta AS JSON), "
        "CAST(updated_at AS TIMESTAMPTZ) FROM incoming_headers"
    )
    # Cleanup only after success: after a failed statement the transaction is aborted and
    # the rollback (and closing the connection) drops the view and the registration.
    con.unregister("incoming_chain")
    con.unregister("incoming_headers")
    return deleted


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
    rows = SnapshotRows(symbol, snapshot_date, spot, risk_free_rate, chain, quote_quality, meta)
    return snapshots_write(snapshots=[rows], provider=provider)[symbol]


_CHAIN_TYPES = {
    "expiry": "DATE",
    "option_type": "VARCHAR",
    "last_trade_at": "TIMESTAMPTZ",
    "iv_source": "VARCHAR",
}
_CHAIN_FRAME_COLUMNS = [
    "symbol",
    "snapshot_date",
    "provider",
    "contract_symbol",
    *CHAIN_VALUE_COLUMNS,
]


def derived_write(
    *, rows: pd.DataFrame, provider: str, computed_at: dt.datetime | None = None
) -> WriteStats:
    """Upsert derived_daily rows (one per symbol and date; columns: apps.core.derived) in one
    transaction. ``updated_at`` is ``computed_at`` (when the inputs were read), else now."""
    frame = _with_columns(rows, ("symbol", "date", *DERIVED_VALUE_COLUMNS))
    frame = frame.assign(provider=provider, updated_at=computed_at or _now())
    values = ", ".join(
        f"CAST({c} AS {'DATE' if c in DERIVED_DATE_COLUMNS else 'DOUBLE'}) AS {c}"
        for c in DERIVED_VALUE_COLUMNS
    )
    select_sql = (
        f"SELECT symbol, CAST(date AS DATE) AS date, {values}, provider, "
        "CAST(updated_at AS TIMESTAMPTZ) AS updated_at FROM incoming_raw"
    )
    return _upsert("derived_daily", frame, keys=("symbol", "date"), select_sql=select_sql)
