"""Small reads shared by pages: the newest watermark ("data as of"), the stored dashboard and the
per-generation view-model cache every page reads through."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import Max
from django.utils import timezone

from apps.analytics.models import DashboardView
from apps.ledger.models import AssetWatermark
from optionshelper import generation

T = TypeVar("T")


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


def view_model(
    name: str, parts: tuple[Any, ...], build: Callable[[], T], *, fresh: bool = False
) -> tuple[T, int]:
    """A page's view model and its data generation: cached per generation, or built now when
    ``fresh`` (CSV exports are never answered from a cache)."""
    if fresh:
        return build(), generation.current()
    return generation.cached(name, parts, build)


def clocked_view_model(
    name: str, parts: tuple[Any, ...], build: Callable[[dt.datetime], T], *, fresh: bool = False
) -> tuple[T, int]:
    """:func:`view_model` for a model that also moves with the clock without any write (health: a
    deadline passes, a run leaves the lookback): the key holds the current minute and the model is
    built as of that minute's start, so a cached one is never more than that minute's view."""
    minute = timezone.now().replace(second=0, microsecond=0)
    return view_model(name, (*parts, minute.isoformat()), lambda: build(minute), fresh=fresh)
