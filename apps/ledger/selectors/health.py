"""Health of the control plane (SPEC §8): freshness in trading sessions, the roll-up, and report rows.

Every place that shows health (``db_health``, the health page, ``/health/status.json``, the gap
planner) reads it from here, so "stale", "degraded" and "latest run" mean the same thing everywhere.
All queries are bounded by indexes (latest run per job is one seek per registry job, failing checks
start from the ``status`` index) so the page stays fast with tens of thousands of runs.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps as django_apps
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, Subquery
from django.db.utils import DatabaseError
from django.utils import timezone

from apps.core import calendar, registry
from apps.ledger.models import (
    AssetCheck,
    AssetStatus,
    AssetWatermark,
    CheckStatus,
    IngestionRun,
    IngestionRunAsset,
    RunStatus,
    Severity,
)
from optionshelper.databases import metadata_db_info, warehouse_info

HEALTHY, WARNING, DEGRADED, UNKNOWN = "healthy", "warning", "degraded", "unknown"
# A symbol with data that is in no portfolio or watchlist: shown, never part of the roll-up.
NOT_TRACKED = "not tracked"
# The one set of run statuses that counts as "failing" (Health page KPIs, status.json, db_health).
FAILING_RUN_STATUSES = (RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.ABANDONED)
_RANK = {HEALTHY: 0, WARNING: 1, DEGRADED: 2}
DISCLAIMER = "Not financial advice."

_FAILED_RUN = (RunStatus.FAILED, RunStatus.ABANDONED)
_EVENT_RANK = {AssetStatus.SUCCESS: 0, AssetStatus.SKIPPED: 1, AssetStatus.FAILED: 2}


# --- levels and freshness --------------------------------------------------------------------------


def worst(statuses: Iterable[str]) -> str:
    """The worst known level (degraded > warning > healthy); ``unknown`` when none is known."""
    known = [s for s in statuses if s in _RANK]
    return max(known, key=_RANK.__getitem__) if known else UNKNOWN


def is_at_or_worse(status: str, level: str) -> bool:
    """For ``--fail-on``: ``unknown`` never counts as bad (a fresh install is not an outage)."""
    return status in _RANK and _RANK[status] >= _RANK[level]


def _aware(now: dt.datetime | None) -> dt.datetime:
    now = now or timezone.now()
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


def expected_market_date(asset_key: str, *, now: dt.datetime) -> dt.date:
    """The last session whose daily deadline (market time) has passed: what the asset should hold.

    A Friday watermark is therefore fresh all weekend and on Monday until Monday's deadline.
    """
    deadline = registry.asset(asset_key).deadline
    local = _aware(now).astimezone(calendar.MARKET_TZ)
    candidate = calendar.session_on_or_before(local.date())
    due = dt.datetime.combine(candidate, deadline, tzinfo=calendar.MARKET_TZ)
    return candidate if due <= local else calendar.previous_session(candidate)


def watermark_date(watermark: AssetWatermark) -> dt.date:
    """Watermarks store a market date as midnight UTC."""
    return watermark.watermark_ts.astimezone(dt.UTC).date()


# --- latest runs and checks ------------------------------------------------------------------------


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


def latest_failing_checks() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(asset, partition) → [(check_name, severity)] whose *latest* result is ``fail``.

    Starts from failed results (``status`` index) and drops those superseded by a newer result of the
    same check and partition (``check_latest_idx``), instead of ranking the whole append-only table.
    """
    newer = AssetCheck.objects.filter(
        asset_key=OuterRef("asset_key"),
        partition_key=OuterRef("partition_key"),
        check_name=OuterRef("check_name"),
        checked_at__gt=OuterRef("checked_at"),
    )
    failing = (
        AssetCheck.objects.filter(status=CheckStatus.FAIL)
        .exclude(Exists(newer))
        .values_list("asset_key", "partition_key", "check_name", "severity")
        .order_by("asset_key", "partition_key", "check_name")
        .distinct()
    )
    found: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for asset_key, partition, name, severity in failing:
        found.setdefault((asset_key, partition), []).append((name, severity))
    return found


# --- asset health ----------------------------------------------------------------------------------


@dataclass
class AssetHealth:
    """The health of one (asset, scope) and the reasons behind it."""

    asset_key: str
    scope_key: str
    status: str
    watermark_date: dt.date | None = None
    sessions_behind: int | None = None
    expected_date: dt.date | None = None
    latest_run_status: str | None = None
    failed_checks: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _spec(asset_key: str) -> registry.AssetSpec:
    """Registry spec; a watermark of an asset the registry no longer knows gets default thresholds."""
    try:
        return registry.asset(asset_key)
    except registry.UnknownName:
        return registry.AssetSpec(asset_key, "table", "")


