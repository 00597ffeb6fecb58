"""The gap planner (SPEC §8.3): ordered backfill steps from watermarks, latest runs and failed checks.

It reads health from ``apps.ledger.selectors.health`` (so "stale" means what the health page says) and
the shape of the pipeline from the registry (so "upstream" is never spelled twice). Each step is one
(job, scope) with one reason and a command to copy; upstream assets come first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.utils import DatabaseError
from django.utils import timezone

from apps.core import registry
from apps.ledger.models import (
    AssetStatus,
    AssetWatermark,
    IngestionRun,
    IngestionRunAsset,
    RunStatus,
)
from apps.ledger.selectors import health

ALL = registry.ALL_SCOPE
# Reason kinds in priority order: one (asset, scope) shows the first that applies.
MISSING = "watermark missing"
_STALE = "watermark stale ({n} sessions)"
_FAILED_CHECKS = "failed checks: {names}"
_FAILED_RUN = "latest failed run: {job}"
_UPSTREAM = "upstream for: {asset}"
_KIND_ORDER = (
    "watermark missing",
    "watermark stale",
    "failed checks",
    "latest failed run",
    "upstream",
)


@dataclass(frozen=True)
class PlanStep:
    order: int
    asset_key: str
    scope_key: str
    job_name: str
    reason: str
    command: str


# Jobs whose command takes --provider (the others read stored data only).
PROVIDER_JOBS = ("ingest_candles", "ingest_options_bars", "snapshot_options")


def _tracked_symbols() -> list[str]:
    """The tracked set health speaks for (portfolio + watchlists); with nothing tracked yet, the
    symbols seen in watermarks."""
    tracked = health.tracked_symbols()
    if tracked:
        return sorted(tracked)
    try:
        symbols = set(
            AssetWatermark.objects.exclude(scope_key=ALL).values_list("scope_key", flat=True)
        )
    except DatabaseError:
        return []
    return sorted({s.strip().upper() for s in symbols if s and s.strip()})


def _last_providers() -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """(asset, scope) → provider of the run that last advanced its watermark, and scope → the
    provider of its newest watermark of any asset (for assets the scope never produced)."""
    by_key: dict[tuple[str, str], str] = {}
    by_scope: dict[str, tuple[dt.datetime, str]] = {}
    rows = AssetWatermark.objects.exclude(last_run__provider="").values_list(
        "asset_key", "scope_key", "last_run__provider", "watermark_ts"
    )
    for asset_key, scope, provider, ts in rows:
        if not provider or asset_key not in registry.ASSET_KEYS:
            continue
        if registry.asset(asset_key).job not in PROVIDER_JOBS:
            continue
        by_key[(asset_key, scope)] = provider
        if scope not in by_scope or by_scope[scope][0] < ts:
            by_scope[scope] = (ts, provider)
    return by_key, {scope: value[1] for scope, value in by_scope.items()}


def _failed_run_scopes() -> dict[str, set[str] | None]:
    """job → scopes its latest finished run failed for (``None`` meaning every scope).

    A failed or abandoned run failed everywhere; a partial run only for its failed partitions.
    """
    latest = health.latest_run_by_job(finished_only=True)
    failed: dict[str, set[str] | None] = {}
    partial: list[IngestionRun] = []
    for job_name, run in latest.items():
        if run.status in (RunStatus.FAILED, RunStatus.ABANDONED):
            failed[job_name] = None
        elif run.status == RunStatus.PARTIAL:
            partial.append(run)
    events = IngestionRunAsset.objects.filter(run__in=partial, status=AssetStatus.FAILED)
    for job_name, partition in events.values_list("run__job_name", "partition_key"):
        scopes = failed.setdefault(job_name, set())
        if scopes is not None:
            scopes.add(partition)
    return failed


def _own_reason(
    spec: registry.AssetSpec,
    scope: str,
    row: health.AssetHealth | None,
    failed_runs: dict[str, set[str] | None],
) -> str | None:
    if row is None or row.watermark_date is None:
        return MISSING
    if row.sessions_behind and row.sessions_behind >= spec.stale_after:
        return _STALE.format(n=row.sessions_behind)
    if row.failed_checks:
        return _FAILED_CHECKS.format(names=", ".join(row.failed_checks))
    if spec.job in failed_runs:
        scopes = failed_runs[spec.job]
        if scopes is None or scope in scopes or ALL in scopes:
            return _FAILED_RUN.format(job=spec.job)
    return None


def _upstream_reason(
    spec: registry.AssetSpec, scope: str, needs: dict[str, dict[str, str]]
) -> str | None:
    for up in spec.upstream:
        needed = needs.get(up, {})
        if needed and (not spec.per_symbol or scope in needed or ALL in needed):
            return _UPSTREAM.format(asset=up)
    return None


def _kind(reason: str) -> int:
    return next(i for i, prefix in enumerate(_KIND_ORDER) if reason.startswith(prefix))


def _merged_reason(reasons: Iterable[str]) -> str:
    """One reason for a collapsed ALL step: the highest-priority kind, summarised across symbols."""
    reasons = list(reasons)
    top = min(_kind(r) for r in reasons)
    same = sorted({r for r in reasons if _kind(r) == top})
    if len(same) == 1:
        return same[0]
    if _KIND_ORDER[top] == "watermark stale":
        return _STALE.format(n=max(int(re.search(r"\d+", r).group()) for r in same))
    if _KIND_ORDER[top] == "failed checks":
        names = sorted({n for r in same for n in r.split(": ", 1)[1].split(", ")})
        return _FAILED_CHECKS.format(names=", ".join(names))
    return same[0]


def _needs(
    rows: dict[tuple[str, str], health.AssetHealth], tracked: list[str]
) -> dict[str, dict[str, str]]:
    """asset → {scope: reason} for every (asset, scope) that needs a step, in registry order."""
    failed_runs = _failed_run_scopes()
    produced = {asset for (asset, _), row in rows.items() if row.watermark_date is not None}
    needs: dict[str, dict[str, str]] = {}
    for spec in registry.ASSETS:
        if spec.key not in produced and health.represented_by_sibling(spec.key, produced):
            continue  # e.g. option_contracts: the option_bars steps cover the job
        scopes = tracked if spec.per_symbol else [ALL]
        found = {}
        for scope in scopes:
            reason = _own_reason(spec, scope, rows.get((spec.key, scope)), failed_runs)
            reason = reason or _upstream_reason(spec, scope, needs)
            if reason:
                found[scope] = reason
        if spec.per_symbol and found and set(found) == set(tracked):
            found = {ALL: _merged_reason(found.values())}
        needs[spec.key] = found
    return needs


def _command(job_name: str, as_of: dt.date, scope: str, provider: str | None = None) -> str:
    command = f"python manage.py {job_name} --as-of {as_of.isoformat()}"
    if scope != ALL:
        command = f"{command} --symbol {scope}"
    return f"{command} --provider {provider}" if provider else command


def _provider_for(
    asset_key: str,
    scope: str,
    tracked: list[str],
    providers: tuple[dict[tuple[str, str], str], dict[str, str]],
) -> str | None:
    """The provider of the asset's last successful run for that scope (one provider shared by
    every tracked symbol for an ALL step); None leaves the default provider."""
    if registry.asset(asset_key).job not in PROVIDER_JOBS:
        return None
    by_key, by_scope = providers
    scopes = tracked if scope == ALL else [scope]
    found = {by_key.get((asset_key, s)) or by_scope.get(s) for s in scopes}
    return found.pop() if len(found) == 1 else None


def _mixed_providers(
    asset_key: str,
    tracked: list[str],
    providers: tuple[dict[tuple[str, str], str], dict[str, str]],
) -> bool:
    """True when the tracked symbols' data of a provider job came from more than one provider."""
    if registry.asset(asset_key).job not in PROVIDER_JOBS:
        return False
    by_key, by_scope = providers
    found = {by_key.get((asset_key, s)) or by_scope.get(s) for s in tracked}
    return len(found - {None}) >= 1 and len(found) > 1


