"""Small admin building blocks shared by the read-only ledger and flow admins."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.utils.html import format_html


def pretty_json(value: Any) -> str:
    """JSON shown indented in a <pre>, escaped."""
    return format_html(
        '<pre style="margin:0;white-space:pre-wrap">{}</pre>',
        json.dumps(value, indent=2, sort_keys=True, default=str),
    )


class ReadOnlyAdminMixin:
    """Ledger rows are facts written by jobs: the admin may look but never add, edit or delete."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    show_change_link = True
    can_delete = False
