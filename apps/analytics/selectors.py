"""Reads of analytics results computed straight from the warehouse (nothing written)."""

from __future__ import annotations

import datetime as dt

from apps.core import flow
from optionshelper import warehouse


def flow_batch(*, symbols: list[str], as_of: dt.date, window: int, group_by: str) -> flow.FlowBatch:
    """Flow of a symbol set at ``as_of``: one warehouse read, rows as one Arrow table."""
    with warehouse.read() as con:
        return flow.flow_on_connection(
            con, symbols=list(symbols), as_of=as_of, window=window, group_by=group_by
        )


def flow_on_view(*, symbol: str, window: int, group_by: str, as_of: dt.date) -> flow.FlowResult:
    """One symbol's flow for any group-by/window, computed on view (read-only, not persisted).

    ``status`` is ``insufficient_snapshots`` (and ``rows`` empty) when fewer than ``window + 1``
    snapshots are stored at or before ``as_of``.
    """
    batch = flow_batch(symbols=[symbol], as_of=as_of, window=window, group_by=group_by)
    result = batch.partitions[0]
    result.rows = flow.symbol_rows(batch.rows, symbol)
    return result
