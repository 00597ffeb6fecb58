"""Asset health rows (SPEC §8.1): each watermark's freshness in sessions, its job's latest run and
its latest checks rolled up; tracked symbols only count, an unreadable warehouse is a problem."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps as django_apps
from django.db.models import Exists, OuterRef
from django.db.utils import DatabaseError

from apps.core import calendar, registry
from apps.ledger.models import (
    AssetCheck,
    AssetWatermark,
    CheckStatus,
    IngestionRun,
    IngestionRunAsset,
    RunStatus,
)
from apps.ledger.selectors.health_rules import (
    DEGRADED,
    NOT_TRACKED,
    UNKNOWN,
    AssetHealth,
    RunEvents,
    _check_level,
    _freshness_level,
    _run_level,
    asset_spec,
    aware,
    run_speaks_for,
    worst,
)
from apps.ledger.selectors.runs import (
    latest_run_by_job,
)
from optionshelper.databases import warehouse_info


def expected_market_date(asset_key: str, *, now: dt.datetime) -> dt.date:
    """The last session whose daily deadline (market time) has passed: what the asset should hold.

    A Friday watermark is therefore fresh all weekend and on Monday until Monday's deadline.
    """
    deadline = registry.asset(asset_key).deadline
    local = aware(now).astimezone(calendar.MARKET_TZ)
    candidate = calendar.session_on_or_before(local.date())
    due = dt.datetime.combine(candidate, deadline, tzinfo=calendar.MARKET_TZ)
    return candidate if due <= local else calendar.previous_session(candidate)


def watermark_date(watermark: AssetWatermark) -> dt.date:
    """Watermarks store a market date as midnight UTC."""
    return watermark.watermark_ts.astimezone(dt.UTC).date()


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


def unsuccessful_run_events(runs: dict[str, IngestionRun]) -> dict[Any, RunEvents]:
    """The asset events of each job's latest run that did not succeed (one query for all)."""
    ids = [run.pk for run in runs.values() if run.status != RunStatus.SUCCESS]
    events: dict[Any, RunEvents] = {run_id: {} for run_id in ids}
    rows = IngestionRunAsset.objects.filter(run_id__in=ids).values_list(
        "run_id", "asset_key", "partition_key", "status"
    )
    for run_id, asset_key, partition_key, status in rows:
        events[run_id][asset_key, partition_key.split("|", 1)[0]] = status
    return events


def _watermark_health(
    watermark: AssetWatermark,
    *,
    now: dt.datetime,
    runs: dict[str, IngestionRun],
    run_events: dict[Any, RunEvents],
    failing: dict[tuple[str, str], list[tuple[str, str]]],
) -> AssetHealth:
    spec = asset_spec(watermark.asset_key)
    run = runs.get(spec.job)
    day = watermark_date(watermark)
    expected = expected_market_date(spec.key, now=now) if spec.job else day
    behind = calendar.sessions_behind(day, expected)
    checks = failing.get((spec.key, watermark.scope_key), []) + (
        failing.get((spec.key, registry.ALL_SCOPE), []) if watermark.scope_key != "ALL" else []
    )
    judged = run
    if run is not None and run.pk in run_events and watermark.scope_key != registry.ALL_SCOPE:
        if not run_speaks_for(run, run_events[run.pk], spec.key, watermark.scope_key):
            judged = None  # it failed on other symbols: nothing to say of this one
    run_level, run_reason = _run_level(spec, judged)
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
    now = aware(now)
    runs = latest_run_by_job(finished_only=True)
    failing = latest_failing_checks()
    tracked = tracked_symbols()
    run_events = unsuccessful_run_events(runs)
    rows = [
        _watermark_health(w, now=now, runs=runs, run_events=run_events, failing=failing)
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
