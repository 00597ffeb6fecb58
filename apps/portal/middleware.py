"""Turning warehouse access problems into answers a person can act on.

The project's MIDDLEWARE list is owned by settings, so the portal applies the same behaviour per view
through :func:`portal_view` (every portal page uses it), which also caches the rendered page per data
generation. :class:`WarehouseBusyMiddleware` is the same
logic as a middleware, for deployments that prefer to list it in settings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from optionshelper import generation
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


def _rendered_parts(request: HttpRequest, *, clock: bool) -> tuple | None:
    """What a rendered page depends on besides the data generation, or None when not cacheable.

    Pages render only their view model, the user (name, staff) and the CSRF token: the key holds the
    full path with its query, the user and the CSRF secret the page's token was masked with (so the
    cached token stays valid for that browser). Exports, non-GET requests, a browser without a CSRF
    cookie yet (the render must set it) and pending flash messages are never cached.
    """
    secret = request.META.get("CSRF_COOKIE")
    if request.method != "GET" or "_export" in request.GET or not secret:
        return None
    if "messages" in request.COOKIES or "_messages" in getattr(request, "session", {}):
        return None
    minute = timezone.now().strftime("%Y%m%d%H%M") if clock else ""
    return (request.get_full_path(), request.user.pk, secret, minute)


def _cached_render(view: View, request: HttpRequest, *args, clock: bool, **kwargs) -> HttpResponse:
    parts = _rendered_parts(request, clock=clock)
    if parts is None:
        return view(request, *args, **kwargs)
    rendered: list[HttpResponse] = []

    def render_page() -> tuple[int, bytes, str] | None:
        response = view(request, *args, **kwargs)
        rendered.append(response)
        html = response.get("Content-Type", "").startswith("text/html")
        if response.status_code != 200 or not html or response.streaming:
            return None
        return response.status_code, response.content, response["Content-Type"]

    page, _ = generation.cached("page", parts, render_page)
    if rendered:  # built on this request: answer with the real response object
        return rendered[0]
    if page is None:  # not a cacheable answer last time: build it again
        return view(request, *args, **kwargs)
    status, content, content_type = page
    return HttpResponse(content, status=status, content_type=content_type)


def portal_view(title: str, *, clock: bool = False) -> Callable[[View], View]:
    """Login required, WarehouseBusy → 503 + Retry-After, WarehouseMissing → empty state.

    The rendered page is cached per data generation (see :func:`_rendered_parts`); ``clock`` adds
    the current minute to the key for pages whose content also moves with time (Health).
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                return _cached_render(view, request, *args, clock=clock, **kwargs)
            except WarehouseBusy as exc:
                return busy_response(request, exc)
            except WarehouseMissing as exc:
                return missing_response(request, exc, title)

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
