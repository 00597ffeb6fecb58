"""Running one job: the single service behind the management commands, run_daily, tasks and admin.

``execute_job`` opens the ledger run (``job_run``), calls the job function, runs the job's data-quality
checks on what it wrote, and returns the run outcome plus the job's own result. Status and exit code
are decided by the ledger context, never by parsing output.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.module_loading import import_string

from apps.core import registry
from apps.core.jobs import JobParams, JobResult, PartitionResult
from apps.ledger.checks import CheckScope, run_checks
from apps.ledger.services.errors import redact_text
from apps.ledger.services.run_types import JobAlreadyRunning, RunOutcome
from apps.ledger.services.runs import job_run

logger = logging.getLogger("optionshelper.jobs")


@dataclass
class JobExecution:
    outcome: RunOutcome
    result: JobResult | None
    refused: str = ""  # set when another copy holds the partition

    @property
    def exit_code(self) -> int:
        return 1 if self.refused else self.outcome.exit_code


def job_function(job_name: str) -> Callable[..., JobResult]:
    """The function the registry names for ``job_name`` (imported on first use)."""
    return import_string(registry.job(job_name).function)


def _run_checks(
    spec: registry.JobSpec, result: JobResult, log, *, written_since: dt.datetime
) -> None:
    """The job's data-quality checks over what it wrote (nothing written per symbol: nothing to do)."""
    written = tuple(result.symbols_with("success"))
    if (spec.per_symbol and not written) or result.output.get("persisted") is False:
        return
    scope = CheckScope(
        symbols=written,
        market_date=result.market_date,
        provider=result.output.get("provider"),
        run_id=log.run_id or None,
        written_since=written_since,
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
            as_of=params.as_of.market_date,
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
                started = dt.datetime.now(dt.UTC)
                with log.batched():  # the job's events and watermarks land in few transactions
                    result = function(params, log=log)
                if result.output.get("data_provider"):
                    log.record_provider(result.output["data_provider"])
                result.partitions += _skips(skipped)
                _run_checks(spec, result, log, written_since=started)
    except JobAlreadyRunning as exc:
        return JobExecution(_redacted(outcome), None, refused=redact_text(str(exc)))
    except Exception:  # the run is already recorded as failed with its error and stack hash
        logger.debug("job %s failed", job_name, exc_info=True)
        return JobExecution(_redacted(outcome), None)
    return JobExecution(_redacted(outcome), result)


def _redacted(outcome: RunOutcome) -> RunOutcome:
    """The error text that commands, tasks and run_daily print, masked as the ledger masks it."""
    outcome.error = redact_text(outcome.error or "")
    return outcome
