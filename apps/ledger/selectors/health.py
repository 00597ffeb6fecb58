"""The public face of control-plane health (SPEC §8): one import for the command, the pages and
the gap planner. The rules live in ``health_rules``, the asset rows in ``asset_health``, run and
check lists and the status grid in ``runs``, the report in ``health_report``."""

from __future__ import annotations

from apps.ledger.selectors.asset_health import (  # noqa: F401
    WAREHOUSE_ROW,
    asset_health_rows,
    expected_market_date,
    latest_failing_checks,
    represented_by_sibling,
    tracked_symbols,
    warehouse_problem,
    watermark_date,
)
from apps.ledger.selectors.health_report import (  # noqa: F401
    DISCLAIMER,
    health_report,
)
from apps.ledger.selectors.health_rules import (  # noqa: F401
    DEGRADED,
    FAILING_RUN_STATUSES,
    HEALTHY,
    NOT_TRACKED,
    UNKNOWN,
    WARNING,
    AssetHealth,
    at_least_behind,
    aware,
    health_by_scope,
    is_at_or_worse,
    is_stale,
    overall_health,
    worst,
)
from apps.ledger.selectors.runs import (  # noqa: F401
    abandoned_runs,
    latest_run_by_job,
    latest_runs_per_job,
    recent_failed_checks,
    recent_failures,
    recurring_failures,
    run_row,
    status_grid,
)
