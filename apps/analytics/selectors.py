"""Reads of analytics results: flow computed straight from the warehouse (nothing written), and
which persisted flow partitions are still up to date."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.db.models import F, Value, Window
from django.db.models.functions import Abs, Coalesce, RowNumber

from apps.analytics.models import OptionsFlow, OptionsFlowPartition
from apps.core import flow
from optionshelper import warehouse


def flow_batch(
    *,
    symbols: list[str],
    as_of: dt.date,
    window: int,
    group_by: str,
    skip_persisted: bool = False,
) -> flow.FlowBatch:
    """Flow of a symbol set at ``as_of``: one warehouse read, rows as one Arrow table.

    ``skip_persisted`` leaves out (status ``up_to_date``) the symbols whose persisted partition
    was computed from exactly the snapshots stored now (:func:`flow_persisted_up_to_date`).
    """
    up_to_date = (
        functools.partial(flow_persisted_up_to_date, window=window, group_by=group_by)
        if skip_persisted
        else None
    )
    with warehouse.read() as con:
        return flow.flow_on_connection(
            con,
            symbols=list(symbols),
            as_of=as_of,
            window=window,
            group_by=group_by,
            up_to_date=up_to_date,
        )


def flow_persisted_up_to_date(
    partitions: list[flow.FlowResult], *, window: int, group_by: str
) -> set[str]:
    """Symbols whose persisted partition (same window, group-by and session range) was computed
    from exactly the snapshots stored now: the same dates, provider and newest header write."""
    if not partitions:
        return set()
    wanted = {p.symbol: p for p in partitions}
    stored = OptionsFlowPartition.objects.filter(
        symbol__in=list(wanted),
        window=window,
        group_by=group_by,
        to_date__in={p.to_date for p in partitions},
    ).values_list(
        "symbol", "from_date", "to_date", "snapshot_dates", "provider", "inputs_updated_at"
    )
    done = set()
    for symbol, from_date, to_date, snapshot_dates, provider, inputs_updated_at in stored:
        part = wanted[symbol]
        if (
            (from_date, to_date) == (part.from_date, part.to_date)
            and snapshot_dates == [d.isoformat() for d in part.snapshot_dates]
            and provider == part.provider
            and inputs_updated_at is not None
            and inputs_updated_at == part.inputs_updated_at
        ):
            done.add(symbol)
    return done


def flow_on_view(*, symbol: str, window: int, group_by: str, as_of: dt.date) -> flow.FlowResult:
    """One symbol's flow for any group-by/window, computed on view (read-only, not persisted).

    ``status`` is ``insufficient_snapshots`` (and ``rows`` empty) when fewer than ``window + 1``
    snapshots are stored at or before ``as_of``.
    """
    batch = flow_batch(symbols=[symbol], as_of=as_of, window=window, group_by=group_by)
    result = batch.partitions[0]
    result.rows = flow.symbol_rows(batch.rows, symbol)
    return result


def flow_persisted_tops(
    partitions: list[flow.FlowResult], *, window: int, group_by: str, top: int
) -> dict[str, dict[str, Any]]:
    """Per symbol, from its persisted partition (what ``compute_flow`` prints for a partition it
    skipped as up to date): rows, net ΔOI $ and volume $, and the ``top`` building and unwinding
    rows ranked as the flow SQL ranks them (|ΔOI $| descending, missing last, then row key)."""
    if not partitions:
        return {}
    keys = {(p.symbol, p.from_date, p.to_date) for p in partitions}
    stored = {
        (row["symbol"], row["from_date"], row["to_date"]): row
        for row in OptionsFlowPartition.objects.filter(
            symbol__in={p.symbol for p in partitions}, window=window, group_by=group_by
        ).values("id", "symbol", "from_date", "to_date", "rows", "net_delta_oi_notional",
                 "net_volume_notional")
        if (row["symbol"], row["from_date"], row["to_date"]) in keys
    }  # fmt: skip
    out: dict[str, dict[str, Any]] = {
        row["symbol"]: {
            "building": [],
            "unwinding": [],
            "rows": row["rows"],
            "net_delta_oi_notional": row["net_delta_oi_notional"],
            "net_volume_notional": row["net_volume_notional"],
        }
        for row in stored.values()
    }
    if top < 1:
        return out
    ranked = (
        OptionsFlow.objects.filter(
            partition_id__in=[row["id"] for row in stored.values()],
            flow_class__in=flow.TOP_CLASSES,
        )
        .annotate(
            top_rank=Window(
                RowNumber(),
                partition_by=[F("partition_id"), F("flow_class")],
                order_by=[
                    Coalesce(Abs("delta_oi_notional"), Value(-1.0)).desc(),
                    F("row_key").asc(),
                ],
            )
        )
        .filter(top_rank__lte=top)
        .order_by("symbol", "flow_class", "top_rank")
        .values("symbol", *flow.ROW_COLUMNS)
    )
    for row in ranked:
        symbol = row.pop("symbol")
        for text in ("contract_symbol", "option_type"):
            row[text] = row[text] or None  # stored blank, computed NULL
        row["expiry"] = row["expiry"].isoformat() if row["expiry"] else None
        out[symbol][row["flow_class"]].append(row)
    return out
