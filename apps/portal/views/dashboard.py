"""Home page: renders the newest stored DashboardView (built by ``build_dashboard``, not per request)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from apps.portal import charts
from apps.portal.middleware import portal_view
from apps.portal.selectors.common import latest_dashboard, newest_watermark
from apps.portal.views._common import page
from optionshelper import generation


def _flow_chart(symbols: list[dict[str, Any]]) -> dict[str, Any] | None:
    rows = [s for s in symbols if isinstance(s, dict) and s.get("symbol")]
    spec = charts.chart(
        "bar",
        [s["symbol"] for s in rows],
        {"Net flow $": [s.get("flow_net_notional") for s in rows]},
        title="Net options flow by symbol (ΔOI $)",
    )
    return spec if charts.has_data(spec) else None


def dashboard_view_model() -> dict[str, Any]:
    """The newest stored DashboardView laid out for the page (metadata DB only)."""
    view = latest_dashboard()
    payload: dict[str, Any] = view.payload if view and isinstance(view.payload, dict) else {}
    symbols = [s for s in payload.get("symbols") or [] if isinstance(s, dict)]
    return {
        "view": view,
        "payload": payload,
        "symbols": symbols,
        "portfolio": payload.get("portfolio") or {},
        "jobs": [j for j in payload.get("jobs") or [] if isinstance(j, dict)],
        "briefing": payload.get("briefing") or {},
        "flow_chart": _flow_chart(symbols),
        "data_as_of": payload.get("market_date") or newest_watermark(),
    }


@portal_view("Dashboard")
def dashboard(request: HttpRequest) -> HttpResponse:
    model, generation_ = generation.cached("dashboard", (), dashboard_view_model)
    return page(
        request,
        "portal/dashboard.html",
        {**model, "nav": "dashboard", "generation": generation_},
    )
