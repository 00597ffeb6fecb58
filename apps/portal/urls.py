"""Portal URLs (SPEC §9: part of the contract, so bookmarks keep working)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import path

from apps.portal.views import dashboard, data, derived, flow, health, portfolio, symbols

app_name = "portal"


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico on pages without a <link rel=icon> (e.g. raw JSON)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("health/", health.health, name="health"),
    path("health/status.json", health.status_json, name="health-status"),
    path("portfolio/", portfolio.portfolio, name="portfolio"),
    path("symbols/", symbols.symbols, name="symbols"),
    path("flow/", flow.flow, name="flow"),
    path("derived/", derived.derived, name="derived"),
    path("data/", data.data, name="data"),
    path("favicon.ico", favicon),
]