def _steps(
    needs: dict[str, dict[str, str]], now: dt.datetime, tracked: list[str]
) -> list[PlanStep]:
    """One step per (job, scope); a job's ALL step replaces its per-symbol steps."""
    providers = _last_providers()
    by_job: dict[str, list[tuple[str, str, str]]] = {}
    for spec in registry.ASSETS:
        for scope, reason in needs.get(spec.key, {}).items():
            by_job.setdefault(spec.job, []).append((spec.key, scope, reason))
    steps: list[PlanStep] = []
    for job_name, candidates in by_job.items():  # registry order: upstream jobs first
        whole = [c for c in candidates if c[1] == ALL]
        chosen: dict[str, tuple[str, str, str]] = {}
        for candidate in whole[:1] or sorted(candidates, key=lambda c: c[1]):
            chosen.setdefault(candidate[1], candidate)
        if ALL in chosen and _mixed_providers(chosen[ALL][0], tracked, providers):
            asset_key, _, reason = chosen.pop(ALL)  # one step per symbol, each with its provider
            chosen.update({s: (asset_key, s, reason) for s in tracked})
        for asset_key, scope, reason in chosen.values():
            as_of = health.expected_market_date(asset_key, now=now)
            steps.append(
                PlanStep(
                    order=len(steps) + 1,
                    asset_key=asset_key,
                    scope_key=scope,
                    job_name=job_name,
                    reason=reason,
                    command=_command(
                        job_name, as_of, scope, _provider_for(asset_key, scope, tracked, providers)
                    ),
                )
            )
    return steps


def plan_gaps(
    *,
    now: dt.datetime | None = None,
    symbols: list[str] | None = None,
    health_rows: list[health.AssetHealth] | None = None,
) -> list[PlanStep]:
    """Ordered backfill steps for the tracked symbols (``symbols``, else :func:`_tracked_symbols`).

    ``health_rows`` lets a caller that already computed :func:`health.asset_health_rows` (for the
    same ``now``) pass them in instead of having them computed twice.
    """
    now = now or timezone.now()
    tracked = (
        sorted({s.strip().upper() for s in symbols if s.strip()})
        if symbols is not None
        else _tracked_symbols()
    )
    if health_rows is None:
        health_rows = health.asset_health_rows(now=now)
    rows = {(r.asset_key, r.scope_key): r for r in health_rows}
    return _steps(_needs(rows, tracked), now, tracked)
