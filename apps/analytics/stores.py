"""Writes of analytics results to the metadata DB: flow partitions and the dashboard view model.

Flow partitions land in bulk: one transaction per call, the partitions being replaced deleted by
id (rows, then partition metadata), the partitions in one bulk insert, and the rows with
PostgreSQL ``COPY`` (psycopg 3) or one ``executemany`` of plain values on SQLite (many rows per
statement). A concurrent reader sees the old or the new partition, never half of one.
"""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from django.db import connection, transaction
from django.utils import timezone

from apps.analytics.models import DashboardView, OptionsFlow, OptionsFlowPartition
from apps.core.flow import ROW_COLUMNS, FlowResult

KEY_FIELDS = ("symbol", "from_date", "to_date", "window", "group_by")
ROW_TABLE_COLUMNS = ("partition_id", *KEY_FIELDS, *ROW_COLUMNS)
_COPY_CHUNK = 8 << 20
_VALUES_BATCH = 20_000
_ROWS_PER_STATEMENT = 1_000


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _partition_keys(partitions: list[FlowResult]) -> list[tuple]:
    adapt = connection.ops.adapt_datefield_value
    return [(p.symbol, adapt(p.from_date), adapt(p.to_date)) for p in partitions]


def _delete_partitions(partitions: list[FlowResult], *, window: int, group_by: str) -> None:
    """Exactly the (symbol, from, to, window, group_by) partitions: their ids from the partition
    table, then their rows by partition id (indexed) and the partitions themselves."""
    keys = _partition_keys(partitions)
    values = ", ".join(["(%s, %s, %s)"] * len(keys))
    params = [window, group_by, *(v for key in keys for v in key)]
    cols = f"({_q('symbol')}, {_q('from_date')}, {_q('to_date')})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_q('id')} FROM {_q(OptionsFlowPartition._meta.db_table)} "
            f"WHERE {_q('window')} = %s AND {_q('group_by')} = %s AND {cols} IN (VALUES {values})",
            params,
        )
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return
        marks = ", ".join(["%s"] * len(ids))
        cursor.execute(
            f"DELETE FROM {_q(OptionsFlow._meta.db_table)} WHERE {_q('partition_id')} IN ({marks})",
            ids,
        )
        cursor.execute(
            f"DELETE FROM {_q(OptionsFlowPartition._meta.db_table)} WHERE {_q('id')} IN ({marks})",
            ids,
        )


def _net(rows: pa.Table, column: str) -> dict[str, float]:
    """Per symbol: the sum of a column ignoring missing values (0.0 for none)."""
    if rows.num_rows == 0:
        return {}
    sums = rows.group_by("symbol").aggregate([(column, "sum")])
    return {
        s: float(v or 0.0)
        for s, v in zip(sums["symbol"].to_pylist(), sums[f"{column}_sum"].to_pylist(), strict=True)
    }


def _row_table(
    rows: pa.Table, ids: dict[str, int], by_symbol: dict[str, FlowResult], key
) -> pa.Table:
    """The rows with the metadata-table columns in ROW_TABLE_COLUMNS order (vectorised)."""
    symbols = list(ids)
    index = pc.index_in(rows["symbol"], value_set=pa.array(symbols, pa.string()))
    take = lambda values, typ: pc.take(pa.array(values, typ), index)  # noqa: E731
    n = rows.num_rows
    text = {c: pc.fill_null(rows[c], "") for c in ("contract_symbol", "option_type")}
    return pa.table(
        {
            "partition_id": take([ids[s] for s in symbols], pa.int64()),
            "symbol": rows["symbol"],
            "from_date": take([by_symbol[s].from_date for s in symbols], pa.date32()),
            "to_date": take([by_symbol[s].to_date for s in symbols], pa.date32()),
            "window": pa.array([key[0]] * n, pa.int64()) if n else pa.array([], pa.int64()),
            "group_by": pa.array([key[1]] * n, pa.string()) if n else pa.array([], pa.string()),
            **{c: text.get(c, rows[c]) for c in ROW_COLUMNS},
        }
    )


