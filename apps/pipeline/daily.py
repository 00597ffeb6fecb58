"""run_daily: the whole pipeline for one as-of, in dependency order from the registry (SPEC §6.2).

The pipeline is itself a run (job ``run_daily``); each job is its own child run with
``parent_run_id`` = the pipeline run. A symbol that failed (or was skipped for a failure) in a job's
upstream is not attempted downstream: it is recorded ``skipped`` with reason ``upstream_failed``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from apps.core import calendar, registry
from apps.core.asof import AsOf, as_of_for_market_date
from apps.core.jobs import JobParams
from apps.ledger.services.runs import JobAlreadyRunning, RunOutcome, job_run
from apps.pipeline.jobs import JobExecution, execute_job

UPSTREAM_FAILED = "upstream_failed"


@dataclass
class PipelineResult:
    as_of: AsOf
    outcome: RunOutcome
    jobs: list[tuple[str, JobExecution]] = field(default_factory=list)
    refused: str = ""

    @property
    def exit_code(self) -> int:
        return 1 if self.refused else self.outcome.exit_code

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": registry.PIPELINE_JOB,
            "as_of": self.as_of.market_date.isoformat(),
            "run_id": self.outcome.run_id or None,
            "status": "refused" if self.refused else self.outcome.status,
            "message": self.refused or None,
            "jobs": [
                {
                    "job": name,
                    "run_id": ex.outcome.run_id or None,
                    "status": ex.outcome.status if not ex.refused else "refused",
                    "failed": ex.result.symbols_with("failed") if ex.result else [],
                    "skipped": ex.result.symbols_with("skipped") if ex.result else [],
                }
                for name, ex in self.jobs
            ],
        }


def _blocked_symbols(job_name: str, failed_by_job: dict[str, set[str]]) -> set[str]:
    """Symbols whose upstream job failed them (transitively, via the skip sets)."""
    blocked: set[str] = set()
    for upstream in registry.upstream_jobs(job_name):
        blocked |= failed_by_job.get(upstream, set())
    return blocked


def run_pipeline(
    params: JobParams,
    *,
    triggered_by: str = "cli",
    parent_run_id: str = "",
    job_options: dict[str, dict[str, Any]] | None = None,
) -> PipelineResult:
    """Run every registry job for one as-of; each job's failures stay per symbol."""
    outcome = RunOutcome()
    result = PipelineResult(params.as_of, outcome)
    job_options = params.options if job_options is None else job_options
    try:
        with job_run(
            job_name=registry.PIPELINE_JOB,
            triggered_by=triggered_by,
            args=params.ledger_args(registry.PIPELINE_JOB),
            provider=params.provider,
            as_of=params.as_of.market_date,
            parent_run_id=parent_run_id,
            outcome=outcome,
        ) as log:
            failed_by_job: dict[str, set[str]] = {}
            for job_name in registry.pipeline_order():
                blocked = _blocked_symbols(job_name, failed_by_job)
                job_params = replace(
                    params,
                    symbols=tuple(s for s in params.symbols if s not in blocked),
                    options=job_options.get(job_name, {}),
                )
                execution = execute_job(
                    job_name,
                    job_params,
                    triggered_by=triggered_by,
                    parent_run_id=log.run_id,
                    skipped={s: UPSTREAM_FAILED for s in params.symbols if s in blocked},
                )
                result.jobs.append((job_name, execution))
                log.child_finished(execution.outcome.status if not execution.refused else "failed")
                failed = set(execution.result.symbols_with("failed")) if execution.result else set()
                failed_by_job[job_name] = failed | blocked
    except JobAlreadyRunning as exc:
        result.refused = str(exc)
    return result


def run_range(
    params: JobParams,
    *,
    start: dt.date,
    end: dt.date,
    triggered_by: str = "cli",
    job_options: dict[str, dict[str, Any]] | None = None,
) -> list[PipelineResult]:
    """Backfill: the pipeline once per trading session from ``start`` to ``end``, oldest first."""
    return [
        run_pipeline(
            replace(params, as_of=as_of_for_market_date(day)),
            triggered_by=triggered_by,
            job_options=job_options,
        )
        for day in calendar.sessions_between(start, end)
    ]
