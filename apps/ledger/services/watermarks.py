"""Freshness watermarks: advanced monotonically by one conditional UPDATE (a race cannot move one back)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.ledger.models import (
    AssetWatermark,
    IngestionRun,
)


def watermark_advance(
    *, asset_key: str, scope_key: str, watermark_ts: dt.datetime, run: IngestionRun | None = None
) -> bool:
    """Move a watermark forward; an older value never overwrites a newer one.

    One conditional UPDATE (``WHERE watermark_ts < new``) does the move, so two processes racing
    cannot move it backwards; the INSERT path handles the first write and its race.
    """
    now = timezone.now()
    values = {"watermark_ts": watermark_ts, "updated_at": now, "last_run": run}
    rows = AssetWatermark.objects.filter(asset_key=asset_key, scope_key=scope_key)
    if rows.filter(watermark_ts__lt=watermark_ts).update(**values):
        return True
    if rows.exists():
        return False
    try:
        with transaction.atomic():
            AssetWatermark.objects.create(asset_key=asset_key, scope_key=scope_key, **values)
        return True
    except IntegrityError:
        return bool(rows.filter(watermark_ts__lt=watermark_ts).update(**values))


def watermarks_advance(
    *, moves: Mapping[tuple[str, str], dt.datetime], run: IngestionRun | None = None
) -> None:
    """Move many (asset_key, scope_key) watermarks forward: one read of their current values,
    then :func:`watermark_advance` only for those that would move (a re-run moves none)."""
    if not moves:
        return
    current = {
        (asset_key, scope_key): ts
        for asset_key, scope_key, ts in AssetWatermark.objects.filter(
            asset_key__in={a for a, _ in moves}, scope_key__in={s for _, s in moves}
        ).values_list("asset_key", "scope_key", "watermark_ts")
    }
    for (asset_key, scope_key), watermark_ts in moves.items():
        stored = current.get((asset_key, scope_key))
        if stored is None or stored < watermark_ts:
            watermark_advance(
                asset_key=asset_key, scope_key=scope_key, watermark_ts=watermark_ts, run=run
            )
