"""The Health page's view model on top of :mod:`apps.ledger.selectors.health` (which owns the rules).

Adds only what the ledger selectors do not already give (the runs timeline and KPI counts, bounded by
the lookback and a row cap) and caches the whole model per data generation and minute.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from apps.ledger.models import AssetCheck, CheckStatus, IngestionRun, RunStatus
from apps.ledger.selectors import health as ledger_health
from apps.pipeline import planner
from apps.portal.selectors.common import newest_watermark
from optionshelper import generation

TIMELINE_MAX_RUNS = 400
GRID_SESSIONS = 10
FAILING = (RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.ABANDONED)


def runs_timeline(*, days: int, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The newest runs of the lookback (capped), oldest first, for the duration/status chart."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    runs = (
        IngestionRun.objects.filter(started_at__gte=since)
        .order_by("-started_at")
        .values("job_name", "status", "started_at", "duration_ms")[:TIMELINE_MAX_RUNS]
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
        "stale_assets": sum(1 for row in rows if (row.sessions_behind or 0) > 0),
        "failed_checks": failed_check_count(days=days, now=now),
    }


def health_view_model(
    *, days: int, stale: int | None, rows: int, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Everything the Health page shows for these filters, evaluated at one ``now`` (plain data).

    Built once per data generation and minute (see :func:`cached_health_view_model`); the view only
    wraps the lists in tables.
    """
    now = now or timezone.now()
    health_rows = ledger_health.asset_health_rows(now=now)
    latest = ledger_health.latest_runs_per_job()
    shown = [r for r in health_rows if stale is None or (r.sessions_behind or 0) >= stale]
    return {
        "freshness": [r.to_dict() for r in shown],
        "runs": latest,
        "checks": ledger_health.recent_failed_checks(days=days, limit=rows, now=now),
        "overall": ledger_health.overall_health(health_rows),
        "kpis": kpis(latest, health_rows, days=days, now=now),
        "timeline": runs_timeline(days=days, now=now),
        "recurring": ledger_health.recurring_failures(days=days, limit=rows, now=now),
        "abandoned": ledger_health.abandoned_runs(days=days, limit=rows, now=now),
        "grid": ledger_health.status_grid(sessions=GRID_SESSIONS, now=now),
        "plan": planner.plan_gaps(health_rows=health_rows, now=now),
        "data_as_of": newest_watermark(),
    }


def cached_health_view_model(
    *, days: int, stale: int | None, rows: int
) -> tuple[dict[str, Any], int]:
    """The Health view model of this generation and this minute, and the generation.

    Health also moves with the clock (a deadline passes, a run leaves the lookback) without any write,
    so the key holds the current minute and the model is evaluated at that minute's start: a cached
    page is never more than the same minute's view of the same data.
    """
    minute = timezone.now().replace(second=0, microsecond=0)
    return generation.cached(
        "health",
        (days, stale, rows, minute.isoformat()),
        lambda: health_view_model(days=days, stale=stale, rows=rows, now=minute),
    )
