"""Home page: renders the newest stored DashboardView (built by ``build_dashboard``, not per request)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse

from apps.analytics.dashboard import DashboardSymbolRow, rows_from_payload
from apps.core.derived import SHORT_IV_HISTORY
from apps.ledger.selectors import health as ledger_health
from apps.portal import charts
from apps.portal.middleware import portal_view
from apps.portal.selectors.common import clocked_view_model, latest_dashboard, newest_watermark
from apps.portal.selectors.health import live_jobs
from apps.portal.tables import DashboardSymbolsTable, JobRunsTable
from apps.portal.views._common import configure, export_or_none, page


def _flow_chart(rows: list[DashboardSymbolRow]) -> dict[str, Any] | None:
    values = [row.flow_net_notional for row in rows]
    spec = charts.chart(
        "bar",
        [row.symbol for row in rows],
        {"Net flow $": values},
        colors={"Net flow $": charts.sign_colors(values)},
        title="Net options flow by symbol (ΔOI $; green net building, red net unwinding)",
        y_label="Net ΔOI $",
    )
    return spec if charts.has_data(spec) else None


def dashboard_view_model(*, now: dt.datetime | None = None) -> dict[str, Any]:
    """The newest stored DashboardView laid out for the page, with the health (overall and per
    symbol) and the jobs read live at ``now``, as the Health page reads them (metadata DB only):
    the stored view's own health is only what it was when it was built."""
    view = latest_dashboard()
    payload: dict[str, Any] = view.payload if view and isinstance(view.payload, dict) else {}
    health_rows = ledger_health.asset_health_rows(now=now)
    by_symbol = ledger_health.health_by_scope(health_rows)
    symbols = [
        dataclasses.replace(row, health=by_symbol.get(row.symbol, ledger_health.UNKNOWN))
        for row in rows_from_payload(payload)
    ]
    return {
        "view": view,
        "payload": payload,
        "overall_health": ledger_health.overall_health(health_rows),
        "symbols": symbols,
        "jobs": live_jobs(),
        "portfolio": payload.get("portfolio") or {},
        "briefing": payload.get("briefing") or {},
        "flow_chart": _flow_chart(symbols),
        "data_as_of": payload.get("market_date") or newest_watermark(),
    }


@portal_view("Dashboard", clock=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    fresh = "_export" in request.GET  # an export is never answered from a cache
    model, generation_ = clocked_view_model(
        "dashboard", (), lambda minute: dashboard_view_model(now=minute), fresh=fresh
    )
    tables_ = {
        "symbols": DashboardSymbolsTable(model["symbols"], prefix="symbols-"),
        "jobs": JobRunsTable(model["jobs"], prefix="jobs-"),
    }
    exported = export_or_none(request, tables_, "dashboard")
    if exported:
        return exported
    context = {key: value for key, value in model.items() if key != "jobs"}
    return page(
        request,
        "portal/dashboard.html",
        {
            **context,
            "symbols_table": configure(request, tables_["symbols"], per_page=100),
            "jobs_table": configure(request, tables_["jobs"], per_page=50),
            "nav": "dashboard",
            "generation": generation_,
            "short_iv_history": SHORT_IV_HISTORY,
        },
    )
