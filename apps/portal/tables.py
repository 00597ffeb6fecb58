"""django-tables2 tables of the portal; sorting and paging always happen in SQL.

ORM querysets sort and slice in the metadata DB; warehouse previews use
:class:`apps.portal.selectors.catalog.WarehouseRows`, which pushes ORDER BY/LIMIT/OFFSET into DuckDB.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

import django_tables2 as tables
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.html import format_html
from django_tables2.data import TableQuerysetData

from apps.analytics.models import OptionsFlow
from apps.portal.selectors.catalog import CatalogTable, WarehouseRows


def fmt_value(value: Any) -> str:
    """Compact display of warehouse/metadata values (floats trimmed, JSON as text)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
        return text if len(text) <= 120 else text[:117] + "…"
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "…"


class ValueColumn(tables.Column):
    def render(self, value: Any) -> str:
        return fmt_value(value)

    def value(self, value: Any) -> Any:
        return "" if value is None else value


class NumberColumn(tables.Column):
    """Right-aligned number with a fixed number of decimals; negative values tinted."""

    def __init__(self, *args, decimals: int = 2, signed: bool = False, **kwargs) -> None:
        attrs = kwargs.pop("attrs", {}) or {}
        attrs.setdefault("td", {"class": "num"})
        attrs.setdefault("th", {"class": "num"})
        super().__init__(*args, attrs=attrs, **kwargs)
        self.decimals, self.signed = decimals, signed

    def render(self, value: Any) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "—"
        text = f"{value:,.{self.decimals}f}"
        if self.signed:
            return format_html('<span class="{}">{}</span>', "neg" if value < 0 else "pos", text)
        return text

    def value(self, value: Any) -> Any:
        return "" if value is None else value


class PortalTable(tables.Table):
    class Meta:
        template_name = "django_tables2/table.html"
        attrs = {"class": "data"}
        empty_text = "No rows."


class WarehouseTableData(TableQuerysetData):
    """Lets django-tables2 treat :class:`WarehouseRows` like a queryset (count/order_by/slices)."""

    @property
    def ordering(self):
        return None

    @property
    def verbose_name(self) -> str:
        return "row"

    @property
    def verbose_name_plural(self) -> str:
        return "rows"


def preview_table(table: CatalogTable, rows: Any) -> PortalTable:
    """A table with one column per catalog column (accessor = model attname where one exists)."""
    accessors = {}
    if table.model is not None:
        accessors = {f.column: f.attname for f in table.model._meta.concrete_fields}
    extra = [
        (name, ValueColumn(accessor=accessors.get(name, name), verbose_name=name))
        for name in table.column_names
    ]
    data = WarehouseTableData(rows) if isinstance(rows, WarehouseRows) else rows
    return PortalTable(data, extra_columns=extra)


class FlowRowsTable(PortalTable):
    row_key = tables.Column(verbose_name="Row")
    option_type = tables.Column(verbose_name="Type")
    expiry = tables.DateColumn(format="Y-m-d")
    strike = NumberColumn(decimals=2)
    delta_oi = NumberColumn(verbose_name="ΔOI", decimals=0, signed=True)
    delta_oi_notional = NumberColumn(verbose_name="ΔOI $", decimals=0, signed=True)
    volume = NumberColumn(decimals=0)
    volume_notional = NumberColumn(verbose_name="Volume $", decimals=0)
    delta_notional = NumberColumn(verbose_name="Δ notional", decimals=0, signed=True)
    prior_oi = NumberColumn(verbose_name="Prior OI", decimals=0)
    n_pairs = tables.Column(verbose_name="Pairs")
    flow_class = tables.Column(verbose_name="Class")

    class Meta(PortalTable.Meta):
        model = OptionsFlow
        fields = ()
        order_by = ("-delta_oi_notional",)


class DerivedTable(PortalTable):
    date = tables.Column()
    spot = NumberColumn()
    call_wall = NumberColumn()
    put_wall = NumberColumn()
    max_pain = NumberColumn()
    atm_iv_near = NumberColumn(verbose_name="ATM IV", decimals=3)
    rv_20d = NumberColumn(verbose_name="RV20", decimals=3)
    rv_60d = NumberColumn(verbose_name="RV60", decimals=3)
    pc_oi = NumberColumn(verbose_name="P/C OI", decimals=2)
    pc_vol = NumberColumn(verbose_name="P/C vol", decimals=2)
    atm_iv_rank = NumberColumn(verbose_name="IV rank", decimals=1)
    atm_iv_percentile = NumberColumn(verbose_name="IV pct", decimals=1)
    em_near_pct = NumberColumn(verbose_name="EM %", decimals=4)
    skew_near_pp = NumberColumn(verbose_name="Skew pp", decimals=2)

    class Meta(PortalTable.Meta):
        order_by = ("-date",)


CSV_CHUNK_ROWS = 1000


def records_csv_chunks(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """``header`` and ``rows`` as CSV text, ``CSV_CHUNK_ROWS`` rows per chunk (None → empty)."""
    rows = itertools.chain([header], rows)
    while batch := list(itertools.islice(rows, CSV_CHUNK_ROWS)):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in batch:
            writer.writerow(["" if v is None else v for v in row])
        yield buffer.getvalue()


def _table_csv_chunks(table: tables.Table) -> Iterator[str]:
    data = table.data
    if isinstance(data.data, QuerySet):
        # Rows come from the database in chunks instead of one list of every row.
        data.data = data.data.iterator(chunk_size=CSV_CHUNK_ROWS)
    values = table.as_values()
    yield from records_csv_chunks(next(values), values)


def streamed_csv(chunks: Iterator[str | bytes], filename: str) -> StreamingHttpResponse:
    """A streamed CSV download of ``chunks``.

    The first chunk is made before the response starts, so a problem reading the data (e.g. the
    warehouse is busy) still becomes a proper error page instead of a truncated download.
    """
    first = next(chunks, "")
    response = StreamingHttpResponse(
        itertools.chain([first], chunks), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def csv_response(table: tables.Table, filename: str) -> StreamingHttpResponse:
    """Every row of a table in its current order as a streamed CSV (django-tables2's ``as_values``,
    so rendered values such as ``value_<column>`` methods apply)."""
    return streamed_csv(_table_csv_chunks(table), filename)


def wants_export(request: HttpRequest, name: str) -> bool:
    """``?_export=csv`` (optionally ``&_table=<name>`` when a page has several tables)."""
    return request.GET.get("_export") == "csv" and request.GET.get("_table", name) == name
