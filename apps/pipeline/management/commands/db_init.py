"""Create or upgrade both databases (Django migrations, then warehouse migrations) and cache the
trading calendar in the data dir, so the first job does not build it. Safe to repeat."""

from __future__ import annotations

import duckdb
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.utils import DatabaseError

from apps.core import calendar
from optionshelper import warehouse, warehouse_schema
from optionshelper.commands import ProductCommand
from optionshelper.databases import metadata_db_info, warehouse_info


class Command(ProductCommand):
    help = (
        "Apply Django and warehouse migrations, cache the trading calendar and print the "
        "resulting versions (idempotent)."
    )

    def handle(self, *args, **options):
        from django.conf import settings

        for folder in (settings.DATA_DIR, warehouse.warehouse_path().parent):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CommandError(
                    f"cannot create {folder}: {exc.strerror or exc} — set OPTIONS_HELPER_DATA_DIR "
                    "or OPTIONS_HELPER_DUCKDB_PATH to a writable place"
                ) from None
        try:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("createcachetable", verbosity=0)
        except (DatabaseError, OSError) as exc:
            raise CommandError(
                f"cannot set up the metadata DB: {str(exc).splitlines()[0] if str(exc) else exc}"
            ) from None
        try:
            applied = warehouse_schema.migrate()
        except (warehouse.WarehouseError, duckdb.Error, OSError) as exc:
            raise CommandError(f"cannot set up the warehouse: {str(exc).splitlines()[0]}") from None
        cached = calendar.prepare()
        meta, wh = metadata_db_info(), warehouse_info()
        self.stdout.write(
            f"metadata DB  {meta.engine} {meta.name}: {meta.applied_migrations} migrations applied, "
            f"{len(meta.pending_migrations)} pending"
        )
        note = f" (applied now: {', '.join(map(str, applied))})" if applied else " (up to date)"
        self.stdout.write(
            f"warehouse    {wh.mode} {wh.location}: schema version {wh.schema_version}{note}"
        )
        self.stdout.write(
            f"calendar     NYSE sessions {calendar.first_session()} to {calendar.last_session()}"
            + (f", cached in {cached}" if cached else " (not cached: its folder cannot be written)")
        )
