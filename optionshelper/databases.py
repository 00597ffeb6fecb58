"""What the metadata DB and the warehouse look like, without creating either."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import Error as DjangoDbError

from optionshelper import warehouse, warehouse_schema

META_TABLES = (
    "ledger_ingestionrun",
    "ledger_ingestionrunasset",
    "ledger_assetwatermark",
    "ledger_assetcheck",
    "analytics_optionsflow",
)


@dataclass
class MetadataDbInfo:
    engine: str
    name: str
    reachable: bool
    applied_migrations: int = 0
    pending_migrations: list[str] = field(default_factory=list)
    meta_tables_present: bool = False
    error: str = ""


@dataclass
class WarehouseInfo:
    path: str
    exists: bool
    schema_version: int | None
    latest_version: int
    busy: bool = False
    error: str = ""
    mode: str = "file"
    catalog: str = ""  # lake mode: the catalog connection string without a password
    data_path: str = ""  # lake mode: where the Parquet files live

    @property
    def location(self) -> str:
        if self.mode == "lake":
            return f"DuckLake catalog {self.catalog}, data path {self.data_path}"
        return self.path


def _sqlite_file_missing(settings_dict: dict) -> bool:
    name = str(settings_dict["NAME"])
    return name != ":memory:" and not name.startswith("file:") and not Path(name).exists()


def metadata_db_info() -> MetadataDbInfo:
    connection = connections[DEFAULT_DB_ALIAS]
    engine = connection.vendor
    name = str(connection.settings_dict["NAME"])
    if engine == "sqlite" and _sqlite_file_missing(connection.settings_dict):
        return MetadataDbInfo(engine, name, reachable=False, error="database file does not exist")
    try:
        tables = set(connection.introspection.table_names())
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        applied = len(executor.loader.applied_migrations)
    except DjangoDbError as exc:
        return MetadataDbInfo(engine, name, reachable=False, error=str(exc).splitlines()[0])
    return MetadataDbInfo(
        engine,
        name,
        reachable=True,
        applied_migrations=applied,
        pending_migrations=[f"{m.app_label}.{m.name}" for m, _ in plan],
        meta_tables_present=all(t in tables for t in META_TABLES),
    )


# Schema versions read from warehouse files, by file identity (inode, size and mtime of the file and
# of its write-ahead log): a file that did not change cannot hold another schema, while a rewrite,
# a replacement or a corruption changes the identity. Spares health views a DuckDB open each.
_schema_by_identity: dict[tuple, int] = {}


def _file_identity(path: Path) -> tuple:
    parts: list[tuple | None] = []
    for candidate in (path, path.with_name(path.name + ".wal")):
        try:
            stat = candidate.stat()
        except OSError:
            parts.append(None)
        else:
            parts.append((stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return (str(path), *parts)


def _schema_version(lake: bool) -> int | None:
    if lake:
        return warehouse_schema.schema_version()
    identity = _file_identity(warehouse.warehouse_path())
    if identity in _schema_by_identity:
        return _schema_by_identity[identity]
    version = warehouse_schema.schema_version()
    if version is not None and identity == _file_identity(warehouse.warehouse_path()):
        if len(_schema_by_identity) > 16:
            _schema_by_identity.clear()
        _schema_by_identity[identity] = version
    return version


def warehouse_info() -> WarehouseInfo:
    lake = warehouse.mode() == "lake"
    info = WarehouseInfo(
        path=str(warehouse.warehouse_path()),
        exists=warehouse.exists(),
        schema_version=None,
        latest_version=warehouse_schema.LATEST_VERSION,
        mode=warehouse.mode(),
        catalog=warehouse.lake_catalog_display() if lake else "",
        data_path=warehouse.lake_data_path() if lake else "",
    )
    if not info.exists:
        return info
    try:
        info.schema_version = _schema_version(lake)
    except warehouse.WarehouseBusy as exc:
        info.busy, info.error = True, str(exc)
    except warehouse.WarehouseError as exc:  # incompatible file, unreachable catalog: one line
        info.error = str(exc)
    except Exception as exc:  # a corrupt or foreign file must still give a one-line answer
        info.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return info


# Columns that record when or by whom a row was written, not what it says.
VOLATILE_COLUMNS = ("updated_at", "last_success_at", "last_attempt_at", "meta")


def warehouse_checksums() -> dict[str, tuple[int, int]]:
    """(rows, order-independent content hash) per warehouse table, timestamps of writing excluded.

    Equal checksums mean two warehouses (e.g. a lake filled by fan-out and an embedded file filled
    by one process) hold the same data, whatever the row order or physical layout.
    """
    out: dict[str, tuple[int, int]] = {}
    with warehouse.read() as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_catalog = current_database() AND table_name <> 'schema_migrations' "
            "ORDER BY 1"
        ).fetchall()
        for (table,) in tables:
            columns = [
                name
                for (name,) in connection.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "AND table_catalog = current_database() ORDER BY ordinal_position",
                    [table],
                ).fetchall()
                if name not in VOLATILE_COLUMNS
            ]
            values = ", ".join(f'"{c}"::VARCHAR' for c in columns)
            rows, digest = connection.execute(
                f'SELECT count(*), coalesce(bit_xor(hash({values})), 0) FROM "{table}"'
            ).fetchone()
            out[table] = (int(rows), int(digest))
    return out


def warehouse_import_file(*, source: Path, replace: bool = False) -> dict[str, int]:
    """Copy every table of an embedded warehouse file into the lake in one transaction.

    The lake must be migrated (``db_init``) and, unless ``replace``, empty: nothing stored is
    overwritten silently. The source is attached read-only and left as it was; it must be at the
    latest schema version (run ``db_init`` against it in file mode first).
    """
    if warehouse.mode() != "lake":
        raise warehouse.WarehouseError(
            "warehouse_import needs lake mode: set OPTIONS_HELPER_WAREHOUSE_URL=ducklake:…"
        )
    if not source.exists():
        raise warehouse.WarehouseMissing(source)
    quoted = str(source).replace("'", "''")
    copied: dict[str, int] = {}
    with warehouse.write() as connection:
        try:
            connection.execute(f"ATTACH '{quoted}' AS import_source (READ_ONLY)")
        except duckdb.Error as exc:
            if "version number" in str(exc):
                raise warehouse.WarehouseIncompatible(source, str(exc)) from None
            raise warehouse.WarehouseError(f"cannot open {source}: {exc}".splitlines()[0]) from None
        try:
            version = connection.execute(
                "SELECT max(version) FROM import_source.main.schema_migrations"
            ).fetchone()[0]
            if version != warehouse_schema.LATEST_VERSION:
                raise warehouse.WarehouseError(
                    f"{source} is at schema version {version}, not "
                    f"{warehouse_schema.LATEST_VERSION}: run db_init on it in file mode first"
                )
            with warehouse.transaction() as tx:
                tables = [
                    name
                    for (name,) in tx.execute(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = 'main' AND table_catalog = current_database() "
                        "AND table_name <> 'schema_migrations' ORDER BY 1"
                    ).fetchall()
                ]
                filled = [
                    t for t in tables if tx.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                ]
                if filled and not replace:
                    raise warehouse.WarehouseError(
                        f"the lake already holds data ({', '.join(filled)}); "
                        "pass --replace to overwrite it"
                    )
                for table in tables:
                    tx.execute(f'DELETE FROM "{table}"')
                    tx.execute(
                        f'INSERT INTO "{table}" BY NAME SELECT * FROM import_source.main."{table}"'
                    )
                    copied[table] = tx.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        finally:
            connection.execute("DETACH DATABASE IF EXISTS import_source")
    return copied
