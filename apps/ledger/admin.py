"""Admin for the control plane: read-only ledger rows with filters, search and inlines.

The staff actions on runs (re-run failed runs, the gap planner's "Enqueue") and the links to django-q2's
task admin live in ``apps/pipeline/admin.py``, which extends ``IngestionRunAdmin`` and re-registers it:
enqueueing jobs is the pipeline's business, and the ledger imports no job.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.text import Truncator

from apps.ledger.admin_helpers import ReadOnlyAdminMixin, ReadOnlyInline, pretty_json
from apps.ledger.models import (
    AssetCheck,
    AssetWatermark,
    IngestionRun,
    IngestionRunAsset,
    JobLease,
)

_STATUS_COLOURS = {
    "success": "#1a7f37",
    "pass": "#1a7f37",
    "partial": "#9a6700",
    "warn": "#9a6700",
    "skipped": "#57606a",
    "skip": "#57606a",
    "started": "#0969da",
    "failed": "#cf222e",
    "fail": "#cf222e",
    "abandoned": "#8250df",
}


def status_badge(status: str) -> str:
    colour = _STATUS_COLOURS.get(status, "#57606a")
    return format_html('<b style="color:{}">{}</b>', colour, status)


class RunAssetInline(ReadOnlyInline):
    model = IngestionRunAsset
    fields = ("asset_key", "partition_key", "status", "rows_inserted", "rows_deleted", "extra")
    readonly_fields = fields


class RunCheckInline(ReadOnlyInline):
    model = AssetCheck
    fields = ("check_name", "asset_key", "partition_key", "severity", "status", "message")
    readonly_fields = fields


@admin.register(IngestionRun)
class IngestionRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "job_name",
        "status_display",
        "triggered_by",
        "as_of",
        "started_at",
        "duration_display",
        "partitions_ok",
        "partitions_failed",
        "partitions_skipped",
        "provider",
    )
    list_filter = ("job_name", "status", "triggered_by", "provider", "started_at")
    search_fields = ("=run_id", "job_name", "parent_run_id", "error_message", "=error_stack_hash")
    date_hierarchy = "started_at"
    list_select_related = False
    inlines = (RunAssetInline, RunCheckInline)
    exclude = ("args",)
    readonly_fields = (
        "run_id",
        "parent_run_id",
        "job_name",
        "triggered_by",
        "status",
        "started_at",
        "ended_at",
        "duration_ms",
        "heartbeat_at",
        "provider",
        "as_of",
        "args_pretty",
        "git_sha",
        "app_version",
        "hostname",
        "pid",
        "error_type",
        "error_message",
        "error_stack_hash",
        "partitions_ok",
        "partitions_failed",
        "partitions_skipped",
    )

    @admin.display(description="status", ordering="status")
    def status_display(self, obj: IngestionRun) -> str:
        return status_badge(obj.status)

    @admin.display(description="duration", ordering="duration_ms")
    def duration_display(self, obj: IngestionRun) -> str:
        return "—" if obj.duration_ms is None else f"{obj.duration_ms / 1000:.1f}s"

    @admin.display(description="args")
    def args_pretty(self, obj: IngestionRun) -> str:
        return pretty_json(obj.args)


@admin.register(IngestionRunAsset)
class IngestionRunAssetAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "asset_key",
        "partition_key",
        "status_display",
        "rows_inserted",
        "rows_deleted",
        "started_at",
        "duration_ms",
        "run",
    )
    list_filter = ("asset_key", "status", "asset_kind", "started_at")
    search_fields = ("partition_key", "asset_key", "=run__run_id")
    date_hierarchy = "started_at"
    list_select_related = ("run",)
    exclude = ("extra",)
    readonly_fields = (
        "run",
        "asset_key",
        "asset_kind",
        "partition_key",
        "status",
        "rows_inserted",
        "rows_updated",
        "rows_deleted",
        "bytes_written",
        "min_event_ts",
        "max_event_ts",
        "extra_pretty",
        "started_at",
        "ended_at",
        "duration_ms",
    )

    @admin.display(description="status", ordering="status")
    def status_display(self, obj: IngestionRunAsset) -> str:
        return status_badge(obj.status)

    @admin.display(description="extra")
    def extra_pretty(self, obj: IngestionRunAsset) -> str:
        return pretty_json(obj.extra)


@admin.register(AssetWatermark)
class AssetWatermarkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("asset_key", "scope_key", "watermark_ts", "updated_at", "last_run")
    list_filter = ("asset_key", "updated_at")
    search_fields = ("scope_key", "asset_key")
    date_hierarchy = "updated_at"
    list_select_related = ("last_run",)


MESSAGE_LIST_CHARS = 90  # the checks list keeps one line per row


@admin.register(AssetCheck)
class AssetCheckAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "check_name",
        "asset_key",
        "partition_key",
        "severity",
        "status_display",
        "checked_at",
        "message_short",
    )
    list_filter = ("asset_key", "severity", "status", "check_name", "checked_at")
    search_fields = ("check_name", "partition_key", "message")
    date_hierarchy = "checked_at"
    exclude = ("metrics",)
    readonly_fields = (
        "check_id",
        "run",
        "asset_key",
        "partition_key",
        "check_name",
        "severity",
        "status",
        "checked_at",
        "metrics_pretty",
        "message",
    )

    @admin.display(description="status", ordering="status")
    def status_display(self, obj: AssetCheck) -> str:
        return status_badge(obj.status)

    @admin.display(description="message")
    def message_short(self, obj: AssetCheck) -> str:
        """One short line in the list (rows stay one line tall); the whole message on the page."""
        return Truncator(obj.message).chars(MESSAGE_LIST_CHARS)

    @admin.display(description="metrics")
    def metrics_pretty(self, obj: AssetCheck) -> str:
        return pretty_json(obj.metrics)


@admin.register(JobLease)
class JobLeaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("job_name", "lease_key", "run", "acquired_at")
    list_filter = ("job_name",)
