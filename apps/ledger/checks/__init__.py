"""Data-quality checks (SPEC §7), run at the end of the job that produced the asset.

``run_checks(job_name, scope=...)`` dispatches to the checks of the assets that job writes and returns
one :class:`CheckOutcome` per (check, symbol); the run logger persists them. A failing check is a
``fail`` outcome; an exception inside a check propagates so the job's run fails. Each check is one
aggregate query over all scope symbols (DuckDB through ``warehouse.read()``, or the ORM for flow).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import duckdb

from apps.ledger.checks import candles, derived, flow, option_bars, snapshots
from apps.ledger.checks.base import CheckScope, CheckSpec, skip_outcome
from apps.ledger.services.runs import CheckOutcome
from apps.pipeline import registry
from optionshelper import warehouse

__all__ = ["CHECK_SPECS", "CheckScope", "CheckSpec", "checks_for_job", "run_checks"]

WarehouseCheck = Callable[[duckdb.DuckDBPyConnection, CheckScope], list[CheckOutcome]]

# Keyed by the job that produces the asset; the registry says which asset each job writes.
_WAREHOUSE_CHECKS: dict[str, Sequence[tuple[CheckSpec, WarehouseCheck]]] = {
    "ingest_candles": candles.CHECKS,
    "ingest_options_bars": option_bars.CHECKS,
    "snapshot_options": snapshots.CHECKS,
    "compute_derived": derived.CHECKS,
}
_ORM_CHECKS = {"compute_flow": flow.CHECKS}

CHECK_SPECS: tuple[CheckSpec, ...] = tuple(
    spec for group in (*_WAREHOUSE_CHECKS.values(), *_ORM_CHECKS.values()) for spec, _ in group
)


def _verify_producers() -> None:
    """Each check's asset must be written by the job it is dispatched from (registry is the truth)."""
    for job_name, group in (*_WAREHOUSE_CHECKS.items(), *_ORM_CHECKS.items()):
        for spec, _ in group:
            if registry.asset(spec.asset_key).job != job_name:
                raise AssertionError(f"{spec.name}: {spec.asset_key} is not produced by {job_name}")


_verify_producers()


def checks_for_job(job_name: str) -> tuple[CheckSpec, ...]:
    """The checks that run after ``job_name`` (empty for jobs without checks)."""
    group = _WAREHOUSE_CHECKS.get(job_name) or _ORM_CHECKS.get(job_name) or ()
    return tuple(spec for spec, _ in group)


def _skips(spec: CheckSpec, scope: CheckScope, reason: str) -> list[CheckOutcome]:
    keys = scope.normalized_symbols or (registry.ALL_SCOPE,)
    return [skip_outcome(spec, key, reason) for key in keys]


def _is_missing_table(exc: duckdb.CatalogException) -> bool:
    return "does not exist" in str(exc) and "Table" in str(exc)


def _run_warehouse_check(
    spec: CheckSpec,
    check: WarehouseCheck,
    connection: duckdb.DuckDBPyConnection,
    scope: CheckScope,
) -> list[CheckOutcome]:
    try:
        return check(connection, scope)
    except duckdb.CatalogException as exc:
        if not _is_missing_table(exc):
            raise
        return _skips(spec, scope, f"table {spec.asset_key} missing (run db_init)")


def run_checks(job_name: str, *, scope: CheckScope) -> list[CheckOutcome]:
    """Run every check of the assets ``job_name`` produces over ``scope``; other jobs give ``[]``."""
    if job_name in _ORM_CHECKS:
        return [outcome for _, check in _ORM_CHECKS[job_name] for outcome in check(scope)]
    group = _WAREHOUSE_CHECKS.get(job_name)
    if not group:
        return []
    try:
        with warehouse.read() as connection:
            return [
                outcome
                for spec, check in group
                for outcome in _run_warehouse_check(spec, check, connection, scope)
            ]
    except warehouse.WarehouseMissing:
        return [o for spec, _ in group for o in _skips(spec, scope, "warehouse missing")]
