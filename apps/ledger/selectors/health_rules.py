"""The health vocabulary and its rules (SPEC §8.1): levels, the worst-of roll-up, the one stale rule,
the one set of failing run statuses, and how a run, freshness and checks become a level."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils import timezone

from apps.core import registry
from apps.core.jobs import UP_TO_DATE
from apps.ledger.models import (
    AssetStatus,
    IngestionRun,
    RunStatus,
    Severity,
)

HEALTHY, WARNING, DEGRADED, UNKNOWN = "healthy", "warning", "degraded", "unknown"

# A symbol with data that is in no portfolio or watchlist: shown, never part of the roll-up.
NOT_TRACKED = "not tracked"

# The one set of run statuses that counts as "failing" (Health page KPIs, status.json, db_health).
FAILING_RUN_STATUSES = (RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.ABANDONED)

_RANK = {HEALTHY: 0, WARNING: 1, DEGRADED: 2}

_FAILED_RUN = (RunStatus.FAILED, RunStatus.ABANDONED)

_EVENT_RANK = {AssetStatus.SUCCESS: 0, AssetStatus.SKIPPED: 1, AssetStatus.FAILED: 2}


def event_outcome(status: str, reason: str | None) -> str:
    """What an asset event says of its partition: a partition skipped as ``up_to_date`` was found
    stored and current, so it reads as a success; any other event as its status."""
    if status == AssetStatus.SKIPPED and reason == UP_TO_DATE:
        return AssetStatus.SUCCESS
    return status


def worse_outcome(a: str | None, b: str) -> str:
    """The worse of two event outcomes (failed > skipped > success); ``a`` may be missing."""
    if a is None or _EVENT_RANK.get(b, -1) > _EVENT_RANK.get(a, -1):
        return b
    return a


def worst(statuses: Iterable[str]) -> str:
    """The worst known level (degraded > warning > healthy); ``unknown`` when none is known."""
    known = [s for s in statuses if s in _RANK]
    return max(known, key=_RANK.__getitem__) if known else UNKNOWN


def is_at_or_worse(status: str, level: str) -> bool:
    """For ``--fail-on``: ``unknown`` never counts as bad (a fresh install is not an outage)."""
    return status in _RANK and _RANK[status] >= _RANK[level]


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


def _run_level(spec: registry.AssetSpec, run: IngestionRun | None) -> tuple[str, str | None]:
    if run is None:
        return HEALTHY, None
    if run.status in _FAILED_RUN:
        return DEGRADED, f"latest {spec.job} run {run.status}"
    if run.status == RunStatus.PARTIAL:
        return WARNING, f"latest {spec.job} run partial"
    return HEALTHY, None


RunEvents = dict[tuple[str, str], str]  # one run's events: (asset_key, symbol) → status


def run_speaks_for(run: IngestionRun, events: RunEvents, asset_key: str, symbol: str) -> bool:
    """Whether a run that did not succeed says anything about one symbol's partition of an asset:
    it failed on that symbol, or it failed before recording any of the asset's partitions and was
    asked for that symbol (or for every symbol). A run that failed on other symbols does not."""
    status = events.get((asset_key, symbol))
    if status is not None:
        return status == AssetStatus.FAILED
    if any(asset == asset_key for asset, _ in events):
        return False
    asked = (run.args or {}).get("symbols") or []
    return not asked or symbol in asked


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


def health_by_scope(rows: Iterable[AssetHealth]) -> dict[str, str]:
    """Each scope's roll-up (a symbol's worst status over its assets); ``ALL`` for global assets."""
    grouped: dict[str, list[str]] = {}
    for row in rows:
        grouped.setdefault(row.scope_key, []).append(row.status)
    return {scope: worst(statuses) for scope, statuses in grouped.items()}


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
        row.sessions_behind is not None
        and row.sessions_behind >= asset_spec(row.asset_key).stale_after
    )


def aware(now: dt.datetime | None) -> dt.datetime:
    now = now or timezone.now()
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


def asset_spec(asset_key: str) -> registry.AssetSpec:
    """Registry spec; a watermark of an asset the registry no longer knows gets default thresholds."""
    try:
        return registry.asset(asset_key)
    except registry.UnknownName:
        return registry.AssetSpec(asset_key, "table", "")
