"""Shared helpers for the job-layer tests: warehouse counts/checksums and ledger look-ups."""

from __future__ import annotations

import datetime as dt
import hashlib

from apps.core import calendar
from apps.core.asof import resolve_as_of
from apps.core.jobs import JobParams
from apps.ledger.models import AssetWatermark, IngestionRun, IngestionRunAsset
from apps.pipeline.jobs import JobExecution, execute_job
from optionshelper import warehouse

WAREHOUSE_TABLES = (
    "candles_daily",
    "option_contracts",
    "option_bars",
    "option_bars_meta",
    "options_snapshot_headers",
    "options_chain",
    "derived_daily",
)
# Columns that record *when* a row was written, not what it says.
WRITE_TIME_COLUMNS = {"updated_at", "last_success_at", "last_attempt_at"}

# Natural keys (the primary keys) of the market tables, for duplicate checks.
TABLE_KEYS = {
    "candles_daily": ("symbol", "date"),
    "options_chain": ("symbol", "snapshot_date", "provider", "contract_symbol"),
    "options_snapshot_headers": ("symbol", "snapshot_date", "provider"),
    "option_bars": ("contract_symbol", "date", "provider"),
    "derived_daily": ("symbol", "date"),
}


def past_sessions(n: int, *, end: dt.date = dt.date(2026, 11, 20)) -> list[dt.date]:
    """The last ``n`` NYSE sessions ending at or before ``end`` (fixed past dates)."""
    return calendar.sessions_between(end - dt.timedelta(days=3 * n + 10), end)[-n:]


def row_count(table: str, where: str = "", params: list | None = None) -> int:
    sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
    return warehouse.fetch_all(sql, params or [])[0][0]


def table_checksum(table: str) -> tuple[int, str]:
    """(row count, digest of the content) ignoring write-time columns; order independent."""
    columns = [
        r[0]
        for r in warehouse.fetch_all(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        )
        if r[0] not in WRITE_TIME_COLUMNS
    ]
    cols = ", ".join(columns)
    rows = warehouse.fetch_all(f"SELECT {cols} FROM {table} ORDER BY ALL")
    digest = hashlib.sha256(repr(rows).encode()).hexdigest()
    return len(rows), digest


def warehouse_state() -> dict[str, tuple[int, str]]:
    return {t: table_checksum(t) for t in WAREHOUSE_TABLES}


def duplicate_keys(table: str) -> int:
    """count(*) - count(distinct key): 0 when the table has no duplicate natural keys."""
    key = ", ".join(TABLE_KEYS[table])
    total = row_count(table)
    distinct = warehouse.fetch_all(f"SELECT count(*) FROM (SELECT DISTINCT {key} FROM {table})")[0][
        0
    ]
    return total - distinct


def run_job(job: str, day: dt.date | None, symbols, **options) -> JobExecution:
    params = JobParams(as_of=resolve_as_of(day), symbols=tuple(symbols), options=options)
    return execute_job(job, params)


def runs(job: str, **filters):
    return IngestionRun.objects.filter(job_name=job, **filters)


def asset_events(run: IngestionRun | None = None, **filters):
    qs = IngestionRunAsset.objects.filter(**filters)
    return qs.filter(run=run) if run is not None else qs


def event_status(run_id, asset_key: str) -> dict[str, str]:
    """partition → status of one run's events for one asset."""
    return dict(
        IngestionRunAsset.objects.filter(run_id=run_id, asset_key=asset_key).values_list(
            "partition_key", "status"
        )
    )


def watermark_date(asset_key: str, scope: str) -> dt.date | None:
    mark = AssetWatermark.objects.filter(asset_key=asset_key, scope_key=scope).first()
    return mark.watermark_ts.astimezone(dt.UTC).date() if mark else None
