"""Create or upgrade both databases: Django migrations, then warehouse migrations. Safe to repeat."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from apps.market import warehouse_schema
from apps.pipeline.databases import metadata_db_info, warehouse_info
from optionshelper import warehouse


class Command(BaseCommand):
    help = "Apply Django and warehouse migrations and print the resulting versions (idempotent)."

    def handle(self, *args, **options):
        from django.conf import settings

        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        try:
            applied = warehouse_schema.migrate()
        except warehouse.WarehouseError as exc:
            raise CommandError(str(exc)) from exc
        meta, wh = metadata_db_info(), warehouse_info()
        self.stdout.write(
            f"metadata DB  {meta.engine} {meta.name}: {meta.applied_migrations} migrations applied, "
            f"{len(meta.pending_migrations)} pending"
        )
        note = f" (applied now: {', '.join(map(str, applied))})" if applied else " (up to date)"
        self.stdout.write(
            f"warehouse    {wh.mode} {wh.location}: schema version {wh.schema_version}{note}"
        )
