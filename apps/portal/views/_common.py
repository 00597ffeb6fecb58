"""Helpers shared by the page views."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_tables2 import RequestConfig, Table

from apps.portal.tables import csv_response, wants_export


def page(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """Render a portal page; a bound form with errors answers 400 with its messages."""
    form = context.get("form")
    if form is not None and form.is_bound and not form.is_valid():
        status = 400
    return render(request, template, context, status=status)


def configure(request: HttpRequest, table: Table, *, per_page: int = 25) -> Table:
    RequestConfig(request, paginate={"per_page": per_page}).configure(table)
    return table


def export_or_none(request: HttpRequest, tables: dict[str, Table], filename: str):
    """The CSV response when ``?_export=csv`` asks for one of the page's tables."""
    for name, table in tables.items():
        if wants_export(request, name):
            RequestConfig(request, paginate=False).configure(table)
            return csv_response(table, f"{filename}-{name}")
    return None
