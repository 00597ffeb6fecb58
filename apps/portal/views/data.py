"""Data Explorer: the catalog of both databases and a paged preview of one catalog table."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse

from apps.portal.forms import TableForm
from apps.portal.middleware import portal_view
from apps.portal.selectors import catalog
from apps.portal.selectors.common import newest_watermark
from apps.portal.tables import preview_table
from apps.portal.views._common import configure, export_or_none, page
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
    exported = export_or_none(request, {"preview": preview}, table.key)
    if exported:
        return exported
    context.update(table=table, preview=configure(request, preview, per_page=PER_PAGE))
    return page(request, "portal/data.html", context)


def _warehouse_catalog() -> list[catalog.CatalogTable] | None:
    """Warehouse tables, or None when no warehouse file exists (the page says to run db_init)."""
    try:
        with warehouse.read():  # introspection and counts share one connection
            return catalog.warehouse_tables()
    except warehouse.WarehouseMissing:
        return None