def flow_partitions_replace(
    *,
    partitions: list[FlowResult],
    rows: pa.Table,
    window: int,
    group_by: str,
    run_id: str | None,
) -> dict[str, int]:
    """Replace the given flow partitions (metadata and rows) in one transaction.

    ``rows`` holds the rows of exactly these partitions (``symbol`` column plus ROW_COLUMNS).
    Returns the rows written per symbol.
    """
    if not partitions:
        return {}
    by_symbol = {p.symbol: p for p in partitions}
    counts = dict.fromkeys(by_symbol, 0)
    if rows.num_rows:
        tally = rows.group_by("symbol").aggregate([("symbol", "count")])
        counts.update(
            zip(tally["symbol"].to_pylist(), tally["symbol_count"].to_pylist(), strict=True)
        )
    net_oi, net_volume = _net(rows, "delta_oi_notional"), _net(rows, "volume_notional")
    now = timezone.now()
    objects = [
        OptionsFlowPartition(
            symbol=p.symbol,
            from_date=p.from_date,
            to_date=p.to_date,
            window=window,
            group_by=group_by,
            snapshot_dates=[d.isoformat() for d in p.snapshot_dates],
            gap_sessions=[d.isoformat() for d in p.gap_sessions],
            rows=counts[p.symbol],
            net_delta_oi_notional=net_oi.get(p.symbol, 0.0),
            net_volume_notional=net_volume.get(p.symbol, 0.0),
            provider=p.provider,
            inputs_updated_at=p.inputs_updated_at,
            run_id=run_id,
            computed_at=now,
        )
        for p in partitions
    ]
    with transaction.atomic():
        _delete_partitions(partitions, window=window, group_by=group_by)
        created = OptionsFlowPartition.objects.bulk_create(objects)
        ids = {obj.symbol: obj.pk for obj in created}
        if None in ids.values():  # a backend that cannot return ids from a bulk insert
            ids = dict(
                OptionsFlowPartition.objects.filter(
                    symbol__in=list(by_symbol), window=window, group_by=group_by, computed_at=now
                ).values_list("symbol", "pk")
            )
        if rows.num_rows:
            flow_rows_load(_row_table(rows, ids, by_symbol, (window, group_by)))
    return counts


def flow_rows_load(table: pa.Table) -> None:
    """Bulk-load rows (ROW_TABLE_COLUMNS) into the flow rows table inside the caller's transaction:
    ``COPY`` on PostgreSQL, one ``executemany`` of plain values elsewhere."""
    name = _q(OptionsFlow._meta.db_table)
    columns = ", ".join(_q(c) for c in ROW_TABLE_COLUMNS)
    table = table.select(list(ROW_TABLE_COLUMNS))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.BytesIO()
            pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
            data = buffer.getbuffer()
            with cursor.cursor.copy(f"COPY {name} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                for start in range(0, len(data), _COPY_CHUNK):
                    copy.write(data[start : start + _COPY_CHUNK])
            return
        for column in ("from_date", "to_date", "expiry"):
            i = table.schema.get_field_index(column)
            table = table.set_column(i, column, pc.cast(table[column], pa.string()))
        _values_load(cursor, f"INSERT INTO {name} ({columns}) VALUES ", table)


def _rows_per_statement(width: int) -> int:
    """Rows per INSERT on SQLite: up to _ROWS_PER_STATEMENT, within the library's variable limit."""
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return max(1, min(_ROWS_PER_STATEMENT, limit // width))


def _values_load(cursor, insert: str, table: pa.Table) -> None:
    """The rows as plain Python values, many rows per INSERT statement (a third less time than one
    row per statement on SQLite: bench/bench_flow_sqlite_insert.py), converted _VALUES_BATCH rows
    at a time (memory); the rows that do not fill a statement go in one row each at the end."""
    width = table.num_columns
    per = _rows_per_statement(width)
    one_row = "(" + ", ".join(["%s"] * width) + ")"
    rest: list[tuple] = []

    def full_statements() -> Iterator[list[Any]]:
        for batch in table.to_batches(max_chunksize=per * max(1, _VALUES_BATCH // per)):
            columns = [column.to_pylist() for column in batch.columns]
            whole = batch.num_rows - batch.num_rows % per
            for start in range(0, whole, per):
                values: list[Any] = [None] * (per * width)
                for j, column in enumerate(columns):  # row-major: column j every width-th place
                    values[j::width] = column[start : start + per]
                yield values
            rest.extend(zip(*(column[whole:] for column in columns), strict=True))

    cursor.executemany(insert + ", ".join([one_row] * per), full_statements())
    if rest:
        cursor.executemany(insert + one_row, rest)


def flow_partitions_prune(*, older_than: dt.date) -> dict[str, int]:
    """Delete persisted flow partitions (and their rows) whose ``to_date`` is before ``older_than``.

    Flow is recomputable from the warehouse, so this only bounds the metadata DB.
    """
    with transaction.atomic():
        rows, _ = OptionsFlow.objects.filter(partition__to_date__lt=older_than).delete()
        partitions, _ = OptionsFlowPartition.objects.filter(to_date__lt=older_than).delete()
    return {"flow_partitions_deleted": partitions, "flow_rows_deleted": rows}


def dashboard_view_save(
    *, market_date: dt.date, payload: dict[str, Any], run_id: str | None
) -> DashboardView:
    view, _ = DashboardView.objects.update_or_create(
        market_date=market_date,
        defaults={"payload": payload, "built_at": timezone.now(), "run_id": run_id},
    )
    return view
