"""Reaping runs whose process died, and pruning old ledger rows (called by db_health and schedules)."""

from __future__ import annotations

import datetime as dt
import os
import socket

from django.db import transaction
from django.utils import timezone

from apps.core import registry
from apps.ledger.models import AssetCheck, IngestionRun, JobLease, RunStatus


def process_is_gone(run: IngestionRun) -> bool:
    """True only when the run's process was on this host and no longer exists."""
    if not run.pid or run.hostname != socket.gethostname():
        return False
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def is_dead(run: IngestionRun, *, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return run.is_stale(now=now, timeout_s=registry.job_timeout_s(run.job_name)) or (
        run.status == RunStatus.STARTED and process_is_gone(run)
    )


def run_abandon(run: IngestionRun, *, reason: str) -> bool:
    """Mark one started run ``abandoned`` (conditional UPDATE: a finished run is left alone)."""
    now = timezone.now()
    with transaction.atomic():
        changed = IngestionRun.objects.filter(pk=run.pk, status=RunStatus.STARTED).update(
            status=RunStatus.ABANDONED,
            ended_at=now,
            duration_ms=int((now - run.started_at).total_seconds() * 1000),
            error_type="Abandoned",
            error_message=reason,
        )
        JobLease.objects.filter(run_id=run.pk).delete()
    return bool(changed)


def abandon_if_dead(run: IngestionRun) -> bool:
    if not is_dead(run):
        return False
    reason = "process gone" if process_is_gone(run) else "heartbeat older than the job timeout"
    run_abandon(run, reason=reason)
    return True


def abandon_stale_runs(*, now: dt.datetime | None = None) -> list[IngestionRun]:
    """Abandon every started run whose heartbeat expired or whose local process is gone."""
    now = now or timezone.now()
    abandoned = []
    for run in IngestionRun.objects.filter(status=RunStatus.STARTED):
        if is_dead(run, now=now) and run_abandon(run, reason=_reason(run, now)):
            abandoned.append(run)
    return abandoned


def _reason(run: IngestionRun, now: dt.datetime) -> str:
    if process_is_gone(run):
        return f"process {run.pid} on {run.hostname} is gone"
    return f"no heartbeat since {run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"


def ledger_prune(*, runs_older_than_days: int, checks_older_than_days: int) -> dict[str, int]:
    """Delete finished runs (with their events and checks) and checks past their retention age."""
    now = timezone.now()
    checks, _ = AssetCheck.objects.filter(
        checked_at__lt=now - dt.timedelta(days=checks_older_than_days)
    ).delete()
    runs, _ = (
        IngestionRun.objects.filter(started_at__lt=now - dt.timedelta(days=runs_older_than_days))
        .exclude(status=RunStatus.STARTED)
        .delete()
    )
    return {"checks_deleted": checks, "rows_deleted_with_runs": runs}


def retention_cutoff(*, days: int, today: dt.date | None = None) -> dt.date:
    """The first market date kept by a ``days``-day retention (rows dated before it are pruned)."""
    if days < 1:
        raise ValueError(f"retention must be at least 1 day, got {days}")
    return (today or timezone.localdate()) - dt.timedelta(days=days)
