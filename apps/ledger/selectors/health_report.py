"""The health report (SPEC §8.2) that ``db_health`` prints and ``--json`` / status.json serve."""

from __future__ import annotations

import datetime as dt
from typing import Any

from apps.core.values import json_safe
from apps.ledger.selectors.asset_health import (
    asset_health_rows,
)
from apps.ledger.selectors.health_rules import (
    _RANK,
    NOT_TRACKED,
    UNKNOWN,
    AssetHealth,
    at_least_behind,
    aware,
    is_stale,
    overall_health,
)
from apps.ledger.selectors.runs import (
    abandoned_runs,
    latest_runs_per_job,
    recent_failed_checks,
    recent_failures,
)
from optionshelper.databases import metadata_db_info, warehouse_info

DISCLAIMER = "Not financial advice."


def _empty_sections() -> dict[str, Any]:
    return {
        "overall": UNKNOWN,
        "stale_assets": 0,
        "latest_runs": [],
        "recent_failures": [],
        "watermarks": [],
        "watermarks_total": 0,
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
        "watermarks_total": len(shown),  # before --limit: the text report says what it left out
        "recent_failed_checks": recent_failed_checks(days=days, limit=limit, now=now),
        "abandoned_runs": abandoned_runs(days=days, limit=limit, now=now),
    }


def health_report(
    *, days: int = 7, limit: int = 50, stale_days: int | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The ``db_health --json`` payload (SPEC §8.2), strict-JSON ready. Creates no files.

    With a missing or unmigrated metadata DB every list is empty and ``overall`` is ``unknown``.
    """
    now = aware(now)
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
    return json_safe(report)
