"""The django-q2 schedules this product installs, and the idempotent service that installs them.

``ensure_schedules`` creates or updates each schedule by name, so it is safe at every deploy. Cron
expressions are evaluated by django-q2 in ``Q_CLUSTER["time_zone"]`` (settings: the schedule time
zone, America/New_York by default), not in ``TIME_ZONE`` (UTC): "30 18 * * 1-5" therefore fires at
18:30 New York time in summer and in winter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django_q.models import Schedule

from apps.pipeline.tasks import HOUSEKEEPING_TASK, SCHEDULED_RUN_DAILY

DAILY_SCHEDULE = "options-helper: run_daily"
HOUSEKEEPING_SCHEDULE = "options-helper: housekeeping"
_HH_MM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    cron: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def kwargs_text(self) -> str:
        """django-q2 stores kwargs as a Python literal it reads back with ``ast.literal_eval``."""
        return repr(self.kwargs) if self.kwargs else ""


@dataclass(frozen=True)
class ScheduleChange:
    name: str
    action: str  # created | updated | unchanged
    cron: str
    next_run: Any


def weekday_cron(daily_at: str) -> str:
    """``"18:30"`` → ``"30 18 * * 1-5"`` (Monday to Friday); a bad value raises ValueError."""
    match = _HH_MM.match(daily_at.strip())
    if not match:
        raise ValueError(f"daily time must be HH:MM (24h), got {daily_at!r}")
    return f"{int(match.group(2))} {int(match.group(1))} * * 1-5"


def desired_schedules(*, daily_at: str | None = None) -> list[ScheduleSpec]:
    """The schedules the product wants: the daily pipeline and hourly housekeeping."""
    return [
        ScheduleSpec(
            DAILY_SCHEDULE, SCHEDULED_RUN_DAILY, weekday_cron(daily_at or settings.DAILY_AT)
        ),
        ScheduleSpec(HOUSEKEEPING_SCHEDULE, HOUSEKEEPING_TASK, settings.HOUSEKEEPING_CRON),
    ]


def _next_fire(spec: ScheduleSpec) -> Any:
    return Schedule(schedule_type=Schedule.CRON, cron=spec.cron).calculate_next_run()


def ensure_schedule(spec: ScheduleSpec) -> ScheduleChange:
    """Create or update one schedule by name (duplicates by name are removed, oldest kept)."""
    with transaction.atomic():
        existing = list(Schedule.objects.select_for_update().filter(name=spec.name).order_by("pk"))
        for duplicate in existing[1:]:
            duplicate.delete()
        schedule = existing[0] if existing else None
        if schedule is None:
            schedule = Schedule(name=spec.name)
            action = "created"
        else:
            same = (
                schedule.func == spec.func
                and schedule.schedule_type == Schedule.CRON
                and schedule.cron == spec.cron
                and (schedule.kwargs or "") == spec.kwargs_text
                and (schedule.args or "") == ""
                and schedule.repeats == -1
                and schedule.cluster is None
            )
            # The zone or the cron changed under a pending run: its next_run no longer matches.
            if same and schedule.next_run == _next_fire(spec):
                return ScheduleChange(spec.name, "unchanged", spec.cron, schedule.next_run)
            action = "updated"
        schedule.func = spec.func
        schedule.schedule_type = Schedule.CRON
        schedule.cron = spec.cron
        schedule.kwargs = spec.kwargs_text
        schedule.args = ""
        schedule.repeats = -1
        schedule.cluster = None
        schedule.next_run = _next_fire(spec)
        schedule.save()
    return ScheduleChange(spec.name, action, spec.cron, schedule.next_run)


def ensure_schedules(*, daily_at: str | None = None) -> list[ScheduleChange]:
    """Install every product schedule; safe to run at every deploy."""
    return [ensure_schedule(spec) for spec in desired_schedules(daily_at=daily_at)]
