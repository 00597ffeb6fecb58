"""Admin doors onto the pipeline: job actions on runs, the gap planner, links to django-q2 tasks.

Enqueueing a job (the gap planner's page and its Enqueue, "Re-run selected failed runs") needs the
``ledger.run_jobs`` permission (the "operators" group), not just staff status; without it those
answer 403.

The ledger's admin only shows facts; enqueueing a job is the pipeline's business, so the actions live
here: the run admin is extended (``PipelineRunAdmin``) and re-registered, and django-q2's task and
schedule admins get links back to the runs they started. Every action enqueues
:func:`apps.pipeline.tasks.run_job_task` with ``triggered_by='admin'``; the run it records carries the
task id as ``parent_run_id``, which is what links the two admins both ways.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django_q import admin as q_admin
from django_q.models import Failure, Schedule, Success, Task

from apps.core import registry
from apps.core.jobs import LEDGER_PARAM_KEYS
from apps.ledger.admin import IngestionRunAdmin
from apps.ledger.models import IngestionRun, RunStatus, TriggeredBy
from apps.ledger.services.roles import RUN_JOBS

RERUNNABLE = (RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.ABANDONED)


def _enqueue_job(job_name: str, **kwargs):
    """``tasks.enqueue_job``, imported on use: the admin loads with every command (autodiscover),
    and the task module pulls in the job stack (pandas, providers) that most commands never use."""
    from apps.pipeline import tasks

    return tasks.enqueue_job(job_name, **kwargs)


def runs_url(parent_run_id: str) -> str:
    """The run changelist filtered to the runs a task (or a pipeline run) started."""
    return f"{reverse('admin:ledger_ingestionrun_changelist')}?parent_run_id={parent_run_id}"


def task_admin_url(task_id: str) -> str | None:
    """The django-q2 Success/Failure page of a task, or None while it is queued or unknown."""
    success = Task.objects.filter(id=task_id).values_list("success", flat=True).first()
    if success is None:
        return None
    name = "admin:django_q_success_change" if success else "admin:django_q_failure_change"
    return reverse(name, args=(task_id,))


def rerun_kwargs(run: IngestionRun) -> dict[str, Any]:
    """The same job for the same as-of, symbols, provider and options as ``run`` (from its args)."""
    args = dict(run.args or {})
    as_of = run.as_of or args.get("as_of") or None
    return {
        "as_of": as_of.isoformat() if isinstance(as_of, dt.date) else as_of,
        "symbols": list(args.get("symbols") or []),
        "provider": run.provider or args.get("provider") or None,
        "options": {k: v for k, v in args.items() if k not in LEDGER_PARAM_KEYS},
    }


def step_symbols(step) -> list[str]:
    """A step for one symbol runs that symbol; an ``ALL`` step runs every tracked symbol."""
    return [] if step.scope_key == registry.ALL_SCOPE else [step.scope_key]


class PipelineRunAdmin(IngestionRunAdmin):
    """The ledger's run admin plus the staff actions that enqueue jobs."""

    actions = ("rerun_failed_runs",)
    readonly_fields = ("task_link", "child_runs_link", *IngestionRunAdmin.readonly_fields)

    def get_urls(self):
        custom = [
            path(
                "gap-plan/",
                self.admin_site.admin_view(self.gap_plan_view),
                name="ledger_ingestionrun_gap_plan",
            )
        ]
        return custom + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        if request.method == "POST" and request.POST.get("action") == "rerun_failed_runs":
            if not self.has_rerun_permission(request):
                raise PermissionDenied("enqueueing jobs needs the ledger.run_jobs permission")
            selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
            if any(_uuid_or_none(value) is None for value in selected):
                return HttpResponseBadRequest("The selected runs must be run ids.")
        extra_context = dict(extra_context or {})
        if self.has_rerun_permission(request):
            extra_context.setdefault(
                "subtitle",
                format_html(
                    '<a href="{}">Gap planner: enqueue backfill steps &rarr;</a>',
                    reverse("admin:ledger_ingestionrun_gap_plan"),
                ),
            )
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="started by")
    def task_link(self, obj: IngestionRun) -> str:
        """Where ``parent_run_id`` points: a pipeline run, a django-q2 task, or nothing."""
        parent = obj.parent_run_id
        if not parent:
            return "—"
        if IngestionRun.objects.filter(pk=_uuid_or_none(parent)).exists():
            url = reverse("admin:ledger_ingestionrun_change", args=(parent,))
            return format_html('<a href="{}">pipeline run {}</a>', url, parent)
        url = task_admin_url(parent)
        if url:
            return format_html('<a href="{}">django-q2 task {}</a>', url, parent)
        return format_html("django-q2 task {} (queued, running or pruned)", parent)

    @admin.display(description="child runs")
    def child_runs_link(self, obj: IngestionRun) -> str:
        count = IngestionRun.objects.filter(parent_run_id=str(obj.run_id)).count()
        if not count:
            return "—"
        return format_html('<a href="{}">{} run(s)</a>', runs_url(str(obj.run_id)), count)

    @admin.action(description="Re-run selected failed runs", permissions=["rerun"])
    def rerun_failed_runs(self, request: HttpRequest, queryset) -> None:
        queued, skipped = [], 0
        for run in queryset:
            if run.status not in RERUNNABLE or run.job_name not in registry.JOB_NAMES:
                skipped += 1
                continue
            task_id = _enqueue_job(
                run.job_name, triggered_by=TriggeredBy.ADMIN, **rerun_kwargs(run)
            )
            queued.append(f"{run.job_name} ({task_id})")
        if queued:
            self.message_user(request, f"Enqueued {len(queued)}: {', '.join(queued)}")
        if skipped:
            self.message_user(
                request,
                f"Skipped {skipped} run(s) that are not failed, partial or abandoned.",
                messages.WARNING,
            )

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and user.has_perm(RUN_JOBS))

    def gap_plan_view(self, request: HttpRequest) -> HttpResponse:
        """GET lists the planner's steps; POST enqueues one, checked against a fresh plan.

        Reached through ``admin_view`` (staff login, CSRF-protected POST) and only with
        ``ledger.run_jobs`` (else 403); the step is identified by (job, asset, scope) rather than its
        position, so a plan that changed meanwhile cannot make the button enqueue a different step.
        """
        from apps.ledger.selectors import health
        from apps.pipeline.planner import plan_gaps

        if not self.has_rerun_permission(request):
            raise PermissionDenied("the gap planner needs the ledger.run_jobs permission")
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        here = reverse("admin:ledger_ingestionrun_gap_plan")
        now = timezone.now()
        steps = plan_gaps(now=now)
        if request.method == "GET":
            context = {
                **self.admin_site.each_context(request),
                "title": "Gap planner",
                "opts": IngestionRun._meta,
                "steps": steps,
                "runs_url": reverse("admin:ledger_ingestionrun_changelist"),
            }
            return render(request, "admin/pipeline/gap_plan.html", context)
        wanted = tuple(request.POST.get(k, "") for k in ("job_name", "asset_key", "scope_key"))
        step = next((s for s in steps if (s.job_name, s.asset_key, s.scope_key) == wanted), None)
        if step is None:
            self.message_user(
                request, "That step is no longer in the plan; nothing enqueued.", messages.WARNING
            )
            return HttpResponseRedirect(here)
        as_of = health.expected_market_date(step.asset_key, now=now)
        task_id = _enqueue_job(
            step.job_name, as_of=as_of, symbols=step_symbols(step), triggered_by=TriggeredBy.ADMIN
        )
        self.message_user(
            request,
            format_html(
                'Enqueued {} for {} as of {} (task {}). <a href="{}">Runs of this task</a>',
                step.job_name,
                step.scope_key,
                as_of,
                task_id,
                runs_url(task_id),
            ),
        )
        return HttpResponseRedirect(here)


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class _LedgerRunsLinkMixin:
    """A "ledger runs" column and field on django-q2's task admins (runs this task started)."""

    @admin.display(description="ledger runs")
    def ledger_runs(self, obj: Task) -> str:
        count = IngestionRun.objects.filter(parent_run_id=obj.id).count()
        if not count:
            return "—"
        return format_html('<a href="{}">{} run(s)</a>', runs_url(obj.id), count)


class SuccessAdmin(_LedgerRunsLinkMixin, q_admin.TaskAdmin):
    list_display = (*q_admin.TaskAdmin.list_display, "ledger_runs")
    readonly_fields = ["ledger_runs"]


class FailureAdmin(_LedgerRunsLinkMixin, q_admin.FailAdmin):
    list_display = (*q_admin.FailAdmin.list_display, "ledger_runs")
    readonly_fields = ["ledger_runs"]


class PipelineScheduleAdmin(q_admin.ScheduleAdmin):
    list_display = (*q_admin.ScheduleAdmin.list_display, "last_task_runs")

    @admin.display(description="runs of last task")
    def last_task_runs(self, obj: Schedule) -> str:
        if not obj.task:
            return "—"
        return format_html('<a href="{}">runs</a>', runs_url(obj.task))


for model, model_admin in (
    (IngestionRun, PipelineRunAdmin),
    (Success, SuccessAdmin),
    (Failure, FailureAdmin),
    (Schedule, PipelineScheduleAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
