"""Freshness watermarks: advanced monotonically by one conditional UPDATE (a race cannot move one back)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.ledger.models import (
    AssetWatermark,
    IngestionRun,
)

_SCOPES_PER_UPDATE = 500  # bound the statement's parameters (SQLite's limit)


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
    """Move many (asset_key, scope_key) watermarks forward in a few statements, whatever their
    number: one read of the current values, one INSERT of the missing ones (a racing insert is
    ignored), then one conditional UPDATE per (asset, new value) for those that would move. The
    ``WHERE watermark_ts < new`` keeps every move monotonic, as in :func:`watermark_advance`; a
    re-run that moves nothing writes nothing."""
    if not moves:
        return
    current = {
        (asset_key, scope_key): ts
        for asset_key, scope_key, ts in AssetWatermark.objects.filter(
            asset_key__in={a for a, _ in moves}, scope_key__in={s for _, s in moves}
        ).values_list("asset_key", "scope_key", "watermark_ts")
    }
    now = timezone.now()
    missing = [key for key in moves if key not in current]
    if missing:
        AssetWatermark.objects.bulk_create(
            [
                AssetWatermark(
                    asset_key=asset_key,
                    scope_key=scope_key,
                    watermark_ts=moves[asset_key, scope_key],
                    updated_at=now,
                    last_run=run,
                )
                for asset_key, scope_key in missing
            ],
            ignore_conflicts=True,
        )
    forward: dict[tuple[str, dt.datetime], list[str]] = defaultdict(list)
    for (asset_key, scope_key), watermark_ts in moves.items():
        stored = current.get((asset_key, scope_key))
        # A missing one is updated too: a racing first write may have inserted an older value.
        if stored is None or stored < watermark_ts:
            forward[asset_key, watermark_ts].append(scope_key)
    values = {"updated_at": now, "last_run": run}
    for (asset_key, watermark_ts), scopes in forward.items():
        for start in range(0, len(scopes), _SCOPES_PER_UPDATE):
            AssetWatermark.objects.filter(
                asset_key=asset_key,
                scope_key__in=scopes[start : start + _SCOPES_PER_UPDATE],
                watermark_ts__lt=watermark_ts,
            ).update(watermark_ts=watermark_ts, **values)
