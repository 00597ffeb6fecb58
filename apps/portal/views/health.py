"""Health page and /health/status.json (placeholder until the health selectors land)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.portal.middleware import portal_view
from apps.portal.views._common import page


@portal_view("Health")
def health(request: HttpRequest) -> HttpResponse:
    return page(request, "portal/health.html", {"nav": "health"})


def status_json(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"overall": "unknown"})
