"""Home page: renders the newest stored DashboardView (built by ``build_dashboard``, not per request)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from apps.analytics.dashboard import DashboardSymbolRow, rows_from_payload
from apps.portal import charts
from apps.portal.middleware import portal_view
from apps.portal.selectors.common import latest_dashboard, newest_watermark
from apps.portal.views._common import page


def _flow_chart(rows: list[DashboardSymbolRow]) -> dict[str, Any] | None:
    spec = charts.chart(
        "bar",
        [row.symbol for row in rows],
        {"Net flow $": [row.flow_net_notional for row in rows]},
        title="Net options flow by symbol (ΔOI $)",
    )
    return spec if charts.has_data(spec) else None


@portal_view("Dashboard")
def dashboard(request: HttpRequest) -> HttpResponse:
    view = latest_dashboard()
    payload: dict[str, Any] = view.payload if view and isinstance(view.payload, dict) else {}
    symbols = rows_from_payload(payload)
    return page(
        request,
        "portal/dashboard.html",
        {
            "view": view,
            "payload": payload,
            "symbols": symbols,
            "portfolio": payload.get("portfolio") or {},
            "jobs": [j for j in payload.get("jobs") or [] if isinstance(j, dict)],
            "briefing": payload.get("briefing") or {},
            "flow_chart": _flow_chart(symbols),
            "data_as_of": payload.get("market_date") or newest_watermark(),
            "nav": "dashboard",
        },
    )
