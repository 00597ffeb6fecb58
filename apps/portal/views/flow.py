"""Flow: net ΔOI$ / volume$ per partition over time, one partition's rows, top building/unwinding."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from apps.analytics.models import OptionsFlowPartition
from apps.core.asof import resolve_as_of
from apps.portal import charts
from apps.portal.forms import FlowForm
from apps.portal.middleware import portal_view
from apps.portal.selectors import flow as selectors
from apps.portal.selectors.common import view_model
from apps.portal.tables import FlowPartitionsTable, FlowRowsTable
from apps.portal.views._common import configure, export_or_none, page


def series_chart(parts: list[OptionsFlowPartition]) -> dict[str, Any]:
    return charts.chart(
        "bar",
        [p.to_date for p in parts],
        {
            "Net ΔOI $": [p.net_delta_oi_notional for p in parts],
            "Volume $": [p.net_volume_notional for p in parts],
        },
        kinds={"Volume $": "line"},
        axis={"Volume $": "y2"},
        title="Partitions over time: net ΔOI $ (bars) and volume $ (line, right axis)",
        y_label="Net ΔOI $",
    )


def top_chart(partition: OptionsFlowPartition) -> dict[str, Any]:
    top = selectors.top_rows(partition)
    rows = top["building"] + top["unwinding"][::-1]
    return charts.chart(
        "bar",
        [r.row_key for r in rows],
        {"ΔOI $": [r.delta_oi_notional for r in rows]},
        colors={"ΔOI $": charts.sign_colors(r.delta_oi_notional for r in rows)},
        title="Top building (green) and unwinding (red)",
        y_label="ΔOI $",
        horizontal=True,
    )


def _chosen(parts: list[OptionsFlowPartition], wanted: int | None) -> OptionsFlowPartition | None:
    if wanted is not None:
        return next((p for p in parts if p.pk == wanted), None)
    return parts[-1] if parts else None


def _on_view(filters: dict[str, Any]) -> dict[str, Any]:
    """The series computed from the warehouse now, as of ``To`` (else the latest session)."""
    as_of = filters["date_to"] or resolve_as_of(None).market_date
    return selectors.flow_on_view(
        symbol=filters["symbol"],
        group_by=filters["group_by"],
        window=filters["window"],
        as_of=as_of,
    )


def flow_view_model(filters: dict[str, Any], wanted: int | None) -> dict[str, Any]:
    """The series' partitions, windows and charts, and the chosen partition (metadata DB); a
    series with no persisted partition is computed on view from the warehouse (not persisted)."""
    parts = list(selectors.partitions(**filters))
    chosen = _chosen(parts, wanted)
    newest = selectors.newest_series(filters["symbol"]) if not parts else None
    return {
        "on_view": _on_view(filters) if not parts else None,
        "windows": selectors.flow_windows(filters["symbol"]),
        "newest": newest,
        "partitions": parts,
        "chosen": chosen,
        "gap_partitions": [p for p in parts if p.gap_sessions],
        "series_chart": series_chart(parts) if parts else None,
        "data_as_of": parts[-1].to_date if parts else (newest[2] if newest else None),
        "top_chart": top_chart(chosen) if chosen is not None else None,
    }


@portal_view("Flow")
def flow(request: HttpRequest) -> HttpResponse:
    fresh = "_export" in request.GET  # an export is never answered from a cache
    symbols, generation_ = view_model("flow_symbols", (), selectors.flow_symbols, fresh=fresh)
    form = FlowForm(request.GET or None, symbols=symbols, newest=selectors.newest_series)
    context: dict[str, Any] = {
        "form": form,
        "known": symbols,
        "nav": "flow",
        "generation": generation_,
    }
    if not symbols or (form.is_bound and not form.is_valid()):
        return page(request, "portal/flow.html", context)
    filters = {
        "symbol": form.value("symbol"),
        "group_by": form.value("group_by"),
        "window": form.value("window"),
        "date_from": form.value("date_from"),
        "date_to": form.value("date_to"),
    }
    wanted = form.value("partition")
    model, generation_ = view_model(
        "flow",
        (sorted(filters.items()), wanted),
        lambda: flow_view_model(filters, wanted),
        fresh=fresh,
    )
    model = dict(model)
    chosen = model["chosen"]
    if wanted is not None and chosen is None:
        form.add_error("partition", "That partition is not in the selected series.")
        return page(request, "portal/flow.html", context)
    exported = export_or_none(
        request,
        {"partitions": FlowPartitionsTable(selectors.partitions(**filters), prefix="parts-")},
        f"flow-{filters['symbol']}",
    )
    if exported:
        return exported
    top = model.pop("top_chart")
    context.update(
        model,
        filters=filters,
        partitions_table=configure(
            request,
            FlowPartitionsTable(selectors.partitions(**filters), chosen=chosen, prefix="parts-"),
            per_page=20,
        ),
        generation=generation_,
    )
    on_view = model["on_view"]
    if on_view is not None and on_view["status"] == "ok":
        table = FlowRowsTable(on_view["rows"], order_by=None)
        exported = export_or_none(request, {"rows": table}, f"flow-{filters['symbol']}-on-view")
        if exported:
            return exported
        context.update(table=configure(request, table))
    if chosen is not None:
        table = FlowRowsTable(selectors.flow_rows(chosen))
        exported = export_or_none(request, {"rows": table}, f"flow-{chosen.symbol}")
        if exported:
            return exported
        context.update(table=configure(request, table), top_chart=top)
    return page(request, "portal/flow.html", context)
