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
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django_tables2.data import TableQuerysetData

from apps.analytics.models import OptionsFlow
from apps.portal.selectors.catalog import CatalogTable, WarehouseRows
from apps.portal.templatetags import portal as fmt


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


class TextColumn(tables.Column):
    """Plain text; the CSV gets the same text (never markup)."""

    def value(self, value: Any) -> Any:
        return "" if value is None else value


def _num_attrs(kwargs: dict[str, Any]) -> dict[str, Any]:
    attrs = kwargs.pop("attrs", {}) or {}
    attrs.setdefault("td", {"class": "num"})
    attrs.setdefault("th", {"class": "num"})
    return attrs


def _raw_number(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value


class NumberColumn(tables.Column):
    """Right-aligned number with a fixed number of decimals; ``signed`` tints by sign."""

    def __init__(self, *args, decimals: int = 2, signed: bool = False, **kwargs) -> None:
        super().__init__(*args, attrs=_num_attrs(kwargs), **kwargs)
        self.decimals, self.signed = decimals, signed

    def render(self, value: Any) -> str:
        text = fmt.num(value, self.decimals)
        return fmt.signed(text, value) if self.signed else text

    def value(self, value: Any) -> Any:
        return _raw_number(value)


class MoneyColumn(NumberColumn):
    """Dollars with thousands separators (``$1,234.50``); ``compact`` shows ``$1.23M``."""

    def __init__(self, *args, compact: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.compact = compact

    def render(self, value: Any) -> str:
        text = fmt.compact_money(value) if self.compact else fmt.money(value, self.decimals)
        return fmt.signed(text, value) if self.signed else text


class PctColumn(NumberColumn):
    """A percentage with ``%``; ``fraction=True`` when the stored value is a fraction (0.29).

    The CSV carries the number in percent too, so the header's unit holds for both.
    """

    def __init__(
        self, *args, fraction: bool = False, decimals: int = 1, points: bool = False, **kwargs
    ) -> None:
        super().__init__(*args, decimals=decimals, **kwargs)
        self.fraction, self.points = fraction, points

    def _percent(self, value: Any) -> float | None:
        number = fmt._number(value)
        if number is None:
            return None
        return number * 100 if self.fraction else number

    def render(self, value: Any) -> str:
        number = self._percent(value)
        text = fmt.pct(number, self.decimals)
        if self.points and number is not None:
            text = text.removesuffix("%") + " pp"  # a difference of percentages
        return fmt.signed(text, number) if self.signed else text

    def value(self, value: Any) -> Any:
        number = self._percent(value)
        return "" if number is None else round(number, self.decimals + 2)


class DayColumn(tables.Column):
    """ISO date (``2026-12-04``) with the weekday as a tooltip; CSV gets the ISO text."""

    def render(self, value: Any) -> str:
        return fmt.isodate_html(value)

    def value(self, value: Any) -> Any:
        day = fmt.as_date(value)
        return "" if day is None else day.isoformat()


class TimeColumn(tables.Column):
    """ISO date and time (``2026-12-04 15:30``, UTC as stored) with the weekday as a tooltip."""

    def render(self, value: Any) -> str:
        if not isinstance(value, dt.datetime):
            return fmt.isodate_html(value)
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            value.isoformat(),
            fmt.weekday(value),
            value.strftime("%Y-%m-%d %H:%M"),
        )

    def value(self, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.isoformat(sep=" ", timespec="seconds")
        return "" if value is None else str(value)


class BadgeColumn(tables.Column):
    """A status badge (``kind`` picks the colour set); the CSV gets the bare status."""

    def __init__(self, *args, kind: str = "status", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind

    def render(self, value: Any) -> str:
        return badge(self.kind, value)

    def value(self, value: Any) -> Any:
        return "" if value is None else value


def badge(kind: str, value: Any) -> str:
    """A status badge; a method renderer is far cheaper than a template per cell on big tables."""
    text = "unknown" if value in (None, "") else str(value)
    return format_html('<span class="badge {}-{}">{}</span>', kind, text, text)


def _plain_value(self, value: Any, bound_column: Any) -> Any:
    return bound_column.column.value(value=value)


class PortalTable(tables.Table):
    """Base of every portal table. CSV export always gets values, never markup: a ``render_<x>``
    method without its own ``value_<x>`` exports the column's plain value (django-tables2 would
    otherwise export what ``render_<x>`` returns, HTML included)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for attr in list(vars(cls)):
            name = attr.removeprefix("render_")
            if attr.startswith("render_") and not hasattr(cls, f"value_{name}"):
                setattr(cls, f"value_{name}", _plain_value)

    class Meta:
        template_name = "portal/table.html"
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
    expiry = DayColumn()
    strike = MoneyColumn(verbose_name="Strike $")
    delta_oi = NumberColumn(verbose_name="ΔOI (contracts)", decimals=0, signed=True)
    delta_oi_notional = MoneyColumn(verbose_name="ΔOI $", decimals=0, signed=True)
    volume = NumberColumn(verbose_name="Volume (contracts)", decimals=0)
    volume_notional = MoneyColumn(verbose_name="Volume $", decimals=0)
    delta_notional = MoneyColumn(verbose_name="Delta-weighted ΔOI $", decimals=0, signed=True)
    prior_oi = NumberColumn(verbose_name="Prior OI (contracts)", decimals=0)
    n_pairs = NumberColumn(verbose_name="Pairs", decimals=0)
    flow_class = tables.Column(verbose_name="Class")

    class Meta(PortalTable.Meta):
        model = OptionsFlow
        fields = ()
        order_by = ("-delta_oi_notional",)


class FlowPartitionsTable(PortalTable):
    """The partitions of one flow series; the date range links to that partition's rows."""

    to_date = DayColumn(verbose_name="To")
    from_date = DayColumn(verbose_name="From")
    rows = NumberColumn(verbose_name="Rows", decimals=0)
    net_delta_oi_notional = MoneyColumn(verbose_name="Net ΔOI $", compact=True, signed=True)
    net_volume_notional = MoneyColumn(verbose_name="Volume $", compact=True)
    gap_sessions = tables.Column(verbose_name="Gap sessions", orderable=False)
    open = tables.Column(verbose_name="", accessor="pk", orderable=False, exclude_from_export=True)

    class Meta(PortalTable.Meta):
        order_by = ("-to_date",)
        row_attrs = {"class": lambda record, table: "selected" if record == table.chosen else ""}

    def __init__(self, *args, chosen: Any = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.chosen = chosen

    def render_gap_sessions(self, value: list) -> str:
        return ", ".join(str(d) for d in value) if value else "—"

    def value_gap_sessions(self, value: list) -> str:
        return " ".join(str(d) for d in value or [])

    def render_open(self, value: int) -> str:
        query = self.request.GET.copy() if getattr(self, "request", None) else {}
        if hasattr(query, "setlist"):
            for key in ("page", "sort", "_export", "_table", "parts-page", "parts-sort"):
                query.pop(key, None)
            query["partition"] = str(value)
            return format_html('<a href="?{}">rows →</a>', query.urlencode())
        return format_html('<a href="?partition={}">rows →</a>', value)


class DerivedTable(PortalTable):
    """Every stored derived_daily metric, units in the headers (fractions shown as %)."""

    date = DayColumn()
    spot = MoneyColumn(verbose_name="Spot $")
    call_wall = MoneyColumn(verbose_name="Call wall $")
    put_wall = MoneyColumn(verbose_name="Put wall $")
    max_pain = MoneyColumn(verbose_name="Max pain $")
    gamma_peak_strike = MoneyColumn(verbose_name="Gamma peak $")
    atm_iv_near = PctColumn(verbose_name="ATM IV %", fraction=True)
    iv_term_slope = PctColumn(
        verbose_name="Term slope (IV pp)", fraction=True, points=True
    )
    rv_20d = PctColumn(verbose_name="RV20 %", fraction=True)
    rv_60d = PctColumn(verbose_name="RV60 %", fraction=True)
    iv_rv_20d = NumberColumn(verbose_name="IV/RV20 (×)", decimals=2)
    atm_iv_rank = NumberColumn(verbose_name="IV rank (0–100)", decimals=1)
    atm_iv_percentile = NumberColumn(verbose_name="IV pctl (0–100)", decimals=1)
    iv_history = NumberColumn(verbose_name="IV history (sessions)", decimals=0)
    em_near_pct = PctColumn(verbose_name="Exp. move %", fraction=True, decimals=2)
    skew_near_pp = NumberColumn(verbose_name="Skew (IV pp)", decimals=2)
    pc_oi = NumberColumn(verbose_name="P/C OI (×)", decimals=2)
    pc_vol = NumberColumn(verbose_name="P/C vol (×)", decimals=2)

    class Meta(PortalTable.Meta):
        order_by = ("-date",)


class SymbolDerivedTable(PortalTable):
    """The Symbol Explorer's snippet: the last sessions of derived_daily."""

    date = DayColumn()
    spot = MoneyColumn(verbose_name="Spot $")
    atm_iv_near = PctColumn(verbose_name="ATM IV %", fraction=True)
    rv_20d = PctColumn(verbose_name="RV20 %", fraction=True)
    pc_oi = NumberColumn(verbose_name="P/C OI (×)", decimals=2)
    atm_iv_rank = NumberColumn(verbose_name="IV rank (0–100)", decimals=1)
    iv_history = NumberColumn(verbose_name="IV history", decimals=0)  # sessions; a narrow card

    class Meta(PortalTable.Meta):
        order_by = ("-date",)
        empty_text = "No derived rows yet."


class DashboardSymbolsTable(PortalTable):
    symbol = tables.Column()
    spot = MoneyColumn(verbose_name="Spot $")
    change_pct = PctColumn(verbose_name="Change %", decimals=2, signed=True)
    pc_oi = NumberColumn(verbose_name="P/C OI (×)", decimals=2)
    atm_iv = PctColumn(verbose_name="ATM IV %", fraction=True)
    iv_rank = NumberColumn(verbose_name="IV rank (0–100)", decimals=1)
    iv_history = NumberColumn(verbose_name="IV history (sessions)", decimals=0)
    flow_net_notional = MoneyColumn(verbose_name="Flow net ΔOI $", compact=True, signed=True)
    flow_window = NumberColumn(verbose_name="Window (sessions)", decimals=0)
    health = BadgeColumn(verbose_name="Health", kind="status")
    pages = tables.Column(
        verbose_name="Pages", accessor="symbol", orderable=False, exclude_from_export=True
    )

    class Meta(PortalTable.Meta):
        order_by = ("symbol",)
        empty_text = "No symbols in this dashboard."

    def render_symbol(self, value: str) -> str:
        return format_html(
            '<a href="{}?{}">{}</a>', reverse("portal:symbols"), urlencode({"symbol": value}), value
        )

    def render_pages(self, value: str) -> str:
        query = urlencode({"symbol": value})
        return format_html(
            '<a href="{}?{}">flow</a> · <a href="{}?{}">derived</a>',
            reverse("portal:flow"),
            query,
            reverse("portal:derived"),
            query,
        )


class JobRunsTable(PortalTable):
    """The latest finished run per job read live from the ledger (the running one marked)."""

    job_name = tables.Column(verbose_name="Job")
    status = BadgeColumn(verbose_name="Status", kind="run")
    as_of = DayColumn(verbose_name="As of")
    started_at = TimeColumn(verbose_name="Started (UTC)")
    duration_ms = NumberColumn(verbose_name="Duration (s)", decimals=1)
    partitions_ok = NumberColumn(verbose_name="OK", decimals=0)
    partitions_failed = NumberColumn(verbose_name="Failed", decimals=0)
    partitions_skipped = NumberColumn(verbose_name="Skipped", decimals=0)
    running = tables.BooleanColumn(verbose_name="Now", yesno="running,")

    class Meta(PortalTable.Meta):
        order_by = ()
        empty_text = "No jobs recorded."

    def render_running(self, value: bool) -> str:
        return badge("run", "running") if value else ""

    def value_running(self, value: bool) -> str:
        return "running" if value else ""

    def render_duration_ms(self, value: Any) -> str:
        number = fmt._number(value)
        return fmt.DASH if number is None else fmt.num(number / 1000, 1)

    def value_duration_ms(self, value: Any) -> Any:
        number = fmt._number(value)
        return "" if number is None else round(number / 1000, 3)


class StressTable(PortalTable):
    scenario = tables.Column()
    current_value = MoneyColumn(verbose_name="Model value now $")
    scenario_value = MoneyColumn(verbose_name="Scenario value $")
    pnl = MoneyColumn(verbose_name="P&L $", signed=True)
    pnl_pct = PctColumn(verbose_name="P&L %", signed=True)
    legs_priced = NumberColumn(verbose_name="Legs priced", decimals=0)
    legs_excluded = NumberColumn(verbose_name="Legs excluded", decimals=0)

    class Meta(PortalTable.Meta):
        order_by = ()


class LimitsTable(PortalTable):
    limit = tables.Column(verbose_name="Limit")
    value = TextColumn(verbose_name="Setting")
    usage = TextColumn(verbose_name="Usage")
    detail = TextColumn(verbose_name="Detail", orderable=False)
    ok = BadgeColumn(verbose_name="Status")

    class Meta(PortalTable.Meta):
        order_by = ()

    def render_ok(self, value: bool) -> str:
        return format_html(
            '<span class="badge {}">{}</span>',
            "status-healthy" if value else "status-warning",
            "within" if value else "attention",
        )

    def value_ok(self, value: bool) -> str:
        return "within" if value else "attention"


class UnderlyingGreeksTable(PortalTable):
    """Greeks summed per underlying (summing share-deltas across underlyings mixes units)."""

    symbol = tables.Column(verbose_name="Underlying")
    positions = NumberColumn(verbose_name="Positions", decimals=0)
    market_value = MoneyColumn(verbose_name="Value $")
    pnl = MoneyColumn(verbose_name="P&L $", signed=True)
    delta = NumberColumn(verbose_name="Δ (shares)", decimals=1)
    theta = MoneyColumn(verbose_name="Θ ($/day)")
    vega = MoneyColumn(verbose_name="Vega ($/vol pt)")

    class Meta(PortalTable.Meta):
        order_by = ("symbol",)


def per_underlying(positions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Positions rolled up per underlying for display (sums of the rows the page already shows)."""
    out: dict[str, dict[str, Any]] = {}
    for row in positions:
        agg = out.setdefault(
            row["symbol"],
            {
                "symbol": row["symbol"],
                "positions": 0,
                "market_value": None,
                "pnl": None,
                "delta": None,
                "theta": None,
                "vega": None,
            },
        )
        agg["positions"] += 1
        for key in ("market_value", "pnl", "delta", "theta", "vega"):
            number = fmt._number(row.get(key))
            if number is not None:
                agg[key] = (agg[key] or 0.0) + number
    return list(out.values())


class RecurringFailuresTable(PortalTable):
    job_name = tables.Column(verbose_name="Job")
    error_type = tables.Column(verbose_name="Error")
    count = NumberColumn(verbose_name="Runs", decimals=0)
    first_seen = TimeColumn(verbose_name="First seen (UTC)")
    last_seen = TimeColumn(verbose_name="Last seen (UTC)")
    sample_message = TextColumn(verbose_name="Latest message", orderable=False)
    error_stack_hash = TextColumn(verbose_name="Stack hash")

    class Meta(PortalTable.Meta):
        order_by = ("-last_seen",)
        empty_text = "No failed runs in the lookback."

    def render_error_stack_hash(self, value: str) -> str:
        return format_html("<code>{}</code>", (value or "")[:12])


class CheckGroupsTable(PortalTable):
    """Failed checks grouped by (check, asset, partition): one row however many runs repeated it."""

    check_name = tables.Column(verbose_name="Check")
    asset_key = tables.Column(verbose_name="Asset")
    partition_key = tables.Column(verbose_name="Partition")
    severity = BadgeColumn(verbose_name="Severity", kind="severity")
    count = NumberColumn(verbose_name="Times", decimals=0)
    first_seen = TimeColumn(verbose_name="First seen (UTC)")
    last_seen = TimeColumn(verbose_name="Last seen (UTC)")
    message = TextColumn(verbose_name="Latest message", orderable=False)

    class Meta(PortalTable.Meta):
        order_by = ("-last_seen",)
        empty_text = "No failed checks in the lookback."


class GapPlanTable(PortalTable):
    order = NumberColumn(verbose_name="#", decimals=0)
    asset_key = tables.Column(verbose_name="Asset")
    scope_key = tables.Column(verbose_name="Scope")
    job_name = tables.Column(verbose_name="Job")
    reason = TextColumn(verbose_name="Reason")
    command = TextColumn(verbose_name="Command", orderable=False)

    class Meta(PortalTable.Meta):
        order_by = ("order",)
        empty_text = "Nothing to backfill: every asset is fresh."

    def render_command(self, value: str) -> str:
        return format_html(
            '<div class="cmd"><code>{}</code><button type="button" class="copy" '
            'data-copy="{}">copy</button></div>',
            value,
            value,
        )


class GridCellColumn(tables.Column):
    empty_values = ()  # "no run" is a grey cell, not a dash

    def render(self, value: Any) -> str:
        state = value or "none"
        return format_html(
            '<span class="cell cell-{}" title="{}"></span>', state, value or "no run"
        )

    def value(self, value: Any) -> Any:
        return value or ""


def status_grid_table(grid: dict[str, Any], *, prefix: str = "grid-") -> PortalTable:
    """Asset × session status as a sortable table: one column per session (ISO date header)."""
    sessions = list(grid.get("sessions") or [])
    rows = []
    for row in grid.get("rows") or []:
        record = {"asset_key": row["asset_key"]}
        record.update({f"d{i}": cell for i, cell in enumerate(row["cells"])})
        rows.append(record)
    extra = [("asset_key", tables.Column(verbose_name="Asset"))]
    extra += [
        (
            f"d{i}",
            GridCellColumn(
                verbose_name=fmt.isodate(day),
                attrs={"th": {"title": fmt.weekday(day)}, "td": {"class": "gridcell"}},
            ),
        )
        for i, day in enumerate(sessions)
    ]
    return PortalTable(rows, extra_columns=extra, order_by=("asset_key",), prefix=prefix)


CSV_CHUNK_ROWS = 1000


def csv_value(value: Any) -> Any:
    """One cell as the warehouse's own exports write it: JSON as JSON (not a Python repr), floats
    to 12 significant digits (no ``4.800000000000001``; whole numbers without ``.0``), missing
    values empty."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    if isinstance(value, float):
        return "" if math.isnan(value) else format(value, ".12g")
    return value


def records_csv_chunks(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """``header`` and ``rows`` as CSV text (``\n`` line ends, as DuckDB writes them),
    ``CSV_CHUNK_ROWS`` rows per chunk."""
    rows = itertools.chain([header], rows)
    while batch := list(itertools.islice(rows, CSV_CHUNK_ROWS)):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row in batch:
            writer.writerow([csv_value(v) for v in row])
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
