"""The Data Explorer's catalog and paged previews (no free-form SQL).

Names come only from the catalog: warehouse tables from the DuckDB shim's introspection (schema
``warehouse``) and metadata tables from the default connection's introspection (schema ``meta``). A
user's ``table`` parameter is only ever used as a dictionary key into that catalog; the SQL text is built
from the catalog's own spelling of the name, quoted, and sort columns must be catalog columns too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import connections, models

from optionshelper import generation, warehouse

WAREHOUSE = "warehouse"
META = "meta"
# Tables and columns that can hold secrets or session data never appear on a page (SPEC §11).
HIDDEN_META_TABLES = frozenset({"django_session", "optionshelper_cache"})
HIDDEN_COLUMNS = frozenset({"password", "session_key", "session_data"})
EXPORT_MAX_ROWS = 100_000
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
                [
                    CatalogColumn(c.name, str(c.type_code), bool(c.null_ok))
                    for c in connection.introspection.get_table_description(cursor, info.name)
                ],
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


def _models_by_table() -> dict[str, type[models.Model]]:
    return {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}


def _model_columns(model: type[models.Model], connection) -> list[CatalogColumn]:
    """Columns of a Django model's table from its fields: no introspection query needed."""
    return [
        CatalogColumn(f.column, f.get_internal_type(), bool(f.null))
        for f in model._meta.concrete_fields
        if f.column not in HIDDEN_COLUMNS
    ]


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
    """Tables of the metadata DB (hidden tables left out), with counts in one query.

    The table list comes from introspection; columns come from the Django model that owns the table
    and only tables without a model (e.g. ``django_migrations``) are described by introspection.
    """
    connection = connections["default"]
    by_table = _models_by_table()
    tables: list[CatalogTable] = []
    with connection.cursor() as cursor:
        for info in connection.introspection.get_table_list(cursor):
            if info.name in HIDDEN_META_TABLES or info.type != "t":
                continue
            model = by_table.get(info.name)
            if model is not None:
                columns = _model_columns(model, connection)
            else:
                description = connection.introspection.get_table_description(cursor, info.name)
                columns = [
                    CatalogColumn(c.name, _meta_type(connection, c), bool(c.null_ok))
                    for c in description
                    if c.name not in HIDDEN_COLUMNS
                ]
            tables.append(CatalogTable(META, info.name, columns, model=model))
    if with_counts:
        for table, count in zip(
            tables, _row_counts(connection, [t.name for t in tables]), strict=True
        ):
            table.row_count = count
    return tables


def _meta_type(connection, column) -> str:
    try:
        return connection.introspection.get_field_type(column.type_code, column)
    except KeyError:
        return str(column.type_code)


def lookup(key: str) -> CatalogTable | None:
    """The catalog entry for ``schema.name`` or None; the user's text is never used beyond this.

    The name is first matched against the catalog's table list; only the matching table (by the
    catalog's own spelling) is then described.
    """
    schema, _, name = key.partition(".")
    if schema not in (WAREHOUSE, META):
        return None
    connection = connections["warehouse" if schema == WAREHOUSE else "default"]
    with connection.cursor() as cursor:
        infos = [i for i in connection.introspection.get_table_list(cursor) if i.name == name]
        if schema == META:
            infos = [i for i in infos if i.type == "t" and i.name not in HIDDEN_META_TABLES]
        if not infos:
            return None
        catalog_name = infos[0].name
        description = connection.introspection.get_table_description(cursor, catalog_name)
    if schema == WAREHOUSE:
        columns = [CatalogColumn(c.name, str(c.type_code), bool(c.null_ok)) for c in description]
        return CatalogTable(WAREHOUSE, catalog_name, columns)
    columns = [
        CatalogColumn(c.name, _meta_type(connection, c), bool(c.null_ok))
        for c in description
        if c.name not in HIDDEN_COLUMNS
    ]
    return CatalogTable(META, catalog_name, columns, model=_models_by_table().get(catalog_name))


class WarehouseRows:
    """A lazy, queryset-like page source over one catalog table for django-tables2.

    ``count()``, ``order_by()`` and slicing turn into ``count(*)`` and ``ORDER BY <catalog column>
    LIMIT ? OFFSET ?``; iterating (CSV export) stops at :data:`EXPORT_MAX_ROWS`.
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

    def _order_sql(self) -> str:
        parts = [
            f"{_quote(k.lstrip('-'))} {'DESC' if k.startswith('-') else 'ASC'} NULLS LAST"
            for k in self.ordering
        ]
        return f" ORDER BY {', '.join(parts)}" if parts else ""

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
        select = ", ".join(_quote(n) for n in names)
        rows = warehouse.fetch_all(
            f"SELECT {select} FROM {_quote(self.table.name)}{self._order_sql()} LIMIT ? OFFSET ?",
            [int(limit), int(offset)],
        )
        return [dict(zip(names, row, strict=True)) for row in rows]

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            start = key.start or 0
            stop = key.stop if key.stop is not None else start + EXPORT_MAX_ROWS
            return self._fetch(max(stop - start, 0), start)
        return self._fetch(1, key)[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._fetch(EXPORT_MAX_ROWS, 0))


def _warehouse_count(name: str) -> int:
    return warehouse.fetch_all(f"SELECT count(*) FROM {_quote(name)}")[0][0]


def meta_rows(table: CatalogTable):
    """ORM rows of a metadata table (values keyed by column), or raw SQL for model-less tables."""
    if table.model is not None:
        by_column = {f.column: f.attname for f in table.model._meta.concrete_fields}
        attnames = [by_column[c] for c in table.column_names if c in by_column]
        return table.model._default_manager.values(*attnames).order_by()
    return MetaRawRows(table)


class MetaRawRows(WarehouseRows):
    """Same paging for a metadata table without a model (e.g. a third-party table)."""

    def count(self) -> int:
        if self._count is None:
            with connections["default"].cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM {_quote(self.table.name)}")
                self._count = cursor.fetchone()[0]
        return self._count

    def order_by(self, *keys: str) -> MetaRawRows:
        clone = MetaRawRows(self.table, WarehouseRows.order_by(self, *keys).ordering)
        clone._count = self._count
        return clone

    def _fetch(self, limit: int, offset: int) -> list[dict[str, Any]]:
        names = self.table.column_names
        select = ", ".join(_quote(n) for n in names)
        with connections["default"].cursor() as cursor:
            cursor.execute(
                f"SELECT {select} FROM {_quote(self.table.name)}{self._order_sql()} "
                "LIMIT %s OFFSET %s",
                [int(limit), int(offset)],
            )
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