def _run_level(spec: registry.AssetSpec, run: IngestionRun | None) -> tuple[str, str | None]:
    if run is None:
        return HEALTHY, None
    if run.status in _FAILED_RUN:
        return DEGRADED, f"latest {spec.job} run {run.status}"
    if run.status == RunStatus.PARTIAL:
        return WARNING, f"latest {spec.job} run partial"
    return HEALTHY, None


def _freshness_level(spec: registry.AssetSpec, behind: int, expected: dt.date) -> tuple[str, str]:
    reason = f"{behind} sessions behind (expected {expected.isoformat()})"
    if behind >= spec.error_after:
        return DEGRADED, reason
    if behind >= spec.stale_after:
        return WARNING, reason
    return HEALTHY, ""


def _check_level(failing: list[tuple[str, str]]) -> tuple[str, list[str]]:
    levels = [DEGRADED if severity == Severity.ERROR else WARNING for _, severity in failing]
    return worst(levels) if failing else HEALTHY, [f"check {name} failed" for name, _ in failing]


def _watermark_health(
    watermark: AssetWatermark,
    *,
    now: dt.datetime,
    runs: dict[str, IngestionRun],
    failing: dict[tuple[str, str], list[tuple[str, str]]],
) -> AssetHealth:
    spec = _spec(watermark.asset_key)
    run = runs.get(spec.job)
    day = watermark_date(watermark)
    expected = expected_market_date(spec.key, now=now) if spec.job else day
    behind = calendar.sessions_behind(day, expected)
    checks = failing.get((spec.key, watermark.scope_key), []) + (
        failing.get((spec.key, registry.ALL_SCOPE), []) if watermark.scope_key != "ALL" else []
    )
    run_level, run_reason = _run_level(spec, run)
    fresh_level, fresh_reason = _freshness_level(spec, behind, expected)
    check_level, check_reasons = _check_level(checks)
    reasons = [r for r in (run_reason, fresh_reason) if r] + check_reasons
    return AssetHealth(
        asset_key=spec.key,
        scope_key=watermark.scope_key,
        status=worst((run_level, fresh_level, check_level)),
        watermark_date=day,
        sessions_behind=behind,
        expected_date=expected,
        latest_run_status=run.status if run else None,
        failed_checks=sorted({name for name, _ in checks}),
        reasons=reasons,
    )


def _never_produced(
    spec: registry.AssetSpec, *, now: dt.datetime, runs: dict[str, IngestionRun]
) -> AssetHealth:
    """``unknown`` — unless its job's latest run failed, which is an outage worth reporting."""
    run = runs.get(spec.job)
    level, reason = _run_level(spec, run)
    return AssetHealth(
        asset_key=spec.key,
        scope_key=registry.ALL_SCOPE,
        status=DEGRADED if level == DEGRADED else UNKNOWN,
        expected_date=expected_market_date(spec.key, now=now),
        latest_run_status=run.status if run else None,
        reasons=["never produced"] + ([reason] if reason else []),
    )


def represented_by_sibling(asset_key: str, produced: set[str]) -> bool:
    """True for an asset the registry marks unwatermarked once its job has watermarked a sibling.

    ``ingest_options_bars`` writes ``option_contracts`` and ``option_bars`` but moves only the
    ``option_bars`` watermark (SPEC §6.2); the sibling's freshness stands for the job, so the contracts
    are neither "unknown" in health nor "watermark missing" in the gap planner.
    """
    spec = registry.asset(asset_key)
    if spec.watermarked:
        return False
    return any(s.key in produced for s in registry.job(spec.job).assets if s.watermarked)


def tracked_symbols() -> set[str]:
    """Portfolio and watchlist symbols: the set health speaks for.

    Looked up by model name because the ledger sits below the portfolio app and does not import it.
    """
    try:
        position = django_apps.get_model("portfolio", "Position")
        watched = django_apps.get_model("portfolio", "WatchlistSymbol")
        held = position.objects.order_by().values_list("symbol", flat=True)
        symbols = set(held.union(watched.objects.order_by().values_list("symbol", flat=True)))
    except (LookupError, DatabaseError):
        return set()
    return {s.strip().upper() for s in symbols if s and s.strip()}


