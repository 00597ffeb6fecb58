"""Create or update (by name) the django-q2 schedules: the daily pipeline and housekeeping."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

from apps.pipeline.schedules import ensure_schedules
from optionshelper.commands import ProductCommand


class Command(ProductCommand):
    help = (
        "Install the django-q2 schedules (run_daily on weekdays after the close, hourly "
        "housekeeping). Idempotent: safe to run at every deploy."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--daily-at",
            default=None,
            help=f"HH:MM market time for run_daily (default {settings.DAILY_AT}, "
            "env OPTIONS_HELPER_DAILY_AT)",
        )

    def handle(self, *args, **options) -> None:
        try:
            changes = ensure_schedules(daily_at=options["daily_at"])
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        zone = settings.Q_CLUSTER.get("time_zone", settings.TIME_ZONE)
        for change in changes:
            local = timezone.localtime(change.next_run, timezone=ZoneInfo(zone))
            self.stdout.write(
                f"{change.action:<9} {change.name:<30} cron '{change.cron}' ({zone}); "
                f"next run {local:%Y-%m-%d %H:%M %Z}"
            )
