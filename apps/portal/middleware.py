"""Turning warehouse access problems into answers a person can act on.

The project's MIDDLEWARE list is owned by settings, so the portal applies the same behaviour per view
through :func:`portal_view` (every portal page uses it). :class:`WarehouseBusyMiddleware` is the same
logic as a middleware, for deployments that prefer to list it in settings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from optionshelper.warehouse import WarehouseBusy, WarehouseMissing

View = Callable[..., HttpResponse]


def busy_response(request: HttpRequest, exc: WarehouseBusy) -> HttpResponse:
    """HTTP 503 with Retry-After: a job holds the warehouse; the page is fine a moment later."""
    response = render(
        request,
        "portal/busy.html",
        {"retry_after_s": exc.retry_after_s, "waited_s": round(exc.waited_s, 1)},
        status=503,
    )
    response["Retry-After"] = str(exc.retry_after_s)
    return response


def missing_response(request: HttpRequest, exc: WarehouseMissing, title: str) -> HttpResponse:
    """The page's empty state when no warehouse exists yet (nothing is created by looking)."""
    return render(request, "portal/missing.html", {"page_title": title, "path": exc.path})


def bad_request_response(request: HttpRequest, exc: BadRequest, title: str) -> HttpResponse:
    """HTTP 400 with the one-line reason (e.g. a ``per_page`` that is not a positive number)."""
    context = {"page_title": title, "message": str(exc)}
    return render(request, "portal/bad_request.html", context, status=400)


def portal_view(title: str) -> Callable[[View], View]:
    """Login required, bad parameters → 400, WarehouseBusy → 503 + Retry-After,
    WarehouseMissing → empty state."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except WarehouseBusy as exc:
                return busy_response(request, exc)
            except WarehouseMissing as exc:
                return missing_response(request, exc, title)
            except BadRequest as exc:
                return bad_request_response(request, exc, title)

        return login_required(wrapped)

    return decorate


class WarehouseBusyMiddleware:
    """Optional middleware form of the same rule (not listed in settings by default)."""

    def __init__(self, get_response: View) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, WarehouseBusy):
            return busy_response(request, exception)
        return None
