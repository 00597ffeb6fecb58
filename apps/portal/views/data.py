"""Data Explorer: the allow-listed catalog of both databases and a paged preview of one table.

Whoever asks, a table outside the catalog's allow-list (Django's auth, admin log, sessions, cache,
django-q2's tasks, the login throttle) answers 404, page and CSV alike; the CSV streams every row.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django_tables2 import RequestConfig

from apps.portal.forms import TableForm
from apps.portal.middleware import portal_view
from apps.portal.selectors import catalog
from apps.portal.selectors.common import newest_watermark
from apps.portal.tables import preview_table, records_csv_chunks, streamed_csv, wants_export
from apps.portal.views._common import configure, page
from optionshelper import generation, warehouse

PER_PAGE = 50


def _sort_is_known(request: HttpRequest, table: catalog.CatalogTable) -> bool:
    """``sort`` (comma list, optional '-') may only name the table's catalog columns."""
    raw = request.GET.get("sort", "")
    names = [part.strip().lstrip("-") for part in raw.split(",") if part.strip()]
    return all(name in table.column_names for name in names)


def catalog_view_model() -> dict[str, Any]:
    """Both databases' catalogs with row counts: counted once per data generation, not per view."""
    return {
        "warehouse_tables": _warehouse_catalog(),
        "meta_tables": catalog.meta_tables(),
        "data_as_of": newest_watermark(),
    }


@portal_view("Data Explorer")
def data(request: HttpRequest) -> HttpResponse:
    form = TableForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "nav": "data"}
    key = form.cleaned_data.get("table") if form.is_valid() else None
    if form.is_bound and not form.is_valid():
        raise Http404("unknown table")
    if not key:
        model, generation_ = generation.cached("catalog", (), catalog_view_model)
        context.update(model, generation=generation_)
        return page(request, "portal/data.html", context)
    # The description's queries share one connection; count and page are cached per generation and
    # read on their own short connections, so no read lock is held while the page renders.
    reads = warehouse.read() if key.startswith(f"{catalog.WAREHOUSE}.") else nullcontext()
    with reads:
        table, generation_ = generation.cached("catalog_table", (key,), lambda: catalog.lookup(key))
    context.update(data_as_of=newest_watermark(), generation=generation_)
    if table is None or not _sort_is_known(request, table):
        raise Http404("unknown table or column")
    rows = (
        catalog.WarehouseRows(table)
        if table.schema == catalog.WAREHOUSE
        else catalog.meta_rows(table)
    )
    preview = preview_table(table, rows)
    if wants_export(request, "preview"):
        return _export(request, table, preview)
    context.update(table=table, preview=configure(request, preview, per_page=PER_PAGE))
    return page(request, "portal/data.html", context)


def _export(request: HttpRequest, table: catalog.CatalogTable, preview) -> HttpResponse:
    """Every row of the table, in the page's sort order, as a streamed CSV of the raw values.

    The rows go straight from the database to CSV (DuckDB writes warehouse tables itself), without
    rendering each cell through django-tables2, so a large table exports in seconds.
    """
    RequestConfig(request, paginate=False).configure(preview)  # applies ``sort`` to the rows
    ordered = preview.data.data
    filename = f"{table.key}-preview"
    if isinstance(ordered, catalog.WarehouseRows):
        return streamed_csv(ordered.csv_chunks(), filename)
    by_column = {f.column: f.attname for f in table.model._meta.concrete_fields}
    names = [by_column[c] for c in table.column_names]
    records = ([record[n] for n in names] for record in ordered.iterator(chunk_size=2000))
    return streamed_csv(records_csv_chunks(table.column_names, records), filename)


def _warehouse_catalog() -> list[catalog.CatalogTable] | None:
    """Warehouse tables, or None when no warehouse file exists (the page says to run db_init)."""
    try:
        with warehouse.read():  # introspection and counts share one connection
            return catalog.warehouse_tables()
    except warehouse.WarehouseMissing:
        return None
