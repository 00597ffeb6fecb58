"""Read-only admin for persisted flow partitions, their rows and the dashboard view model."""

from __future__ import annotations

from django.contrib import admin

from apps.analytics.models import DashboardView, OptionsFlow, OptionsFlowPartition
from apps.ledger.admin_helpers import ReadOnlyAdminMixin, ReadOnlyInline, pretty_json


class FlowRowInline(ReadOnlyInline):
    model = OptionsFlow
    fields = ("row_key", "flow_class", "delta_oi", "delta_oi_notional", "volume_notional")
    readonly_fields = fields
    max_num = 0
    show_change_link = False


@admin.register(OptionsFlowPartition)
class OptionsFlowPartitionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "symbol",
        "from_date",
        "to_date",
        "window",
        "group_by",
        "rows",
        "net_delta_oi_notional",
        "has_gaps",
        "computed_at",
    )
    list_filter = ("group_by", "window", "symbol", "to_date")
    search_fields = ("symbol",)
    date_hierarchy = "to_date"


@admin.register(OptionsFlow)
class OptionsFlowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "symbol",
        "to_date",
        "window",
        "group_by",
        "row_key",
        "flow_class",
        "delta_oi",
        "delta_oi_notional",
    )
    list_filter = ("group_by", "flow_class", "window", "symbol")
    search_fields = ("symbol", "row_key", "contract_symbol")
    date_hierarchy = "to_date"
    show_full_result_count = False


@admin.register(DashboardView)
class DashboardViewAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("market_date", "built_at", "run")
    exclude = ("payload",)
    readonly_fields = ("market_date", "built_at", "run", "payload_pretty")

    @admin.display(description="payload")
    def payload_pretty(self, obj: DashboardView) -> str:
        return pretty_json(obj.payload)
