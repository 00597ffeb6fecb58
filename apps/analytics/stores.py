"""Writes of analytics results to the metadata DB: flow partitions and the dashboard view model."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from apps.analytics.models import DashboardView, OptionsFlow, OptionsFlowPartition
from apps.core.flow import FlowResult

_ROW_FIELDS = (
    "row_key",
    "contract_symbol",
    "option_type",
    "expiry",
    "strike",
    "delta_oi",
    "delta_oi_notional",
    "volume_notional",
    "delta_notional",
    "volume",
    "prior_oi",
    "n_pairs",
    "flow_class",
)


def _sum(rows: pd.DataFrame, column: str) -> float:
    return float(np.nansum(rows[column].to_numpy(dtype=float))) if len(rows) else 0.0


def _row_tuples(rows: pd.DataFrame, prefix: tuple[Any, ...]) -> list[tuple]:
    """Row values as plain Python tuples (NaN → NULL), built column-wise, not per row."""
    frame = rows.loc[:, list(_ROW_FIELDS)].copy()
    frame["contract_symbol"] = frame["contract_symbol"].fillna("")
    frame["option_type"] = frame["option_type"].fillna("")
    frame["expiry"] = pd.to_datetime(frame["expiry"]).dt.date
    frame["n_pairs"] = frame["n_pairs"].fillna(0).astype("int64")
    values = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return [prefix + tuple(row) for row in values]


def flow_partition_replace(
    *,
    symbol: str,
    result: FlowResult,
    window: int,
    group_by: str,
    provider: str,
    run_id: str | None,
) -> int:
    """Replace one flow partition (its metadata row and all its rows) in one transaction."""
    key = {
        "symbol": symbol,
        "from_date": result.from_date,
        "to_date": result.to_date,
        "window": window,
        "group_by": group_by,
    }
    rows = result.rows
    with transaction.atomic():
        OptionsFlow.objects.filter(**key).delete()
        OptionsFlowPartition.objects.filter(**key).delete()
        partition = OptionsFlowPartition.objects.create(
            **key,
            snapshot_dates=[d.isoformat() for d in result.snapshot_dates],
            gap_sessions=[d.isoformat() for d in result.gap_sessions],
            rows=len(rows),
            net_delta_oi_notional=_sum(rows, "delta_oi_notional"),
            net_volume_notional=_sum(rows, "volume_notional"),
            provider=provider,
            run_id=run_id,
            computed_at=timezone.now(),
        )
        if len(rows):
            _bulk_insert_rows(partition, rows, key)
    return len(rows)


def _bulk_insert_rows(partition: OptionsFlowPartition, rows: pd.DataFrame, key: dict) -> None:
    """One executemany of plain tuples: far cheaper than building a model instance per row."""
    table = connection.ops.quote_name(OptionsFlow._meta.db_table)
    prefix_fields = ("partition_id", "symbol", "from_date", "to_date", "window", "group_by")
    columns = ", ".join(connection.ops.quote_name(f) for f in (*prefix_fields, *_ROW_FIELDS))
    placeholders = ", ".join(["%s"] * (len(prefix_fields) + len(_ROW_FIELDS)))
    prefix = (
        partition.pk,
        key["symbol"],
        key["from_date"],
        key["to_date"],
        key["window"],
        key["group_by"],
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", _row_tuples(rows, prefix)
        )


def dashboard_view_save(
    *, market_date: dt.date, payload: dict[str, Any], run_id: str | None
) -> DashboardView:
    view, _ = DashboardView.objects.update_or_create(
        market_date=market_date,
        defaults={"payload": payload, "built_at": timezone.now(), "run_id": run_id},
    )
    return view
