"""The Data Explorer's catalog and paged previews (no free-form SQL).

Names come only from the catalog: warehouse tables from the DuckDB shim's introspection (schema
``warehouse``) and metadata tables from the default connection's introspection (schema ``meta``). A
user's ``table`` parameter is only ever used as a dictionary key into that catalog; the SQL text is built
from the catalog's own spelling of the name, quoted, and sort columns must be catalog columns too.

The catalog is an allow-list (SPEC §11): every warehouse table, and of the metadata DB only the tables
of the product's own models (:data:`PRODUCT_APPS`: ledger, flow, dashboard, portfolio, watchlists).
Django's auth, admin log, sessions, content types and cache tables, django-q2's task tables and the
login throttle's tables are never listed or served, whoever asks. Columns named in
:data:`SENSITIVE_COLUMNS` are left out of listed tables (pages and CSV alike).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import connections, models

from optionshelper import generation, warehouse

WAREHOUSE = "warehouse"
META = "meta"
# Metadata tables are served only when a model of one of these apps owns them.
PRODUCT_APPS = frozenset({"ledger", "market", "analytics", "portfolio", "pipeline"})
# "schema.table" -> columns never shown or exported (none of the listed tables holds one today).
SENSITIVE_COLUMNS: dict[str, frozenset[str]] = {}
# Iterating a warehouse table reads it in batches of this many rows.
EXPORT_BATCH_ROWS = 10_000
# A preview page of at most this many rows is cached per generation.
CACHED_PAGE_MAX_ROWS = 500


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    type: str
    nullable: bool


@dataclass
class CatalogTable:
    schema: str
    name: str
    columns: list[CatalogColumn]
    row_count: int | None = None
    kind: str = "table"
    model: type[models.Model] | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def __getstate__(self) -> dict[str, Any]:
        """Cached per generation: the model travels as its label (auto-created m2m models do not
        pickle by reference)."""
        state = dict(self.__dict__)
        state["model"] = self.model._meta.label_lower if self.model is not None else None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        label = state.get("model")
        self.__dict__.update(state, model=apps.get_model(label) if label else None)


def _quote(name: str) -> str:
    """Quote a catalog identifier (it came from the catalog, the quote is belt and braces)."""
    return '"' + name.replace('"', '""') + '"'


def warehouse_tables(*, with_counts: bool = True) -> list[CatalogTable]:
    """Tables of the warehouse via the shim's introspection, plus row counts in one query."""
    connection = connections["warehouse"]
    with connection.cursor() as cursor:
        infos = connection.introspection.get_table_list(cursor)
        tables = [
            CatalogTable(
                WAREHOUSE,
                info.name,
                _visible(
                    WAREHOUSE,
                    info.name,
                    [
                        CatalogColumn(c.name, str(c.type_code), bool(c.null_ok))
                        for c in connection.introspection.get_table_description(cursor, info.name)
                    ],
                ),
                kind="view" if info.type == "v" else "table",
            )
            for info in infos
        ]
    if with_counts:
        for table, count in zip(
            tables, _row_counts(connection, [t.name for t in tables]), strict=True
        ):
            table.row_count = count
    return tables


def _visible(schema: str, name: str, columns: list[CatalogColumn]) -> list[CatalogColumn]:
    hidden = SENSITIVE_COLUMNS.get(f"{schema}.{name}", frozenset())
    return [c for c in columns if c.name not in hidden]


def allowed_meta_models() -> dict[str, type[models.Model]]:
    """Metadata tables the Data Explorer may show: those owned by the product's own models."""
    return {
        m._meta.db_table: m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.app_label in PRODUCT_APPS
    }


def _model_columns(model: type[models.Model]) -> list[CatalogColumn]:
    """Columns of a Django model's table from its fields: no introspection query needed."""
    columns = [
        CatalogColumn(f.column, f.get_internal_type(), bool(f.null))
        for f in model._meta.concrete_fields
    ]
    return _visible(META, model._meta.db_table, columns)


def _row_counts(connection, names: list[str]) -> list[int]:
    """Row counts of many tables in one UNION ALL query (names come from the catalog)."""
    if not names:
        return []
    quote = connection.ops.quote_name
    union = " UNION ALL ".join(
        f"SELECT {i} AS i, count(*) AS n FROM {quote(name)}" for i, name in enumerate(names)
    )
    counts = [0] * len(names)
    with connection.cursor() as cursor:
        cursor.execute(union)
        for i, n in cursor.fetchall():
            counts[i] = n
    return counts


def meta_tables(*, with_counts: bool = True) -> list[CatalogTable]:
    """The allowed metadata tables that exist (migrated), with counts in one query.

    Columns come from the owning model, so no table is described by introspection.
    """
    connection = connections["default"]
    allowed = allowed_meta_models()
    with connection.cursor() as cursor:
        existing = connection.introspection.get_table_list(cursor)
    tables = [
        CatalogTable(META, info.name, _model_columns(allowed[info.name]), model=allowed[info.name])
        for info in existing
        if info.type == "t" and info.name in allowed
    ]
    if with_counts:
        for table, count in zip(
            tables, _row_counts(connection, [t.name for t in tables]), strict=True
        ):
            table.row_count = count
    return tables


