"""A small Django database backend for the DuckDB warehouse (``connections["warehouse"]``).

It exists so Django code can reach the warehouse the Django way (raw cursors, introspection for the
Data Explorer, read-only unmanaged models) while obeying the warehouse's concurrency rules: the backend
never keeps a DuckDB connection open. Each ``execute`` opens a connection through
:mod:`optionshelper.warehouse` (shared lock, bounded retry), runs one statement, buffers the result and
closes the connection again before returning.
"""
