"""Turning warehouse access problems into answers a person can act on.

The project's MIDDLEWARE list is owned by settings, so the portal applies the same behaviour per view
through :func:`portal_view` (every portal page uses it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import duckdb
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

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


def portal_view(title: str) -> Callable[[View], View]:
    """Login required, bad parameters → 400, WarehouseBusy → 503 + Retry-After, WarehouseMissing
    → empty state, an unreadable warehouse (or one without its tables) → 503 with a clear page."""

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
            except WarehouseUnreadable as exc:
                return unreadable_response(request, str(exc), title)
            except duckdb.CatalogException as exc:
                cause = str(exc).splitlines()[0]
                return unreadable_response(
                    request, f"warehouse schema incomplete ({cause}): run db_init", title
                )

        return login_required(wrapped)

    return decorate