def _untracked(row: AssetHealth) -> AssetHealth:
    row.status = NOT_TRACKED
    row.reasons = ["not tracked (in no portfolio or watchlist)", *row.reasons]
    return row


def asset_health_rows(*, now: dt.datetime | None = None) -> list[AssetHealth]:
    """One row per watermark, plus one ``unknown`` row per registry asset never produced.

    Status is the worst of the producing job's latest finished run, freshness in sessions and the
    latest result of each check for that (asset, scope). A per-symbol row of a symbol outside the
    tracked set (:func:`tracked_symbols`) is ``not tracked`` and never counts in the roll-up; with
    nothing tracked yet every symbol counts.
    """
    now = _aware(now)
    runs = latest_run_by_job(finished_only=True)
    failing = latest_failing_checks()
    tracked = tracked_symbols()
    rows = [
        _watermark_health(w, now=now, runs=runs, failing=failing)
        for w in AssetWatermark.objects.all()
    ]
    if tracked:
        rows = [
            _untracked(r) if r.scope_key != registry.ALL_SCOPE and r.scope_key not in tracked else r
            for r in rows
        ]
    produced = {row.asset_key for row in rows}
    rows += [
        _never_produced(s, now=now, runs=runs)
        for s in registry.ASSETS
        if s.key not in produced and not represented_by_sibling(s.key, produced)
    ]
    problem = warehouse_problem(produced_anything=bool(produced))
    if problem:
        rows.append(AssetHealth(WAREHOUSE_ROW, registry.ALL_SCOPE, DEGRADED, reasons=[problem]))
    order = {key: i for i, key in enumerate(registry.ASSET_KEYS)}
    return sorted(
        rows, key=lambda r: (order.get(r.asset_key, len(order)), r.asset_key, r.scope_key)
    )


def health_by_scope(rows: Iterable[AssetHealth]) -> dict[str, str]:
    """Each scope's roll-up (a symbol's worst status over its assets); ``ALL`` for global assets."""
    grouped: dict[str, list[str]] = {}
    for row in rows:
        grouped.setdefault(row.scope_key, []).append(row.status)
    return {scope: worst(statuses) for scope, statuses in grouped.items()}


WAREHOUSE_ROW = "warehouse"


def warehouse_problem(*, produced_anything: bool, info: Any = None) -> str | None:
    """Why the warehouse cannot be read, or ``None``. A missing file counts only once something
    was produced (a fresh install is ``unknown``, not an outage); a busy one is not a problem."""
    info = info or warehouse_info()
    if not info.exists:
        return f"warehouse not found at {info.path}" if produced_anything else None
    if info.busy:
        return None
    if info.error:
        return f"warehouse unreadable: {info.error}"
    if info.schema_version is None:
        return "warehouse has no schema: run `python manage.py db_init`"
    return None


def overall_health(rows: Iterable[AssetHealth]) -> str:
    """Worst status over all rows (``not tracked`` rows never count); ``unknown`` when nothing has
    ever been produced."""
    return worst(row.status for row in rows)


def at_least_behind(rows: Iterable[AssetHealth], sessions: int | None) -> list[AssetHealth]:
    """The one "stale" filter (``--stale-days``, the Health page's and status.json's ``stale``):
    rows at least ``sessions`` trading sessions behind; every row when ``sessions`` is None."""
    return [
        row
        for row in rows
        if sessions is None or (row.sessions_behind is not None and row.sessions_behind >= sessions)
    ]


def is_stale(row: AssetHealth) -> bool:
    """The one "stale asset" rule: behind by at least the asset's ``stale_after`` sessions."""
    return (
        row.sessions_behind is not None and row.sessions_behind >= _spec(row.asset_key).stale_after
    )


# --- report lists ----------------------------------------------------------------------------------


