"""Options-flow reads from the metadata DB (OptionsFlowPartition / OptionsFlow), sorted in SQL,
and a series never persisted computed from the warehouse on view."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from apps.analytics import selectors as analytics_selectors
from apps.analytics.models import OptionsFlow, OptionsFlowPartition
from apps.core.values import clean


def flow_symbols() -> list[str]:
    return list(
        OptionsFlowPartition.objects.order_by("symbol").values_list("symbol", flat=True).distinct()
    )


def flow_windows(symbol: str | None = None) -> list[int]:
    qs = OptionsFlowPartition.objects.all()
    if symbol:
        qs = qs.filter(symbol=symbol)
    return list(qs.order_by("window").values_list("window", flat=True).distinct())


def partitions(
    *,
    symbol: str,
    group_by: str,
    window: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> QuerySet[OptionsFlowPartition]:
    """Partitions of one series (symbol, group_by, window) in a date range, oldest first."""
    qs = OptionsFlowPartition.objects.filter(symbol=symbol, group_by=group_by, window=window)
    if date_from:
        qs = qs.filter(to_date__gte=date_from)
    if date_to:
        qs = qs.filter(to_date__lte=date_to)
    return qs.order_by("to_date")


def flow_rows(partition: OptionsFlowPartition) -> QuerySet[OptionsFlow]:
    """Rows of one partition, biggest |ΔOI$| first by default (the table may re-sort in SQL)."""
    return OptionsFlow.objects.filter(partition=partition).order_by("-delta_oi_notional")


def top_rows(partition: OptionsFlowPartition, *, n: int = 10) -> dict[str, list[OptionsFlow]]:
    """Largest building (positive ΔOI$) and unwinding (negative ΔOI$) rows of a partition."""
    rows = OptionsFlow.objects.filter(partition=partition, delta_oi_notional__isnull=False)
    return {
        "building": list(rows.filter(delta_oi_notional__gt=0).order_by("-delta_oi_notional")[:n]),
        "unwinding": list(rows.filter(delta_oi_notional__lt=0).order_by("delta_oi_notional")[:n]),
    }


def newest_series(symbol: str) -> tuple[str, int, dt.date] | None:
    """(group_by, window, to_date) of the newest stored partition of a symbol (the page default)."""
    row = (
        OptionsFlowPartition.objects.filter(symbol=symbol)
        .order_by("-to_date", "-pk")
        .values_list("group_by", "window", "to_date")
        .first()
    )
    return tuple(row) if row else None  # type: ignore[return-value]


def flow_on_view(*, symbol: str, group_by: str, window: int, as_of: dt.date) -> dict[str, Any]:
    """One symbol's flow for a (group-by, window) with no persisted partition, computed from the
    stored snapshots at or before ``as_of`` now (read-only, nothing written): the partition facts
    and its rows (JSON-safe records, biggest ΔOI $ first)."""
    result = analytics_selectors.flow_on_view(
        symbol=symbol, window=window, group_by=group_by, as_of=as_of
    )
    rows = result.rows.sort_values("delta_oi_notional", ascending=False, na_position="last")
    return {
        "status": result.status,
        "from_date": result.from_date,
        "to_date": result.to_date,
        "snapshot_dates": result.snapshot_dates,
        "gap_sessions": result.gap_sessions,
        "rows": [
            {key: clean(value) for key, value in record.items()}
            for record in rows.to_dict("records")
        ],
    }
