"""The Health page's view model on top of :mod:`apps.ledger.selectors.health` (which owns the rules).

Adds only what the ledger selectors do not already give (the runs timeline, KPI counts and grouped
failed checks, bounded by the lookback and a row cap) and caches the whole model per data generation
and minute.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max, Min, OuterRef, Subquery
from django.utils import timezone

from apps.core import registry
from apps.ledger.models import AssetCheck, CheckStatus, IngestionRun, RunStatus
from apps.ledger.selectors import health as ledger_health
from apps.pipeline import planner
from apps.portal.selectors.common import clocked_view_model, newest_watermark

TIMELINE_MAX_RUNS = 400
GRID_SESSIONS = 10
FAILING = ledger_health.FAILING_RUN_STATUSES


def runs_timeline(*, days: int, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The newest runs of the lookback (capped), oldest first, for the duration/status chart."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    runs = (
        IngestionRun.objects.filter(started_at__gte=since)
        .order_by("-started_at")
        .values("job_name", "status", "started_at", "duration_ms", "as_of")[:TIMELINE_MAX_RUNS]
    )
    return list(runs)[::-1]


def failed_check_count(*, days: int, now: dt.datetime | None = None) -> int:
    since = (now or timezone.now()) - dt.timedelta(days=days)
    return AssetCheck.objects.filter(status=CheckStatus.FAIL, checked_at__gte=since).count()


def kpis(
    latest_runs: list[dict[str, Any]],
    rows: list[ledger_health.AssetHealth],
    *,
    days: int,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """Tracked jobs, failing jobs (latest run failed/partial/abandoned), stale assets, failed checks."""
    return {
        "tracked_jobs": len(latest_runs),
        "failing_jobs": sum(1 for run in latest_runs if run["status"] in FAILING),
        "stale_assets": sum(
            1
            for row in rows
            if row.status != ledger_health.NOT_TRACKED and ledger_health.is_stale(row)
        ),
        "failed_checks": failed_check_count(days=days, now=now),
    }


def failed_check_groups(
    *, days: int, limit: int, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Failed checks of the lookback grouped by (check, asset, partition), newest group first.

    One grouped query: count, first and last seen, and the latest message and severity.
    """
    since = (now or timezone.now()) - dt.timedelta(days=days)
    failed = AssetCheck.objects.filter(status=CheckStatus.FAIL, checked_at__gte=since)
    latest = failed.filter(
        check_name=OuterRef("check_name"),
        asset_key=OuterRef("asset_key"),
        partition_key=OuterRef("partition_key"),
    ).order_by("-checked_at")
    groups = (
        failed.values("check_name", "asset_key", "partition_key")
        .annotate(
            count=Count("pk"),
            first_seen=Min("checked_at"),
            last_seen=Max("checked_at"),
            severity=Subquery(latest.values("severity")[:1]),
            message=Subquery(latest.values("message")[:1]),
        )
        .order_by("-last_seen", "check_name")[:limit]
    )
    return [dict(group) for group in groups]


def live_jobs() -> list[dict[str, Any]]:
    """Per registry job: its latest *finished* run, plus ``running`` when a newer run is in progress.

    Read live from the ledger (the dashboard payload is a snapshot taken mid-pipeline).
    """
    finished = ledger_health.latest_run_by_job(finished_only=True)
    newest = ledger_health.latest_run_by_job()
    rows = []
    for name in registry.JOB_NAMES:
        run, current = finished.get(name), newest.get(name)
        if run is None and current is None:
            continue
        row = ledger_health.run_row(run or current)
        row["running"] = current is not None and current.status == RunStatus.STARTED
        rows.append(row)
    return rows


def health_view_model(*, days: int, rows: int, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything the Health page shows for these filters, evaluated at one ``now`` (plain data).

    ``health_rows`` holds every asset row; the view filters (sessions behind, problems first) and
    wraps the lists in tables.
    """
    now = now or timezone.now()
    health_rows = ledger_health.asset_health_rows(now=now)
    latest = ledger_health.latest_runs_per_job()
    return {
        "health_rows": health_rows,
        "runs": latest,
        "checks": failed_check_groups(days=days, limit=rows, now=now),
        "recurring": ledger_health.recurring_failures(days=days, limit=rows, now=now),
        "abandoned": ledger_health.abandoned_runs(days=days, limit=rows, now=now),
        "grid": ledger_health.status_grid(sessions=GRID_SESSIONS, now=now),
        "plan": planner.plan_gaps(health_rows=health_rows, now=now),
        "overall": ledger_health.overall_health(health_rows),
        "kpis": kpis(latest, health_rows, days=days, now=now),
        "timeline": runs_timeline(days=days, now=now),
        "data_as_of": newest_watermark(),
    }


def cached_health_view_model(*, days: int, rows: int, fresh: bool = False) -> tuple[dict, int]:
    """The Health view model of this generation and this minute, and the generation (``fresh``
    builds it now: exports)."""
    return clocked_view_model(
        "health",
        (days, rows),
        lambda minute: health_view_model(days=days, rows=rows, now=minute),
        fresh=fresh,
    )
