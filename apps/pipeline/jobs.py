"""Running one job: the single service behind the management commands, run_daily, tasks and admin.

``execute_job`` opens the ledger run (``job_run``), calls the job function, runs the job's data-quality
checks on what it wrote, and returns the run outcome plus the job's own result. Status and exit code
are decided by the ledger context, never by parsing output.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from apps.ledger.checks import CheckScope, run_checks
from apps.ledger.services.runs import JobAlreadyRunning, RunOutcome, job_run
from apps.pipeline import registry
from apps.pipeline.progress import progress

logger = logging.getLogger("optionshelper.jobs")

# The function that implements each job (imported lazily: the registry must stay import-light).
JOB_FUNCTIONS: dict[str, str] = {
    "ingest_candles": "apps.market.jobs.ingest_candles",
    "ingest_options_bars": "apps.market.jobs.ingest_options_bars",
    "snapshot_options": "apps.market.jobs.snapshot_options",
    "compute_flow": "apps.analytics.jobs.compute_flow",
    "compute_derived": "apps.analytics.jobs.compute_derived",
    "build_briefing": "apps.analytics.jobs.build_briefing",
    "build_dashboard": "apps.analytics.jobs.build_dashboard",
}


@dataclass(frozen=True)
class JobParams:
    """Everything a job run needs; ``as_of=None`` means "latest"."""

    as_of: dt.date | None = None
    symbols: tuple[str, ...] = ()
    provider: str = "demo"
    options: dict[str, Any] = field(default_factory=dict)

    def ledger_args(self, job_name: str) -> dict[str, Any]:
        return {
            "job": job_name,
            "as_of": self.as_of.isoformat() if self.as_of else "latest",
            "symbols": list(self.symbols),
            "provider": self.provider,
            **self.options,
        }


@dataclass
class PartitionResult:
    symbol: str
    status: str  # success | failed | skipped
    rows: int = 0
    detail: str = ""
    market_date: dt.date | None = None


@dataclass
class JobResult:
    """What a job function returns: per-partition outcomes plus job-specific output."""

    job_name: str
    market_date: dt.date | None = None
    partitions: list[PartitionResult] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)

    def symbols_with(self, status: str) -> list[str]:
        return [p.symbol for p in self.partitions if p.status == status]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["market_date"] = self.market_date.isoformat() if self.market_date else None
        for partition in data["partitions"]:
            day = partition["market_date"]
            partition["market_date"] = day.isoformat() if day else None
        return data


@dataclass
class JobExecution:
    outcome: RunOutcome
    result: JobResult | None
    refused: str = ""  # set when another copy holds the partition

    @property
    def exit_code(self) -> int:
        return 1 if self.refused else self.outcome.exit_code


def for_each_symbol(
    params: JobParams,
    log,
    *,
    job: str,
    asset_key: str,
    work: Callable[[str, dt.datetime], PartitionResult],
    skip_on: Mapping[type[Exception], str] | None = None,
) -> list[PartitionResult]:
    """Run ``work(symbol, started_at)`` per symbol (one partition each), isolating failures.

    An exception of a type in ``skip_on`` records the partition ``skipped`` with that reason (e.g. a
    provider with no data for the date); any other exception records it ``failed`` and the loop
    goes on with the next symbol.
    """
    skip_on = skip_on or {}
    results = []
    for symbol in progress(params.symbols, desc=job):
        started = dt.datetime.now(dt.UTC)
        try:
            result = work(symbol, started)
        except tuple(skip_on) as exc:
            reason = next(r for kind, r in skip_on.items() if isinstance(exc, kind))
            detail = getattr(exc, "cause", str(exc))
            log.asset_skipped(
                asset_key, symbol, reason, started_at=started, extra={"detail": detail}
            )
            result = PartitionResult(symbol, "skipped", detail=f"{reason}: {detail}")
        except Exception as exc:  # one symbol's failure must not stop the others
            log.asset_failed(asset_key, symbol, exc, started_at=started)
            result = PartitionResult(symbol, "failed", detail=f"{type(exc).__name__}: {exc}")
        results.append(result)
    return results


def job_function(job_name: str):
    module_name, _, attr = JOB_FUNCTIONS[job_name].rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def _run_checks(spec: registry.JobSpec, result: JobResult, log) -> None:
    """The job's data-quality checks over what it wrote (nothing written per symbol: nothing to do)."""
    written = tuple(result.symbols_with("success"))
    if spec.per_symbol and not written:
        return
    scope = CheckScope(
        symbols=written,
        market_date=result.market_date,
        provider=result.output.get("provider"),
        run_id=log.run_id or None,
    )
    log.record_checks(run_checks(spec.name, scope=scope))


def _record_skipped(spec: registry.JobSpec, skipped: dict[str, str], log) -> None:
    """Symbols the caller will not attempt (e.g. ``upstream_failed``) are recorded as skipped."""
    for symbol, reason in skipped.items():
        for asset in spec.assets:
            if asset.per_symbol:
                log.asset_skipped(asset.key, symbol, reason)


def _skips(skipped: dict[str, str]) -> list[PartitionResult]:
    return [PartitionResult(s, "skipped", detail=reason) for s, reason in skipped.items()]


def execute_job(
    job_name: str,
    params: JobParams,
    *,
    triggered_by: str = "cli",
    parent_run_id: str = "",
    ledger: bool = True,
    skipped: dict[str, str] | None = None,
) -> JobExecution:
    """Run one job inside its ledger run and return the outcome; never raises for a job failure.

    An exception inside the job marks the run ``failed`` (type, message, stack hash) and comes back
    as an execution without a result; a second copy of the same partition comes back ``refused``.
    """
    spec = registry.job(job_name)
    skipped = skipped or {}
    outcome = RunOutcome()
    function = job_function(job_name)
    try:
        with job_run(
            job_name=job_name,
            triggered_by=triggered_by,
            args=params.ledger_args(job_name),
            provider=params.provider,
            as_of=params.as_of,
            symbols=list(params.symbols) if spec.per_symbol else None,
            parent_run_id=parent_run_id,
            ledger=ledger,
            outcome=outcome,
        ) as log:
            _record_skipped(spec, skipped, log)
            if spec.per_symbol and not params.symbols:
                if not skipped:
                    log.asset_skipped(spec.assets[0].key, registry.ALL_SCOPE, "no_symbols")
                result = JobResult(job_name, partitions=_skips(skipped))
            else:
                result = function(params, log=log)
                result.partitions += _skips(skipped)
                _run_checks(spec, result, log)
    except JobAlreadyRunning as exc:
        return JobExecution(outcome, None, refused=str(exc))
    except Exception:  # the run is already recorded as failed with its error and stack hash
        logger.debug("job %s failed", job_name, exc_info=True)
        return JobExecution(outcome, None)
    return JobExecution(outcome, result)
