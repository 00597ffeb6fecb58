"""Data-quality checks (SPEC §7), run at the end of the job that produced the asset.

``run_checks(job_name, scope=...)`` dispatches to the checks of the assets that job writes and returns
one :class:`CheckOutcome` per (check, symbol); the run logger persists them. A failing check is a
``fail`` outcome; an exception inside a check propagates so the job's run fails. Each check is one
aggregate query over all scope symbols (DuckDB through ``warehouse.read()``, or the ORM for flow).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from types import ModuleType

import duckdb
from django.utils.module_loading import import_module

from apps.core import registry
from apps.ledger.checks.base import CheckScope, CheckSpec, skip_outcome
from apps.ledger.services.run_types import CheckOutcome
from optionshelper import warehouse

__all__ = ["CheckScope", "CheckSpec", "all_check_specs", "checks_for_job", "run_checks"]

WarehouseCheck = Callable[[duckdb.DuckDBPyConnection, CheckScope], list[CheckOutcome]]
MetadataCheck = Callable[[CheckScope], list[CheckOutcome]]
CheckGroup = Sequence[tuple[CheckSpec, Callable]]

# Each check module (named by the registry, living beside the data it checks) declares where its
# queries run: "warehouse" checks get a read connection, "metadata" checks use the ORM.
SOURCES = ("warehouse", "metadata")


def _check_module(path: str) -> ModuleType:
    module = import_module(path)
    if getattr(module, "SOURCE", None) not in SOURCES:
        raise AssertionError(f"{path}: SOURCE must be one of {SOURCES}")
    return module


def _modules(job_name: str) -> tuple[ModuleType, ...]:
    if job_name == registry.PIPELINE_JOB:
        return ()
    return tuple(_check_module(path) for path in registry.job(job_name).checks)


@cache
def _verified(job_name: str) -> None:
    """Each check's asset must be written by the job it runs after (the registry is the truth)."""
    for module in _modules(job_name):
        for spec, _ in module.CHECKS:
            if registry.asset(spec.asset_key).job != job_name:
                raise AssertionError(f"{spec.name}: {spec.asset_key} is not produced by {job_name}")


def checks_for_job(job_name: str) -> tuple[CheckSpec, ...]:
    """The checks that run after ``job_name`` (empty for jobs without checks)."""
    _verified(job_name)
    return tuple(spec for module in _modules(job_name) for spec, _ in module.CHECKS)


def all_check_specs() -> tuple[CheckSpec, ...]:
    return tuple(spec for job in registry.JOBS for spec in checks_for_job(job.name))


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


def _run_warehouse_checks(group: CheckGroup, scope: CheckScope) -> list[CheckOutcome]:
    try:
        with warehouse.read() as connection:
            return [
                outcome
                for spec, check in group
                for outcome in _run_warehouse_check(spec, check, connection, scope)
            ]
    except warehouse.WarehouseMissing:
        return [o for spec, _ in group for o in _skips(spec, scope, "warehouse missing")]


def run_checks(job_name: str, *, scope: CheckScope) -> list[CheckOutcome]:
    """Run every check of the assets ``job_name`` produces over ``scope``; other jobs give ``[]``."""
    _verified(job_name)
    outcomes: list[CheckOutcome] = []
    for module in _modules(job_name):
        if module.SOURCE == "metadata":
            outcomes += [o for _, check in module.CHECKS for o in check(scope)]
        elif module.CHECKS:
            outcomes += _run_warehouse_checks(module.CHECKS, scope)
    return outcomes
