"""Turning warehouse access problems into answers a person can act on.

The project's MIDDLEWARE list is owned by settings, so the portal applies the same behaviour per view
through :func:`portal_view` (every portal page uses it), which also caches the rendered page per data
generation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import duckdb
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from optionshelper import generation
from optionshelper.warehouse import WarehouseBusy, WarehouseMissing, WarehouseUnreadable

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


def unreadable_response(request: HttpRequest, error: str, title: str) -> HttpResponse:
    """HTTP 503 with a clear page: the warehouse file is corrupt, foreign or has no schema."""
    return render(
        request, "portal/unreadable.html", {"page_title": title, "error": error}, status=503
    )


def bad_request_response(request: HttpRequest, exc: BadRequest, title: str) -> HttpResponse:
    """HTTP 400 with the one-line reason (e.g. a ``per_page`` that is not a positive number)."""
    context = {"page_title": title, "message": str(exc)}
    return render(request, "portal/bad_request.html", context, status=400)


# What templates/base.html writes where the per-user header (name, log-out form with its CSRF
# token) goes when a page is rendered for every user; each response gets its own user box.
USERBOX_MARKER = "<!--portal:userbox-->"


def _rendered_parts(request: HttpRequest, *, clock: bool) -> tuple | None:
    """What a rendered page depends on besides the data generation, or None when not cacheable.

    Pages render only their view model and, in the header, the user's name, log-out form and (for
    staff) the admin link: the page is rendered once per full path (with its query) and staff flag
    and shared by every user; the user box is filled in per request (:func:`_with_userbox`).
    Exports, non-GET requests, a browser without a CSRF cookie yet (the render must set it) and
    pending flash messages are never cached.
    """
    secret = request.META.get("CSRF_COOKIE")
    if request.method != "GET" or "_export" in request.GET or not secret:
        return None
    if "messages" in request.COOKIES or "_messages" in getattr(request, "session", {}):
        return None
    minute = timezone.now().strftime("%Y%m%d%H%M") if clock else ""
    return (request.get_full_path(), bool(request.user.is_staff), minute)


def _with_userbox(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Fill the user box of a page rendered for everyone (a fresh CSRF mask per request)."""
    if response.streaming or not response.get("Content-Type", "").startswith("text/html"):
        return response
    marker = USERBOX_MARKER.encode()
    if marker in response.content:
        box = render_to_string("portal/_userbox.html", request=request).encode()
        response.content = response.content.replace(marker, box, 1)
    return response


def _cached_render(view: View, request: HttpRequest, *args, clock: bool, **kwargs) -> HttpResponse:
    parts = _rendered_parts(request, clock=clock)
    if parts is None:
        return view(request, *args, **kwargs)
    request.portal_shared_render = True  # base.html leaves USERBOX_MARKER for the user box
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
    """Login required, bad parameters → 400, WarehouseBusy → 503 + Retry-After, WarehouseMissing
    → empty state, an unreadable warehouse (or one without its tables) → 503 with a clear page.

    The rendered page is cached per data generation (see :func:`_rendered_parts`); ``clock`` adds
    the current minute to the key for pages whose content also moves with time (Health).
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                response = _cached_render(view, request, *args, clock=clock, **kwargs)
            except WarehouseBusy as exc:
                response = busy_response(request, exc)
            except WarehouseMissing as exc:
                response = missing_response(request, exc, title)
            except BadRequest as exc:
                response = bad_request_response(request, exc, title)
            except WarehouseUnreadable as exc:
                response = unreadable_response(request, str(exc), title)
            except duckdb.CatalogException as exc:
                cause = str(exc).splitlines()[0]
                response = unreadable_response(
                    request, f"warehouse schema incomplete ({cause}): run db_init", title
                )
            return _with_userbox(request, response)

        return login_required(wrapped)

    return decorate
