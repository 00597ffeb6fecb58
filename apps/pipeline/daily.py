"""run_daily: the whole pipeline for one as-of, in dependency order from the registry (SPEC §6.2).

The pipeline is itself a run (job ``run_daily``); each job is its own child run with
``parent_run_id`` = the pipeline run. A symbol that failed (or was skipped for a failure) in a job's
upstream is not attempted downstream: it is recorded ``skipped`` with reason ``upstream_failed``.

**Fan-out** (``run_daily --fan-out``; the scheduled run on a Redis broker with several workers): each
per-symbol job's symbol set is split into shards (one symbol each by default), each shard queued as a
django-q2 task that runs :func:`apps.pipeline.jobs.execute_job` as its own child run of the pipeline
run. The pipeline waits for a job's shards (with a bound) before the next job starts, so dependency
order holds; a shard's lease (job, as-of, symbols) makes it run once even with several clusters.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django_q.models import Task
from django_q.tasks import async_task

from apps.core import calendar, registry
from apps.core.asof import AsOf, as_of_for_market_date
from apps.core.jobs import JobParams, JobResult, PartitionResult
from apps.ledger.models import RunStatus
from apps.ledger.services.run_types import JobAlreadyRunning, RunOutcome
from apps.ledger.services.runs import decide_status, job_run
from apps.pipeline.jobs import JobExecution, execute_job

UPSTREAM_FAILED = "upstream_failed"
SHARD_TASK = "apps.pipeline.tasks.run_shard_task"
SHARD_NOT_FINISHED = "shard_not_finished"
_POLL_S = 0.25


@dataclass(frozen=True)
class FanOut:
    """How ``run_pipeline`` spreads a job over workers: ``shard_size`` symbols per task, waiting at
    most ``wait_s`` per job (default: the job's registry timeout); ``q_options`` go to django-q2."""

    shard_size: int = 1
    wait_s: float | None = None
    q_options: dict[str, Any] = field(default_factory=dict)


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


def shards(symbols: tuple[str, ...], size: int) -> list[tuple[str, ...]]:
    """The symbol set cut into consecutive shards of ``size`` (the last may be shorter)."""
    size = max(int(size), 1)
    return [symbols[i : i + size] for i in range(0, len(symbols), size)]


def _wait_for(task_ids: list[str], deadline: float) -> dict[str, Task]:
    """Poll django-q2's result table until every task has a result or the deadline passes."""
    done: dict[str, Task] = {}
    while True:
        pending = [t for t in task_ids if t not in done]
        if pending:
            done.update({t.id: t for t in Task.objects.filter(id__in=pending)})
        if len(done) == len(task_ids) or time.monotonic() >= deadline:
            return done
        time.sleep(_POLL_S)


def fan_out_job(
    job_name: str,
    params: JobParams,
    *,
    skipped: dict[str, str],
    triggered_by: str,
    parent_run_id: str,
    fan_out: FanOut,
) -> tuple[JobExecution, list[str]]:
    """Queue one task per shard, wait, and fold the children into one execution for the report.

    Returns the execution plus each child's status (one per shard; ``failed`` when a shard did not
    finish within the bound, raised, or was refused because another cluster holds it).
    """
    parts = shards(params.symbols, fan_out.shard_size)
    as_of = params.as_of.market_date.isoformat()
    task_ids = []
    for index, part in enumerate(parts):
        task_ids.append(
            async_task(
                SHARD_TASK,
                job_name,
                as_of=as_of,
                symbols=list(part),
                provider=params.provider,
                options=dict(params.options),
                parent_run_id=parent_run_id,
                skipped=skipped if index == 0 else {},
                triggered_by=str(triggered_by),
                q_options={
                    "group": f"{registry.PIPELINE_JOB}:{parent_run_id}:{job_name}",
                    "timeout": registry.job_timeout_s(job_name),
                    **fan_out.q_options,
                },
            )
        )
    wait_s = fan_out.wait_s if fan_out.wait_s is not None else registry.job_timeout_s(job_name)
    finished = _wait_for(task_ids, time.monotonic() + wait_s)
    partitions: list[PartitionResult] = [
        PartitionResult(s, "skipped", detail=reason) for s, reason in skipped.items()
    ]
    statuses: list[str] = []
    child_runs: list[str] = []
    for part, task_id in zip(parts, task_ids, strict=True):
        task = finished.get(task_id)
        summary = task.result if task is not None and task.success else None
        if not isinstance(summary, dict) or summary.get("refused"):
            detail = SHARD_NOT_FINISHED if task is None else (summary or {}).get("message") or ""
            partitions += [PartitionResult(s, "failed", detail=str(detail)) for s in part]
            statuses.append(RunStatus.FAILED)
            continue
        child_runs.append(str(summary.get("run_id") or ""))
        failed = set(summary.get("failed") or [])
        partitions += [PartitionResult(s, "failed" if s in failed else "success") for s in part]
        statuses.append(summary.get("status") or RunStatus.FAILED)
    ok = sum(1 for status in statuses if status == RunStatus.SUCCESS)
    outcome = RunOutcome(status=decide_status(ok=ok, failed=len(statuses) - ok) if statuses else "")
    outcome.run_id = ",".join(r for r in child_runs if r)
    result = JobResult(job_name, market_date=params.as_of.market_date, partitions=partitions)
    return JobExecution(outcome, result), statuses


def run_pipeline(
    params: JobParams,
    *,
    triggered_by: str = "cli",
    parent_run_id: str = "",
    job_options: dict[str, dict[str, Any]] | None = None,
    fan_out: FanOut | None = None,
) -> PipelineResult:
    """Run every registry job for one as-of; each job's failures stay per symbol.

    With ``fan_out`` the per-symbol jobs run as django-q2 tasks (see the module docstring).
    """
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
                skipped = {s: UPSTREAM_FAILED for s in params.symbols if s in blocked}
                if fan_out is not None and registry.job(job_name).per_symbol and job_params.symbols:
                    execution, statuses = fan_out_job(
                        job_name,
                        job_params,
                        skipped=skipped,
                        triggered_by=triggered_by,
                        parent_run_id=log.run_id,
                        fan_out=fan_out,
                    )
                    for status in statuses:
                        log.child_finished(status)
                else:
                    execution = execute_job(
                        job_name,
                        job_params,
                        triggered_by=triggered_by,
                        parent_run_id=log.run_id,
                        skipped=skipped,
                    )
                    log.child_finished(
                        execution.outcome.status if not execution.refused else "failed"
                    )
                result.jobs.append((job_name, execution))
                failed = set(execution.result.symbols_with("failed")) if execution.result else set()
                failed_by_job[job_name] = failed | blocked
    except JobAlreadyRunning as exc:
        result.refused = str(exc)
    return result


def fan_out_default() -> FanOut | None:
    """The scheduled run fans out when the broker is Redis and a cluster has at least 2 workers
    (the waiting pipeline task holds one worker); otherwise it runs in one process."""
    if not settings.Q_CLUSTER.get("redis") or int(settings.Q_CLUSTER.get("workers", 1)) < 2:
        return None
    return FanOut(shard_size=int(getattr(settings, "FANOUT_SHARD_SIZE", 1)))


def run_range(
    params: JobParams,
    *,
    start: dt.date,
    end: dt.date,
    triggered_by: str = "cli",
    job_options: dict[str, dict[str, Any]] | None = None,
    fan_out: FanOut | None = None,
    on_result: Callable[[PipelineResult], None] | None = None,
) -> list[PipelineResult]:
    """Backfill: the pipeline once per trading session from ``start`` to ``end``, oldest first.

    ``on_result`` hears about each session as soon as it finishes (commands print as they go).
    """
    results = []
    for day in calendar.sessions_between(start, end):
        result = run_pipeline(
            replace(params, as_of=as_of_for_market_date(day)),
            triggered_by=triggered_by,
            job_options=job_options,
            fan_out=fan_out,
        )
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
