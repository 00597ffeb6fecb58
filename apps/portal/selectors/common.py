"""Small reads shared by pages: the newest watermark ("data as of") and the stored dashboard."""

from __future__ import annotations

import datetime as dt

from django.db.models import Max

from apps.analytics.models import DashboardView
from apps.ledger.models import AssetWatermark


def newest_watermark(
    asset_keys: list[str] | None = None, scope: str | None = None
) -> dt.date | None:
    """Market date of the newest watermark among the given assets (all when None)."""
    qs = AssetWatermark.objects.all()
    if asset_keys:
        qs = qs.filter(asset_key__in=asset_keys)
    if scope:
        qs = qs.filter(scope_key=scope)
    newest = qs.aggregate(newest=Max("watermark_ts"))["newest"]
    return newest.date() if newest else None


def latest_dashboard() -> DashboardView | None:
    return DashboardView.objects.order_by("-market_date").first()
