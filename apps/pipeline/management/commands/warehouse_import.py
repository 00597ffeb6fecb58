"""Copy an embedded DuckDB warehouse file into the configured DuckLake (lake mode)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from optionshelper import warehouse
from optionshelper.commands import ProductCommand
from optionshelper.databases import warehouse_import_file


class Command(ProductCommand):
    help = (
        "Copy every table of an options.duckdb file into the lake named by "
        "OPTIONS_HELPER_WAREHOUSE_URL (run db_init first). The file is only read."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", help="path of the embedded warehouse file")
        parser.add_argument(
            "--replace", action="store_true", help="overwrite data already in the lake"
        )

    def handle(self, *args, **options) -> None:
        try:
            copied = warehouse_import_file(
                source=Path(options["source"]).expanduser().resolve(), replace=options["replace"]
            )
        except warehouse.WarehouseError as exc:
            raise CommandError(str(exc), returncode=1) from exc
        for table, rows in copied.items():
            self.stdout.write(f"{table:<26} {rows:>12,} rows")
        self.stdout.write(f"copied into {warehouse.describe()}")
