from __future__ import annotations

from django.db.backends.base.operations import BaseDatabaseOperations


class DatabaseOperations(BaseDatabaseOperations):
    compiler_module = "django.db.models.sql.compiler"
    cast_char_field_without_max_length = "VARCHAR"

    def quote_name(self, name: str) -> str:
        if name.startswith('"') and name.endswith('"'):
            return name
        return '"' + name.replace('"', '""') + '"'

    def date_extract_sql(self, lookup_type, sql, params):
        return f"EXTRACT({lookup_type} FROM {sql})", params

    def date_trunc_sql(self, lookup_type, sql, params, tzname=None):
        return f"DATE_TRUNC('{lookup_type}', {sql})", params

    def datetime_cast_date_sql(self, sql, params, tzname):
        return f"CAST({sql} AS DATE)", params

    def datetime_extract_sql(self, lookup_type, sql, params, tzname):
        return self.date_extract_sql(lookup_type, sql, params)

    def datetime_trunc_sql(self, lookup_type, sql, params, tzname):
        return self.date_trunc_sql(lookup_type, sql, params)

    def time_trunc_sql(self, lookup_type, sql, params, tzname=None):
        return f"DATE_TRUNC('{lookup_type}', {sql})", params

    def no_limit_value(self):
        return None

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        return []