def _since(days: int, now: dt.datetime | None) -> dt.datetime:
    return _aware(now) - dt.timedelta(days=days)


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
    """Failed runs grouped by stack hash: the same bug counted once, most frequent first."""
    since = _since(days, now)
    failed = IngestionRun.objects.filter(
        status__in=(RunStatus.FAILED, RunStatus.PARTIAL), started_at__gte=since
    ).exclude(error_stack_hash="")
    sample = failed.filter(
        error_stack_hash=OuterRef("error_stack_hash"), job_name=OuterRef("job_name")
    ).order_by("-started_at")
    groups = (
        failed.values("error_stack_hash", "job_name")
        .annotate(
            count=Count("pk"),
            first_seen=Min("started_at"),
            last_seen=Max("started_at"),
            error_type=Subquery(sample.values("error_type")[:1]),
            sample_message=Subquery(sample.values("error_message")[:1]),
        )
        .order_by("-count", "-last_seen")[:limit]
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


# --- status grid -----------------------------------------------------------------------------------


def _last_sessions(count: int, now: dt.datetime) -> list[dt.date]:
    last = calendar.session_on_or_before(now.astimezone(calendar.MARKET_TZ).date())
    start = last - dt.timedelta(days=2 * count + 10)
    return calendar.sessions_between(start, last)[-count:]


def status_grid(*, sessions: int = 10, now: dt.datetime | None = None) -> dict[str, Any]:
    """Last N sessions × registry assets; each cell the worst event status of that asset's runs.

    A run belongs to the session of its ``as_of`` (the resolved market date every run records).
    One grouped query.
    """
    now = _aware(now)
    days = _last_sessions(sessions, now)
    if not days:
        return {"sessions": [], "rows": []}
    first, last = days[0], days[-1]
    # Distinct (asset, day, status) comes back from the database: a few hundred rows, not one per
    # event (runs filtered by the as_of index first).
    run_ids = IngestionRun.objects.filter(as_of__range=(first, last)).values_list(
        "run_id", flat=True
    )
    events = (
        IngestionRunAsset.objects.filter(run_id__in=list(run_ids))
        .values_list("asset_key", "run__as_of", "status")
        .distinct()
        .order_by()
    )
    session_of: dict[dt.date, dt.date] = {}
    cells: dict[tuple[str, dt.date], str] = {}
    for asset_key, day, status in events:
        if day not in session_of:
            session_of[day] = calendar.session_on_or_before(day)
        key = (asset_key, session_of[day])
        if _EVENT_RANK.get(status, -1) > _EVENT_RANK.get(cells.get(key, ""), -1):
            cells[key] = status
    return {
        "sessions": days,
        "rows": [
            {"asset_key": key, "cells": [cells.get((key, day)) for day in days]}
            for key in registry.ASSET_KEYS
        ],
    }


# --- the report ------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Strict-JSON values: ISO dates, strings for UUIDs, ``None`` for NaN/inf, objects for JSON."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _empty_sections() -> dict[str, Any]:
    return {
        "overall": UNKNOWN,
        "stale_assets": 0,
        "latest_runs": [],
        "recent_failures": [],
        "watermarks": [],
        "recent_failed_checks": [],
        "abandoned_runs": [],
    }


def _severity_order(row: AssetHealth) -> int:
    return -_RANK.get(row.status, -1)


def _sections(*, days: int, limit: int, stale_days: int | None, now: dt.datetime) -> dict:
    rows = asset_health_rows(now=now)
    shown = at_least_behind(rows, stale_days)
    shown.sort(key=_severity_order)  # stable: problems first, registry order within a level
    return {
        "overall": overall_health(rows),
        "stale_assets": sum(1 for row in rows if row.status != NOT_TRACKED and is_stale(row)),
        "latest_runs": latest_runs_per_job(),
        "recent_failures": recent_failures(days=days, limit=limit, now=now),
        "watermarks": [row.to_dict() for row in shown[:limit]],
        "recent_failed_checks": recent_failed_checks(days=days, limit=limit, now=now),
        "abandoned_runs": abandoned_runs(days=days, limit=limit, now=now),
    }


def health_report(
    *, days: int = 7, limit: int = 50, stale_days: int | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The ``db_health --json`` payload (SPEC §8.2), strict-JSON ready. Creates no files.

    With a missing or unmigrated metadata DB every list is empty and ``overall`` is ``unknown``.
    """
    now = _aware(now)
    meta = metadata_db_info()
    wh = warehouse_info()
    report: dict[str, Any] = {
        "database": {"engine": meta.engine, "name": meta.name, "reachable": meta.reachable},
        "warehouse": {
            "path": wh.path,
            "exists": wh.exists,
            "schema_version": wh.schema_version,
            "error": wh.error or None,
        },
        "meta_tables_present": bool(meta.reachable and meta.meta_tables_present),
        "filters": {"days": days, "limit": limit, "stale_days": stale_days},
    }
    if report["meta_tables_present"]:
        report.update(_sections(days=days, limit=limit, stale_days=stale_days, now=now))
    else:
        report.update(_empty_sections())
    report["disclaimer"] = DISCLAIMER
    return jsonable(report)
