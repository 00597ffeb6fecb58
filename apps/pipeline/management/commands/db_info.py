"""Print the metadata DB and warehouse versions without creating anything."""

from __future__ import annotations

import sys

from optionshelper import warehouse_schema
from optionshelper.commands import ProductCommand
from optionshelper.databases import metadata_db_info, warehouse_info


class Command(ProductCommand):
    help = "Show database engines, migration state and the warehouse schema version (read-only)."
    requires_system_checks: list[str] = []  # a diagnosis must answer even when a check would fail

    def handle(self, *args, **options):
        meta = metadata_db_info()
        self.stdout.write(f"metadata DB: {meta.engine} {meta.name}")
        unreachable = False
        if not meta.reachable and meta.engine == "sqlite":
            self.stdout.write(f"  not reachable: {meta.error} — run `python manage.py db_init`")
        elif not meta.reachable:  # a server that does not answer: db_init cannot help
            self.stderr.write(
                f"  cannot reach the metadata DB: {meta.error} — check DATABASE_URL and that "
                "the server is running"
            )
            unreachable = True
        else:
            self.stdout.write(
                f"  migrations: {meta.applied_migrations} applied, "
                f"{len(meta.pending_migrations)} pending"
            )
            for name in meta.pending_migrations:
                self.stdout.write(f"    pending {name}")
        wh = warehouse_info()
        self.stdout.write(f"warehouse: {wh.mode} {wh.location}")
        if not wh.exists:
            self.stdout.write("  does not exist — run `python manage.py db_init`")
            if unreachable:
                sys.exit(1)
            return
        if wh.error:
            self.stderr.write(f"  {wh.error}")
            sys.exit(1)
        self.stdout.write(
            f"  schema version {wh.schema_version} (latest {warehouse_schema.LATEST_VERSION})"
        )
        for version, applied_at, description in warehouse_schema.applied_migrations():
            self.stdout.write(f"    {version:>3}  {applied_at:%Y-%m-%d %H:%M:%S}  {description}")
        if unreachable:
            sys.exit(1)
