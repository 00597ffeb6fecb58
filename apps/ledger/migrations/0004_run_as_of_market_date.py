"""Every run records the market date it describes: fill the NULLs left by "latest" runs, then NOT NULL.

The market date comes from the run's arguments when they name a date, else from the newest market
date of its asset events, else from the last completed session at its start (what "latest" meant).
"""

import datetime as dt

from django.db import migrations, models


def fill_as_of(apps, schema_editor):
    from apps.core import calendar

    IngestionRun = apps.get_model("ledger", "IngestionRun")
    IngestionRunAsset = apps.get_model("ledger", "IngestionRunAsset")
    for run in IngestionRun.objects.filter(as_of__isnull=True).iterator():
        day = None
        requested = (run.args or {}).get("as_of")
        if isinstance(requested, str) and requested not in ("", "latest"):
            try:
                day = calendar.session_on_or_before(dt.date.fromisoformat(requested))
            except ValueError:
                day = None
        if day is None:
            newest = (
                IngestionRunAsset.objects.filter(run_id=run.run_id, max_event_ts__isnull=False)
                .order_by("-max_event_ts")
                .values_list("max_event_ts", flat=True)
                .first()
            )
            if newest is not None:
                day = calendar.session_on_or_before(newest.astimezone(dt.UTC).date())
        if day is None:
            day = calendar.last_completed_session(run.started_at)
        IngestionRun.objects.filter(pk=run.pk).update(as_of=day)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_newest_first_indexes")]

    operations = [
        migrations.RunPython(fill_as_of, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="ingestionrun",
            name="as_of",
            field=models.DateField(),
        ),
    ]
