from __future__ import annotations

from collections import namedtuple

from django.db.backends.base.introspection import BaseDatabaseIntrospection, TableInfo

FieldInfo = namedtuple(
    "FieldInfo",
    "name type_code display_size internal_size precision scale null_ok default collation",
)


class DatabaseIntrospection(BaseDatabaseIntrospection):
    """Catalog reads from DuckDB's information_schema (the Data Explorer's only source of names)."""

    data_types_reverse = {
        "BIGINT": "BigIntegerField",
        "BOOLEAN": "BooleanField",
        "DATE": "DateField",
        "DOUBLE": "FloatField",
        "INTEGER": "IntegerField",
        "JSON": "JSONField",
        "TIMESTAMP": "DateTimeField",
        "TIMESTAMP WITH TIME ZONE": "DateTimeField",
        "UUID": "UUIDField",
        "VARCHAR": "TextField",
    }

    def django_table_names(self, only_existing=False, include_views=True):
        """No Django model lives in the warehouse, so ``flush`` has nothing to do here."""
        return []

    def get_table_list(self, cursor):
        cursor.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY table_name"
        )
        return [TableInfo(name, "v" if kind == "VIEW" else "t") for name, kind in cursor.fetchall()]

    def get_table_description(self, cursor, table_name):
        cursor.execute(
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'main' AND table_name = %s "
            "AND table_catalog = current_database() "
            "ORDER BY ordinal_position",
            [table_name],
        )
        return [
            FieldInfo(name, dtype, None, None, None, None, nullable == "YES", default, None)
            for name, dtype, nullable, default in cursor.fetchall()
        ]

    def get_constraints(self, cursor, table_name):
        return {}

    def get_sequences(self, cursor, table_name, table_fields=()):
        return []

    def get_relations(self, cursor, table_name):
        return {}
