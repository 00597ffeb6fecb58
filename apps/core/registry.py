"""The one registry of jobs, assets, their checks and dependencies (SPEC §5).

Pure data plus small queries over it, at the bottom of the house: ``run_daily``, the job runner, the
scheduler, the check framework, the gap planner, freshness and the health page all read this module;
nothing else spells a job's function, checks, assets or dependencies. Functions and check modules are
named by dotted path (resolved by the job runner and the check framework), so this module imports no app.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class AssetSpec:
    key: str
    kind: str  # table | file | view
    job: str  # the job that produces it
    upstream: tuple[str, ...] = ()
    per_symbol: bool = True  # scope is a symbol; otherwise always "ALL"
    deadline: dt.time = dt.time(18, 30)  # market time after which the last session is expected
    stale_after: int = 1  # sessions behind before "warning"
    error_after: int = 3  # sessions behind before "degraded"
    # False for reference data its job writes without a watermark (SPEC §6.2): freshness and the
    # gap planner follow the job's watermarked sibling instead.
    watermarked: bool = True


@dataclass(frozen=True)
class JobSpec:
    name: str
    description: str
    function: str  # dotted path of the job function: ``fn(params, log) -> JobResult``
    # Dotted paths of the modules holding this job's data-quality checks (each has ``CHECKS`` and
    # ``SOURCE``: "warehouse" or "metadata"); they live beside the data they check.
    checks: tuple[str, ...] = ()
    timeout_s: int = 3600  # a started run with an older heartbeat is abandoned
    # A partition already stored from the same inputs is skipped (``up_to_date``) unless the run
    # is forced (``--force``, the ``force`` job option).
    skips_finished: bool = False

    @property
    def assets(self) -> tuple[AssetSpec, ...]:
        return tuple(asset for asset in ASSETS if asset.job == self.name)

    @property
    def per_symbol(self) -> bool:
        return any(asset.per_symbol for asset in self.assets)


JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        "ingest_candles",
        "Daily candles per symbol",
        "apps.market.jobs.ingest_candles",
        checks=("apps.market.checks.candles",),
        timeout_s=1800,
        skips_finished=True,
    ),
    JobSpec(
        "ingest_options_bars",
        "Option contracts and daily option bars",
        "apps.market.jobs.ingest_options_bars",
        checks=("apps.market.checks.option_bars",),
        timeout_s=3600,
        skips_finished=True,
    ),
    JobSpec(
        "snapshot_options",
        "Full option-chain snapshot with greeks and IV",
        "apps.market.jobs.snapshot_options",
        checks=("apps.market.checks.snapshots",),
        timeout_s=3600,
        skips_finished=True,
    ),
    JobSpec(
        "compute_flow",
        "Options flow from day-over-day open-interest changes",
        "apps.analytics.jobs.compute_flow",
        checks=("apps.analytics.checks.flow",),
        timeout_s=1800,
        skips_finished=True,
    ),
    JobSpec(
        "compute_derived",
        "Derived volatility and positioning metrics",
        "apps.analytics.jobs.compute_derived",
        checks=("apps.analytics.checks.derived",),
        timeout_s=1800,
        skips_finished=True,
    ),
    JobSpec(
        "build_briefing",
        "Daily briefing (Markdown + JSON)",
        "apps.analytics.jobs.build_briefing",
        timeout_s=900,
        skips_finished=True,
    ),
    JobSpec(
        "build_dashboard",
        "The portal home page's stored view model",
        "apps.analytics.jobs.build_dashboard",
        timeout_s=600,
    ),
)
PIPELINE_JOB = "run_daily"

ASSETS: tuple[AssetSpec, ...] = (
    AssetSpec("candles_daily", "table", "ingest_candles"),
    AssetSpec("option_contracts", "table", "ingest_options_bars", watermarked=False),
    AssetSpec("option_bars", "table", "ingest_options_bars"),
    AssetSpec("options_snapshots", "table", "snapshot_options", upstream=("candles_daily",)),
    AssetSpec("options_flow", "table", "compute_flow", upstream=("options_snapshots",)),
    AssetSpec(
        "derived_daily", "table", "compute_derived", upstream=("options_snapshots", "candles_daily")
    ),
    AssetSpec(
        "briefing_markdown",
        "file",
        "build_briefing",
        upstream=("options_flow", "derived_daily"),
        per_symbol=False,
        deadline=dt.time(19, 0),
    ),
    AssetSpec(
        "briefing_json",
        "file",
        "build_briefing",
        upstream=("options_flow", "derived_daily"),
        per_symbol=False,
        deadline=dt.time(19, 0),
    ),
    AssetSpec(
        "dashboard_view",
        "view",
        "build_dashboard",
        upstream=("briefing_json",),
        per_symbol=False,
        deadline=dt.time(19, 0),
    ),
)

JOB_NAMES: tuple[str, ...] = tuple(job.name for job in JOBS) + (PIPELINE_JOB,)
# Jobs that take ``force`` (``run_daily --force`` forces each of them).
FORCEABLE_JOBS: tuple[str, ...] = tuple(job.name for job in JOBS if job.skips_finished)
ASSET_KEYS: tuple[str, ...] = tuple(asset.key for asset in ASSETS)
ALL_SCOPE = "ALL"


class UnknownName(KeyError):
    """A job or asset name that the registry does not know."""


@cache
def _jobs_by_name() -> dict[str, JobSpec]:
    return {job.name: job for job in JOBS}


@cache
def _assets_by_key() -> dict[str, AssetSpec]:
    return {asset.key: asset for asset in ASSETS}


def job(name: str) -> JobSpec:
    try:
        return _jobs_by_name()[name]
    except KeyError:
        raise UnknownName(f"unknown job {name!r}; known: {', '.join(JOB_NAMES)}") from None


def asset(key: str) -> AssetSpec:
    try:
        return _assets_by_key()[key]
    except KeyError:
        raise UnknownName(f"unknown asset {key!r}; known: {', '.join(ASSET_KEYS)}") from None


def job_timeout_s(name: str) -> int:
    """The heartbeat timeout of a job; the pipeline itself may run as long as all its jobs."""
    if name == PIPELINE_JOB:
        return sum(spec.timeout_s for spec in JOBS)
    return job(name).timeout_s


def upstream_jobs(name: str) -> tuple[str, ...]:
    """Jobs whose assets the given job reads, in pipeline order."""
    needed = {up for spec in job(name).assets for up in spec.upstream}
    producers = {asset(key).job for key in needed} - {name}
    return tuple(spec.name for spec in JOBS if spec.name in producers)


def pipeline_order() -> tuple[str, ...]:
    """Jobs in dependency order (the registry lists them that way; verified here)."""
    seen: set[str] = set()
    for spec in JOBS:
        missing = [up for up in upstream_jobs(spec.name) if up not in seen]
        if missing:
            raise AssertionError(f"registry order: {spec.name} listed before {missing}")
        seen.add(spec.name)
    return tuple(spec.name for spec in JOBS)
