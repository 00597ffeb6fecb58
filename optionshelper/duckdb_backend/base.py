"""DatabaseWrapper for the DuckDB warehouse: short-lived connections, buffered cursors."""

from __future__ import annotations

import types
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.client import BaseDatabaseClient
from django.db.backends.base.features import BaseDatabaseFeatures
from django.db.backends.base.validation import BaseDatabaseValidation

from optionshelper import warehouse

from .creation import DatabaseCreation
from .introspection import DatabaseIntrospection
from .operations import DatabaseOperations

# DuckDB's DB-API exception classes, which Django maps onto its own (DuckDB has no InterfaceError).
_DBAPI = types.SimpleNamespace(
    **{
        name: getattr(duckdb, name, duckdb.Error)
        for name in (
            "DataError",
            "OperationalError",
            "IntegrityError",
            "InternalError",
            "ProgrammingError",
            "NotSupportedError",
            "DatabaseError",
            "InterfaceError",
            "Error",
        )
    }
)


def _to_qmark(sql: str, params: Sequence[Any] | None) -> str:
    """Django writes ``%s`` placeholders (and ``%%`` for a literal %); DuckDB wants ``?``."""
    if params is None:
        return sql
    return sql.replace("%s", "?").replace("%%", "%")


class BufferedCursor:
    """A DB-API cursor whose every ``execute`` is one short, self-contained warehouse operation."""

    arraysize = 100

    def __init__(self) -> None:
        self.description: list[tuple] | None = None
        self.rowcount = -1
        self._rows: list[tuple] = []
        self._position = 0

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> BufferedCursor:
        query = _to_qmark(sql, params)
        with warehouse.read() as connection:
            result = connection.execute(query, list(params or []))
            self.description = result.description
            self._rows = result.fetchall() if result.description else []
        self.rowcount = len(self._rows)
        self._position = 0
        return self

    def executemany(self, sql: str, param_list: Iterable[Sequence[Any]]) -> None:
        raise warehouse.WarehouseError(
            "the warehouse is read-only through Django; writes go through a store"
        )

    def fetchone(self) -> tuple | None:
        if self._position >= len(self._rows):
            return None
        row = self._rows[self._position]
        self._position += 1
        return row

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        size = size or self.arraysize
        rows = self._rows[self._position : self._position + size]
        self._position += len(rows)
        return rows

    def fetchall(self) -> list[tuple]:
        rows = self._rows[self._position :]
        self._position = len(self._rows)
        return rows

    def __iter__(self):
        return iter(self.fetchall())

    def close(self) -> None:
        self._rows = []


class ShortLivedConnection:
    """Stands in for a DB-API connection; holds nothing open between statements."""

    def cursor(self) -> BufferedCursor:
        return BufferedCursor()

    def commit(self) -> None:
        """Each statement is its own read; there is nothing to commit."""

    def rollback(self) -> None:
        """Nothing is ever pending."""

    def close(self) -> None:
        """Nothing to close: every statement closed its DuckDB connection already."""


class DatabaseFeatures(BaseDatabaseFeatures):
    minimum_database_version = None
    supports_transactions = False
    uses_savepoints = False
    can_rollback_ddl = False
    supports_foreign_keys = False
    has_select_for_update = False
    supports_timezones = False
    has_native_uuid_field = True
    has_native_json_field = True
    can_return_columns_from_insert = False
    supports_json_field_contains = False
    allows_group_by_selected_pks = False
    supports_paramstyle_pyformat = False


class DatabaseClient(BaseDatabaseClient):
    executable_name = "duckdb"


class DatabaseWrapper(BaseDatabaseWrapper):
    Database = _DBAPI
    vendor = "duckdb"
    display_name = "DuckDB"
    data_types: dict[str, str] = {
        "AutoField": "INTEGER",
        "BigAutoField": "BIGINT",
        "BigIntegerField": "BIGINT",
        "BooleanField": "BOOLEAN",
        "CharField": "VARCHAR",
        "DateField": "DATE",
        "DateTimeField": "TIMESTAMP",
        "DecimalField": "DECIMAL(%(max_digits)s, %(decimal_places)s)",
        "FloatField": "DOUBLE",
        "IntegerField": "INTEGER",
        "JSONField": "JSON",
        "TextField": "VARCHAR",
        "UUIDField": "UUID",
    }
    operators = {
        "exact": "= %s",
        "iexact": "ILIKE %s",
        "contains": "LIKE %s",
        "icontains": "ILIKE %s",
        "gt": "> %s",
        "gte": ">= %s",
        "lt": "< %s",
        "lte": "<= %s",
        "startswith": "LIKE %s",
        "endswith": "LIKE %s",
        "istartswith": "ILIKE %s",
        "iendswith": "ILIKE %s",
    }
    pattern_esc = r"REPLACE(REPLACE(REPLACE({}, '\', '\\'), '%%', '\%%'), '_', '\_')"
    pattern_ops = {
        "contains": "LIKE '%%' || {} || '%%'",
        "icontains": "ILIKE '%%' || {} || '%%'",
        "startswith": "LIKE {} || '%%'",
        "istartswith": "ILIKE {} || '%%'",
        "endswith": "LIKE '%%' || {}",
        "iendswith": "ILIKE '%%' || {}",
    }

    client_class = DatabaseClient
    creation_class = DatabaseCreation
    features_class = DatabaseFeatures
    introspection_class = DatabaseIntrospection
    ops_class = DatabaseOperations
    validation_class = BaseDatabaseValidation

    def get_connection_params(self) -> dict[str, Any]:
        return {"database": self.settings_dict["NAME"]}

    def get_new_connection(self, conn_params: dict[str, Any]) -> ShortLivedConnection:
        return ShortLivedConnection()

    def init_connection_state(self) -> None:
        """No session state: each statement runs on a fresh DuckDB connection."""

    def create_cursor(self, name: str | None = None) -> BufferedCursor:
        return self.connection.cursor()

    def _set_autocommit(self, autocommit: bool) -> None:
        """Statements are independent reads; autocommit is the only mode."""

    def is_usable(self) -> bool:
        return True

    def get_database_version(self) -> tuple[int, ...]:
        return tuple(int(part) for part in duckdb.__version__.split(".")[:3] if part.isdigit())