def lookup(key: str) -> CatalogTable | None:
    """The catalog entry for ``schema.name`` or None; the user's text is never used beyond this.

    A metadata name must be on the allow-list before the database is even asked; a warehouse name
    is matched against the warehouse's table list. Only the matching table (by the catalog's own
    spelling) is then described.
    """
    schema, _, name = key.partition(".")
    if schema == META:
        model = allowed_meta_models().get(name)
        if model is None:
            return None
        connection = connections["default"]
        with connection.cursor() as cursor:
            tables = connection.introspection.table_names(cursor)
        if name not in tables:
            return None
        return CatalogTable(META, name, _model_columns(model), model=model)
    if schema != WAREHOUSE:
        return None
    connection = connections["warehouse"]
    with connection.cursor() as cursor:
        infos = [i for i in connection.introspection.get_table_list(cursor) if i.name == name]
        if not infos:
            return None
        catalog_name = infos[0].name
        description = connection.introspection.get_table_description(cursor, catalog_name)
    columns = [CatalogColumn(c.name, str(c.type_code), bool(c.null_ok)) for c in description]
    return CatalogTable(WAREHOUSE, catalog_name, _visible(WAREHOUSE, catalog_name, columns))


class WarehouseRows:
    """A lazy, queryset-like page source over one catalog table for django-tables2.

    ``count()``, ``order_by()`` and slicing turn into ``count(*)`` and ``ORDER BY <catalog column>
    LIMIT ? OFFSET ?``; iterating (CSV export) yields every row, see :meth:`__iter__`.
    """

    model = None

    def __init__(self, table: CatalogTable, ordering: tuple[str, ...] = ()) -> None:
        self.table = table
        self.ordering = ordering
        self._count: int | None = None

    def count(self) -> int:
        """``count(*)`` of the table, counted once per data generation (not per page view)."""
        if self._count is None:
            self._count, _ = generation.cached(
                "warehouse_count", (self.table.name,), lambda: _warehouse_count(self.table.name)
            )
        return self._count

    def __len__(self) -> int:
        return self.count()

    def order_by(self, *keys: str) -> WarehouseRows:
        allowed = set(self.table.column_names)
        kept = tuple(k for k in keys if k.lstrip("-") in allowed)
        clone = WarehouseRows(self.table, kept)
        clone._count = self._count
        return clone

    def _select_sql(self) -> str:
        select = ", ".join(_quote(n) for n in self.table.column_names)
        parts = [
            f"{_quote(k.lstrip('-'))} {'DESC' if k.startswith('-') else 'ASC'} NULLS LAST"
            for k in self.ordering
        ]
        order = f" ORDER BY {', '.join(parts)}" if parts else ""
        return f"SELECT {select} FROM {_quote(self.table.name)}{order}"

    def _fetch(self, limit: int, offset: int) -> list[dict[str, Any]]:
        if limit > CACHED_PAGE_MAX_ROWS:  # exports stream past the cache
            return self._query(limit, offset)
        rows, _ = generation.cached(
            "warehouse_page",
            (self.table.name, self.ordering, limit, offset),
            lambda: self._query(limit, offset),
        )
        return rows

    def _query(self, limit: int, offset: int) -> list[dict[str, Any]]:
        names = self.table.column_names
        rows = warehouse.fetch_all(
            f"{self._select_sql()} LIMIT ? OFFSET ?", [max(int(limit), 0), max(int(offset), 0)]
        )
        return [dict(zip(names, row, strict=True)) for row in rows]

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            start = key.start or 0
            stop = key.stop if key.stop is not None else self.count()
            return self._fetch(stop - start, start)
        return self._fetch(1, key)[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Every row in order, read in batches of :data:`EXPORT_BATCH_ROWS`."""
        offset = 0
        while batch := self._fetch(EXPORT_BATCH_ROWS, offset):
            yield from batch
            offset += len(batch)

    def csv_chunks(self, *, chunk_bytes: int = 1 << 16) -> Iterator[bytes]:
        """Every row in order as CSV (header first), for a streamed export.

        DuckDB writes the ordered rows to a temporary CSV file in one short read, which is then sent
        in chunks: the warehouse lock is held only for the copy (a slow download keeps no job
        waiting), the export is one consistent snapshot, and memory stays at one chunk.
        """
        fd, name = tempfile.mkstemp(prefix="optionshelper-export-", suffix=".csv")
        os.close(fd)
        try:
            with warehouse.read() as connection:
                target = "'" + name.replace("'", "''") + "'"
                connection.execute(f"COPY ({self._select_sql()}) TO {target} (FORMAT csv, HEADER)")
            with open(name, "rb") as handle:
                while chunk := handle.read(chunk_bytes):
                    yield chunk
        finally:
            os.unlink(name)


def _warehouse_count(name: str) -> int:
    return warehouse.fetch_all(f"SELECT count(*) FROM {_quote(name)}")[0][0]


def meta_rows(table: CatalogTable):
    """ORM rows of an allowed metadata table (values keyed by attname), unordered until sorted."""
    by_column = {f.column: f.attname for f in table.model._meta.concrete_fields}
    attnames = [by_column[c] for c in table.column_names if c in by_column]
    return table.model._default_manager.values(*attnames).order_by()
