"""Keep Django's own tables and every metadata model off the DuckDB warehouse."""

from __future__ import annotations

WAREHOUSE_ALIAS = "warehouse"


class WarehouseRouter:
    """Everything the ORM reads or writes lives in ``default``; Django never migrates the warehouse.

    The warehouse has its own versioned migrations (``optionshelper.warehouse_schema``) and is reached
    for raw reads and introspection through ``connections["warehouse"]``.
    """

    def db_for_read(self, model, **hints):
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != WAREHOUSE_ALIAS
