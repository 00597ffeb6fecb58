"""Helpers shared by the page views: rendering, paging (bounded, validated) and CSV export."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import BadRequest
from django.core.paginator import EmptyPage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_tables2 import RequestConfig, Table

from apps.portal.tables import csv_response, wants_export
from optionshelper import generation

# The most rows one page of any portal table shows; larger requests are clamped to it.
MAX_PER_PAGE = 500


class PageParameterError(BadRequest):
    """A paging parameter that is not a positive whole number (answered with HTTP 400)."""


def positive_int_param(request: HttpRequest, name: str) -> int | None:
    """``request.GET[name]`` as a positive integer, None when absent or empty, else 400."""
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise PageParameterError(
            f"{name} must be a whole number from 1 (pages show at most {MAX_PER_PAGE} rows), "
            f"got {raw[:40]!r}"
        )
    return int(raw)


def per_page_param(request: HttpRequest, table: Table, *, default: int = 25) -> int:
    """Rows per page for ``table``: its (prefixed) ``per_page`` parameter clamped to
    :data:`MAX_PER_PAGE`, or ``default``; nonsense, zero or negative values answer 400."""
    wanted = positive_int_param(request, table.prefixed_per_page_field)
    return min(wanted if wanted is not None else default, MAX_PER_PAGE)


def page(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """Render a portal page; a bound form with errors answers 400 with its messages."""
    form = context.get("form")
    if form is not None and form.is_bound and not form.is_valid():
        status = 400
    context.setdefault("generation", generation.current())
    return render(request, template, context, status=status)


def configure(request: HttpRequest, table: Table, *, per_page: int = 25) -> Table:
    """Sort from the request and paginate with validated ``page``/``per_page`` parameters.

    A page past the end shows the last page.
    """
    rows = per_page_param(request, table, default=per_page)
    number = positive_int_param(request, table.prefixed_page_field) or 1
    RequestConfig(request, paginate=False).configure(table)
    try:
        table.paginate(per_page=rows, page=number)
    except EmptyPage:
        table.page = table.paginator.page(table.paginator.num_pages)
    return table


def export_or_none(request: HttpRequest, tables: dict[str, Table], filename: str):
    """The streamed CSV of every row when ``?_export=csv`` asks for one of the page's tables."""
    for name, table in tables.items():
        if wants_export(request, name):
            RequestConfig(request, paginate=False).configure(table)
            return csv_response(table, f"{filename}-{name}")
    return None
