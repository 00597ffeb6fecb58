"""Portal URLs (SPEC §9: part of the contract, so bookmarks keep working).

Views are named by dotted path and imported on their first request: loading the URLconf (every
management command's system checks do) must not pull in pandas, scipy or DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import path
from django.utils.module_loading import import_string

app_name = "portal"


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico on pages without a <link rel=icon> (e.g. raw JSON)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


def _view(dotted: str) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return import_string(f"apps.portal.views.{dotted}")(request, *args, **kwargs)

    view.__name__ = view.__qualname__ = dotted.rsplit(".", 1)[-1]
    view.__module__ = f"apps.portal.views.{dotted.rsplit('.', 1)[0]}"
    return view


urlpatterns = [
    path("", _view("dashboard.dashboard"), name="dashboard"),
    path("health/", _view("health.health"), name="health"),
    path("health/status.json", _view("health.status_json"), name="health-status"),
    path("portfolio/", _view("portfolio.portfolio"), name="portfolio"),
    path("symbols/", _view("symbols.symbols"), name="symbols"),
    path("flow/", _view("flow.flow"), name="flow"),
    path("derived/", _view("derived.derived"), name="derived"),
    path("data/", _view("data.data"), name="data"),
    path("favicon.ico", favicon),
]
