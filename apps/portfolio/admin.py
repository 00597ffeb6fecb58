from __future__ import annotations

from django.contrib import admin

from apps.portfolio.models import (
    PortfolioSettings,
    Position,
    PositionLeg,
    Watchlist,
    WatchlistSymbol,
)


class PositionLegInline(admin.TabularInline):
    model = PositionLeg
    extra = 1


@admin.register(Position)
class PositionAdmin(admin.ModelAdmin):
    list_display = ("position_id", "symbol", "cost_basis", "net_debit", "opened_at")
    list_filter = ("symbol",)
    search_fields = ("position_id", "symbol")
    inlines = (PositionLegInline,)


class WatchlistSymbolInline(admin.TabularInline):
    model = WatchlistSymbol
    extra = 1


@admin.register(Watchlist)
class WatchlistAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name", "symbols__symbol")
    inlines = (WatchlistSymbolInline,)


@admin.register(PortfolioSettings)
class PortfolioSettingsAdmin(admin.ModelAdmin):
    list_display = ("base_currency", "cash", "updated_at")
