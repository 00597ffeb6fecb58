"""django-q2 tasks: thin doors onto the services the management commands call (SPEC §10).

A task resolves its inputs (symbols, provider, as-of), calls ``run_pipeline`` or ``execute_job`` with
``parent_run_id`` = its own django-q2 task id, and returns a small JSON-able dict. The ledger decides
run status; a task only reports it. When another copy of the same job partition is running, the
JobLease refuses and the task returns ``{"status": "refused", "refused": True, ...}`` instead of
raising, so an overlapping schedule is a visible, successful no-op rather than a failure to retry.

django-q2 does not pass a task its id, so the ``pre_execute`` signal (sent in the worker just before
the function runs, also for ``sync`` tasks) records it in a context variable that
:func:`current_task_id` reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.dispatch import receiver
from django_q.signals import post_execute_in_worker, pre_execute

from apps.analytics import stores as analytics_stores
from apps.core import registry
from apps.core.jobs import JobParams
from apps.ledger.models import TriggeredBy
from apps.ledger.services import housekeeping
from apps.pipeline.daily import FanOut, fan_out_default, run_pipeline
from apps.pipeline.jobs import execute_job
from apps.pipeline.requests import job_options, job_params, request_as_of
from optionshelper import warehouse

RUN_JOB_TASK = "apps.pipeline.tasks.run_job_task"
SCHEDULED_RUN_DAILY = "apps.pipeline.tasks.scheduled_run_daily"
HOUSEKEEPING_TASK = "apps.pipeline.tasks.housekeeping_task"
TASK_TRIGGERS = (TriggeredBy.SCHEDULE, TriggeredBy.ADMIN, TriggeredBy.TASK)

_current_task_id: ContextVar[str] = ContextVar("django_q_task_id", default="")
_current_task_sync: ContextVar[bool] = ContextVar("django_q_task_sync", default=False)


@receiver(pre_execute, dispatch_uid="optionshelper.remember_task_id")
def _remember_task_id(sender: Any, task: dict, **kwargs: Any) -> None:
    _current_task_id.set(str(task.get("id") or ""))
    _current_task_sync.set(bool(task.get("sync")))


@receiver(post_execute_in_worker, dispatch_uid="optionshelper.forget_task_id")
def _forget_task_id(sender: Any, task: dict, **kwargs: Any) -> None:
    _current_task_id.set("")
    _current_task_sync.set(False)


def current_task_id() -> str:
    """The id of the django-q2 task executing now ("" when called outside a worker)."""
    return _current_task_id.get()


def _params(
    *,
    as_of: str | dt.date | None,
    symbols: Iterable[str] | None,
    provider: str | None,
    options: dict[str, Any] | None,
    job: str | None = None,
) -> JobParams:
    """The same resolution and option validation as the commands (``apps.pipeline.requests``)."""
    return job_params(as_of=as_of, symbols=symbols, provider=provider, options=options, job=job)


def _check_trigger(triggered_by: str) -> None:
    if triggered_by not in TASK_TRIGGERS:
        raise ValueError(f"triggered_by must be one of {', '.join(TASK_TRIGGERS)}")


def _pipeline(
    params: JobParams, *, triggered_by: str, task_id: str, fan_out: FanOut | None = None
) -> dict[str, Any]:
    result = run_pipeline(params, triggered_by=triggered_by, parent_run_id=task_id, fan_out=fan_out)
    summary = result.to_dict()
    summary.update(task_id=task_id, refused=bool(result.refused), symbols=list(params.symbols))
    return summary


def run_job_task(
    job_name: str,
    *,
    as_of: str | dt.date | None = None,
    symbols: Iterable[str] | None = None,
    provider: str | None = None,
    options: dict[str, Any] | None = None,
    triggered_by: str = TriggeredBy.TASK,
) -> dict[str, Any]:
    """Run one registry job (or ``run_daily``) as a task; ``triggered_by`` is ``task`` or ``admin``."""
    _check_trigger(triggered_by)
    params = _params(as_of=as_of, symbols=symbols, provider=provider, options=options, job=job_name)
    task_id = current_task_id()
    if job_name == registry.PIPELINE_JOB:
        return _pipeline(params, triggered_by=triggered_by, task_id=task_id)
    execution = execute_job(job_name, params, triggered_by=triggered_by, parent_run_id=task_id)
    result = execution.result
    return {
        "job": job_name,
        "task_id": task_id,
        "as_of": params.as_of.market_date.isoformat(),
        "run_id": execution.outcome.run_id or None,
        "status": "refused" if execution.refused else execution.outcome.status,
        "refused": bool(execution.refused),
        "message": execution.refused or execution.outcome.error or None,
        "symbols": list(params.symbols),
        "failed": result.symbols_with("failed") if result else [],
    }


def scheduled_run_daily(
    *,
    as_of: str | dt.date | None = None,
    symbols: Iterable[str] | None = None,
    provider: str | None = None,
) -> dict[str, Any]:
    """What the daily schedule calls: ``run_daily --as-of latest`` for every tracked symbol.

    The arguments exist for tests and one-off schedules; the installed schedule passes none.
    """
    params = _params(as_of=as_of, symbols=symbols, provider=provider, options=None)
    fan_out = fan_out_default()
    if fan_out is not None and _current_task_sync.get():
        # A sync task (tests, a shell) has no cluster behind it: its shards run inline too.
        fan_out = replace(fan_out, q_options={**fan_out.q_options, "sync": True})
    return _pipeline(
        params, triggered_by=TriggeredBy.SCHEDULE, task_id=current_task_id(), fan_out=fan_out
    )


def run_shard_task(
    job_name: str,
    *,
    as_of: str,
    symbols: Iterable[str],
    provider: str | None = None,
    options: dict[str, Any] | None = None,
    parent_run_id: str = "",
    skipped: dict[str, str] | None = None,
    triggered_by: str = TriggeredBy.TASK,
) -> dict[str, Any]:
    """One fan-out shard: ``job_name`` for a few symbols, a child run of the pipeline run.

    Its lease (job, as-of, these symbols) is the claim: a second copy anywhere returns refused.
    """
    params = _params(as_of=as_of, symbols=symbols, provider=provider, options=options)
    execution = execute_job(
        job_name,
        params,
        triggered_by=triggered_by,
        parent_run_id=parent_run_id,
        skipped=dict(skipped or {}),
    )
    result = execution.result
    return {
        "job": job_name,
        "task_id": current_task_id(),
        "as_of": params.as_of.market_date.isoformat(),
        "run_id": execution.outcome.run_id or None,
        "status": "refused" if execution.refused else execution.outcome.status,
        "refused": bool(execution.refused),
        "message": execution.refused or execution.outcome.error or None,
        "symbols": list(params.symbols),
        "failed": result.symbols_with("failed") if result else list(params.symbols),
    }


def housekeeping_task(
    *, runs_older_than_days: int | None = None, checks_older_than_days: int | None = None
) -> dict[str, Any]:
    """Abandon runs whose process or heartbeat is gone, prune past the retention ages, and (lake
    mode) merge small files and expire old snapshots."""
    abandoned = housekeeping.abandon_stale_runs()
    pruned = housekeeping.ledger_prune(
        runs_older_than_days=runs_older_than_days or settings.RETENTION_RUNS_DAYS,
        checks_older_than_days=checks_older_than_days or settings.RETENTION_CHECKS_DAYS,
    )
    pruned |= analytics_stores.flow_partitions_prune(
        older_than=housekeeping.retention_cutoff(days=settings.FLOW_RETENTION_DAYS)
    )
    return {
        "task_id": current_task_id(),
        "abandoned": [str(run.run_id) for run in abandoned],
        **pruned,
        "lake": warehouse.lake_maintain(),
    }


def enqueue_job(
    job_name: str,
    *,
    as_of: str | dt.date | None = None,
    symbols: Iterable[str] | None = None,
    provider: str | None = None,
    options: dict[str, Any] | None = None,
    triggered_by: str = TriggeredBy.TASK,
    q_options: dict[str, Any] | None = None,
) -> str:
    """Queue :func:`run_job_task` for the cluster and return the django-q2 task id.

    Arguments are stored as plain strings and lists so the task admin shows them readably.
    ``q_options`` passes django-q2 options through (e.g. ``{"cluster": ...}`` or ``{"sync": True}``).
    """
    from django_q.tasks import async_task

    registry.job_timeout_s(job_name)  # an unknown job fails here, not later in the worker
    _check_trigger(triggered_by)
    day = request_as_of(as_of)
    options = job_options(job_name, options)
    return async_task(
        RUN_JOB_TASK,
        job_name,
        as_of=day.market_date.isoformat(),
        symbols=list(symbols or ()),
        provider=provider,
        options=dict(options or {}),
        triggered_by=str(triggered_by),
        q_options={"group": job_name, **(q_options or {})},
    )
