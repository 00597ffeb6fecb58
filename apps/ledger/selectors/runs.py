"""Run and check lists for the health report and pages: latest run per job, failures, abandoned
runs, recurring failures, failed checks, and the asset × session status grid."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, F, Max, Min, Q, Subquery, Window
from django.db.models.functions import RowNumber

from apps.core import calendar, registry
from apps.ledger.models import (
    AssetCheck,
    CheckStatus,
    IngestionRun,
    IngestionRunAsset,
    RunStatus,
)
from apps.ledger.selectors.health_rules import (
    aware,
    event_outcome,
    worse_outcome,
)


def latest_run_by_job(*, finished_only: bool = False) -> dict[str, IngestionRun]:
    """job → its newest run (``finished_only``: ignore runs still ``started``).

    One query; one index seek per registry job on (job_name, -started_at), however many runs exist.
    """
    base = IngestionRun.objects.all()
    if finished_only:
        base = base.exclude(status=RunStatus.STARTED)
    condition = Q()
    for name in registry.JOB_NAMES:
        newest = base.filter(job_name=name).order_by("-started_at").values("pk")[:1]
        condition |= Q(pk=Subquery(newest))
    return {run.job_name: run for run in IngestionRun.objects.filter(condition)}


def run_row(run: IngestionRun) -> dict[str, Any]:
    """A run as a plain dict (the shape of every run list in reports)."""
    return {
        "run_id": str(run.run_id),
        "job_name": run.job_name,
        "status": run.status,
        "triggered_by": run.triggered_by,
        "parent_run_id": run.parent_run_id or None,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "duration_ms": run.duration_ms,
        "as_of": run.as_of,
        "provider": run.provider or None,
        "partitions_ok": run.partitions_ok,
        "partitions_failed": run.partitions_failed,
        "partitions_skipped": run.partitions_skipped,
        "error_type": run.error_type or None,
        "error_message": run.error_message or None,
        "error_stack_hash": run.error_stack_hash or None,
    }


def latest_runs_per_job() -> list[dict[str, Any]]:
    """The newest run of every registry job that has run, in pipeline order."""
    latest = latest_run_by_job()
    return [run_row(latest[name]) for name in registry.JOB_NAMES if name in latest]


def _since(days: int, now: dt.datetime | None) -> dt.datetime:
    return aware(now) - dt.timedelta(days=days)


def recent_failures(*, days: int, limit: int, now: dt.datetime | None = None) -> list[dict]:
    """Failed and partial runs started in the lookback, newest first."""
    runs = IngestionRun.objects.filter(
        status__in=(RunStatus.FAILED, RunStatus.PARTIAL), started_at__gte=_since(days, now)
    ).order_by("-started_at")[:limit]
    return [run_row(run) for run in runs]


def abandoned_runs(*, days: int, limit: int, now: dt.datetime | None = None) -> list[dict]:
    runs = IngestionRun.objects.filter(
        status=RunStatus.ABANDONED, started_at__gte=_since(days, now)
    ).order_by("-started_at")[:limit]
    return [run_row(run) for run in runs]


def recurring_failures(*, days: int, limit: int, now: dt.datetime | None = None) -> list[dict]:
    """Failed runs grouped by stack hash: the same bug counted once, most frequent first.

    One pass over the lookback's failed runs (window functions per job and stack hash): the group's
    count, first and last seen, and its newest run's error type and message.
    """
    failed = IngestionRun.objects.filter(
        status__in=(RunStatus.FAILED, RunStatus.PARTIAL), started_at__gte=_since(days, now)
    ).exclude(error_stack_hash="")
    group = [F("error_stack_hash"), F("job_name")]
    groups = (
        failed.annotate(
            newest=Window(RowNumber(), partition_by=group, order_by=F("started_at").desc()),
            count=Window(Count("pk"), partition_by=group),
            first_seen=Window(Min("started_at"), partition_by=group),
            last_seen=Window(Max("started_at"), partition_by=group),
            sample_message=F("error_message"),
        )
        .filter(newest=1)
        .order_by("-count", "-last_seen")
        .values(
            "error_stack_hash",
            "job_name",
            "count",
            "first_seen",
            "last_seen",
            "error_type",
            "sample_message",
        )[:limit]
    )
    return [dict(group) for group in groups]


def recent_failed_checks(*, days: int, limit: int, now: dt.datetime | None = None) -> list[dict]:
    checks = (
        AssetCheck.objects.filter(status=CheckStatus.FAIL, checked_at__gte=_since(days, now))
        .select_related("run")
        .order_by("-checked_at")[:limit]
    )
    return [
        {
            "check_id": str(check.check_id),
            "run_id": str(check.run_id) if check.run_id else None,
            "job_name": check.run.job_name if check.run else None,
            "asset_key": check.asset_key,
            "partition_key": check.partition_key,
            "check_name": check.check_name,
            "severity": check.severity,
            "status": check.status,
            "checked_at": check.checked_at,
            "metrics": check.metrics,
            "message": check.message,
        }
        for check in checks
    ]


def _last_sessions(count: int, now: dt.datetime) -> list[dt.date]:
    last = calendar.session_on_or_before(now.astimezone(calendar.MARKET_TZ).date())
    start = last - dt.timedelta(days=2 * count + 10)
    return calendar.sessions_between(start, last)[-count:]


def status_grid(*, sessions: int = 10, now: dt.datetime | None = None) -> dict[str, Any]:
    """Last N sessions × registry assets; each cell the worst event status of that asset's runs.

    A run belongs to the session of its ``as_of`` (the resolved market date every run records).
    An event reads as :func:`event_outcome` says (an ``up_to_date`` skip is a success).
    One grouped query.
    """
    now = aware(now)
    days = _last_sessions(sessions, now)
    if not days:
        return {"sessions": [], "rows": []}
    first, last = days[0], days[-1]
    # Distinct (asset, day, status) comes back from the database: a few hundred rows, not one per
    # event (one join: runs by the as_of index, then their events by run).
    events = (
        IngestionRunAsset.objects.filter(run__as_of__range=(first, last))
        .values_list("asset_key", "run__as_of", "status", "extra__reason")
        .distinct()
        .order_by()
    )
    session_of: dict[dt.date, dt.date] = {}
    cells: dict[tuple[str, dt.date], str] = {}
    for asset_key, day, status, reason in events:
        if day not in session_of:
            session_of[day] = calendar.session_on_or_before(day)
        key = (asset_key, session_of[day])
        cells[key] = worse_outcome(cells.get(key), event_outcome(status, reason))
    return {
        "sessions": days,
        "rows": [
            {"asset_key": key, "cells": [cells.get((key, day)) for day in days]}
            for key in registry.ASSET_KEYS
        ],
    }
