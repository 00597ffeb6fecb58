"""Control-plane rows built directly with the ORM (what the run logger would have written)."""

from __future__ import annotations

import datetime as dt
import itertools

from apps.core import calendar
from apps.core.calendar import MARKET_TZ
from apps.ledger.models import AssetCheck, AssetWatermark, IngestionRun, IngestionRunAsset
from apps.ledger.services.run_types import market_ts

_clock = itertools.count()


def et(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """A wall-clock time in market time (America/New_York), as an aware datetime."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=MARKET_TZ)


def make_run(
    job_name: str,
    status: str = "success",
    *,
    started_at: dt.datetime | None = None,
    as_of: dt.date | None = None,
    **fields,
) -> IngestionRun:
    """A run; without ``started_at`` each call is one second later than the previous one."""
    started_at = started_at or dt.datetime(2024, 3, 1, tzinfo=dt.UTC) + dt.timedelta(
        seconds=next(_clock)
    )
    return IngestionRun.objects.create(
        job_name=job_name,
        triggered_by="cli",
        status=status,
        started_at=started_at,
        heartbeat_at=started_at,
        ended_at=None if status == "started" else started_at + dt.timedelta(seconds=5),
        as_of=as_of or calendar.session_on_or_before(started_at.date()),
        **fields,
    )


def make_watermark(asset_key: str, scope_key: str, day: dt.date, run=None) -> AssetWatermark:
    return AssetWatermark.objects.create(
        asset_key=asset_key,
        scope_key=scope_key,
        watermark_ts=market_ts(day),
        updated_at=market_ts(day),
        last_run=run,
    )


def make_check(
    check_name: str,
    asset_key: str,
    partition_key: str,
    status: str,
    *,
    severity: str = "error",
    checked_at: dt.datetime | None = None,
    run=None,
) -> AssetCheck:
    return AssetCheck.objects.create(
        run=run,
        asset_key=asset_key,
        partition_key=partition_key,
        check_name=check_name,
        severity=severity,
        status=status,
        checked_at=checked_at or dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
        metrics={"rows_checked": 1, "offending": int(status == "fail"), "sample": []},
        message=f"{partition_key}: {status}",
    )


def make_event(
    run: IngestionRun, asset_key: str, partition_key: str, status: str, *, reason: str = ""
):
    return IngestionRunAsset.objects.create(
        run=run,
        asset_key=asset_key,
        asset_kind="table",
        partition_key=partition_key,
        status=status,
        started_at=run.started_at,
        extra={"reason": reason} if reason else {},
    )
