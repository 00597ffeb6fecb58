"""Options flow (SPEC §6.4): a positioning proxy from open-interest changes between snapshots.

A *pair* joins one snapshot to the previous stored one by contract symbol; a *window* of N sums N
consecutive pairs; rows are then grouped by contract, strike, expiry or expiry+strike. Gaps in
the stored history are reported (``gap_sessions``), never silently bridged.

This module holds THE flow contracts (group-by modes, window bounds, row columns, flow classes) and
the one set-based computation: SQL over ``options_snapshot_headers`` and ``options_chain`` for a
whole symbol set, run on whatever DuckDB connection the caller passes (the warehouse for jobs and
pages, an in-memory connection over a frame for :func:`compute_flow`). No I/O of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from apps.core import calendar
from apps.core.flow_contract import (  # noqa: F401 (re-exported: the contract travels with the maths)
    DEFAULT_GROUP_BY,
    DEFAULT_WINDOW,
    FLOW_CLASSES,
    GROUP_BY_KEYS,
    GROUP_BY_MODES,
    MAX_WINDOW,
    MIN_WINDOW,
    MULTIPLIER,
    ROW_COLUMNS,
    SUM_COLUMNS,
    TOP_CLASSES,
    group_by_error,
    validate,
    window_error,
)
from apps.core.jobs import UP_TO_DATE
from apps.core.values import date_series, to_date


@dataclass
class FlowResult:
    """One symbol's flow partition: its rows plus the facts recorded in the partition metadata."""

    rows: pd.DataFrame
    from_date: dt.date | None
    to_date: dt.date | None
    snapshot_dates: list[dt.date]
    gap_sessions: list[dt.date] = field(default_factory=list)
    pairs: int = 0
    status: str = "ok"  # 'ok' | 'insufficient_snapshots' | UP_TO_DATE
    provider: str = ""
    symbol: str = ""
    # The newest ``updated_at`` of the snapshot headers used: a partition persisted after it was
    # computed from exactly these snapshots.
    inputs_updated_at: dt.datetime | None = None

    def meta(self) -> dict[str, Any]:
        """JSON-friendly metadata (ISO dates)."""
        return {
            "status": self.status,
            "pairs": self.pairs,
            "from_date": self.from_date.isoformat() if self.from_date else None,
            "to_date": self.to_date.isoformat() if self.to_date else None,
            "snapshot_dates": [d.isoformat() for d in self.snapshot_dates],
            "gap_sessions": [d.isoformat() for d in self.gap_sessions],
        }


@dataclass
class FlowBatch:
    """Flow of a symbol set: per-symbol partition facts (rows empty) and all rows as one Arrow
    table (``symbol``, ROW_COLUMNS, ``top_rank``), ordered by symbol then the group-by keys."""

    window: int
    group_by: str
    partitions: list[FlowResult]
    rows: pa.Table

    def ok(self) -> list[FlowResult]:
        return [p for p in self.partitions if p.status == "ok"]


def gap_sessions(dates: list[dt.date], sessions: list[dt.date] | None = None) -> list[dt.date]:
    """Exchange sessions strictly between consecutive stored dates (``sessions`` overrides)."""
    known = sorted(map(to_date, sessions)) if sessions is not None else None
    gaps: list[dt.date] = []
    for earlier, later in zip(dates, dates[1:], strict=False):
        if known is None:
            gaps.extend(calendar.sessions_strictly_between(earlier, later))
        else:
            gaps.extend(s for s in known if earlier < s < later)
    return gaps


# --- SQL -----------------------------------------------------------------------------------------

# A partition compares snapshots of ONE provider (open interest of two vendors is not comparable):
# the provider of the symbol's newest snapshot up to the as-of (newest write wins when a date has
# several), then that provider's newest window+1 snapshots; ``available`` counts every date that
# provider has stored up to the as-of.
USED_HEADERS_SQL = """
WITH headers AS (
    SELECT symbol, snapshot_date, provider, spot, updated_at FROM options_snapshot_headers
    WHERE list_contains($symbols::VARCHAR[], symbol) AND snapshot_date <= $as_of
),
newest AS (
    SELECT symbol, provider FROM headers
    QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY snapshot_date DESC, updated_at DESC) = 1
)
SELECT symbol, snapshot_date, provider, spot,
    row_number() OVER (PARTITION BY symbol ORDER BY snapshot_date DESC) AS rn,
    count(*) OVER (PARTITION BY symbol) AS available, updated_at
FROM headers SEMI JOIN newest USING (symbol, provider)
QUALIFY rn <= $window + 1
ORDER BY symbol, snapshot_date
"""

_KEY_TEXT = {
    "contract_symbol": "contract_symbol",
    "option_type": "option_type",
    "expiry": "CAST(expiry AS VARCHAR)",  # ISO YYYY-MM-DD
    # 100.0 -> '100', 22.5 -> '22.5' (strikes are at most thousandths in OSI)
    "strike": "CASE WHEN round(strike, 3) = trunc(round(strike, 3)) "
    "THEN CAST(CAST(round(strike, 3) AS BIGINT) AS VARCHAR) "
    "ELSE CAST(round(strike, 3) AS VARCHAR) END",
}
_NULL_KEY = {"contract_symbol": "NULL::VARCHAR", "expiry": "NULL::DATE", "strike": "NULL::DOUBLE"}
# Thresholds of SPEC §6.4 (a missing prior OI counts as 0); NULL comparisons fall through.
FLOW_CLASS_SQL = """CASE
    WHEN delta_oi >= greatest(10.0, 0.10 * coalesce(prior_oi, 0.0)) THEN 'building'
    WHEN delta_oi <= -greatest(10.0, 0.10 * coalesce(prior_oi, 0.0)) THEN 'unwinding'
    WHEN volume >= greatest(50.0, 0.50 * coalesce(prior_oi, 0.0)) THEN 'churn'
    ELSE 'unknown' END"""


_RANKED = "flow_class IN ('building', 'unwinding')"


def flow_rows_sql(group_by: str, window: int) -> str:
    """Rows of every symbol in ``flow_used`` (USED_HEADERS_SQL of the sufficient symbols).

    Today's chain (rn = k) is left-joined by contract to the previous stored session's (rn = k+1)
    for k = 1..window; sums are NULL where every input is NULL; ``top_rank`` orders building and
    unwinding rows by |ΔOI$| (missing last, ties by row_key) for ``--top``.
    """
    validate(window, group_by)
    keys = GROUP_BY_KEYS[group_by]
    key_cols = ", ".join(keys)
    out_cols = ", ".join(c if c in keys else f"{_NULL_KEY[c]} AS {c}" for c in ROW_COLUMNS[1:5])
    row_key = " || '|' || ".join(_KEY_TEXT[k] for k in keys)
    m = MULTIPLIER
    return f"""
WITH chain AS (
    SELECT u.symbol, u.rn, u.spot, c.contract_symbol, lower(c.option_type) AS option_type,
        c.expiry, c.strike, c.volume, c.open_interest, c.mark, c.bs_delta
    FROM options_chain c JOIN flow_used u
        ON c.symbol = u.symbol AND c.snapshot_date = u.snapshot_date AND c.provider = u.provider
),
pairs AS (
    SELECT t.*, b.open_interest AS prior_oi, t.open_interest - b.open_interest AS delta_oi
    FROM chain t LEFT JOIN chain b
        ON b.symbol = t.symbol AND b.rn = t.rn + 1 AND b.contract_symbol = t.contract_symbol
    WHERE t.rn <= {int(window)}
),
grouped AS (
    SELECT symbol, {key_cols},
        sum(delta_oi) AS delta_oi,
        sum(delta_oi * mark * {m}) AS delta_oi_notional,
        sum(volume * mark * {m}) AS volume_notional,
        sum(delta_oi * bs_delta * spot * {m}) AS delta_notional,
        sum(volume) AS volume,
        sum(prior_oi) AS prior_oi,
        count(*) AS n_pairs
    FROM pairs GROUP BY symbol, {key_cols}
),
classed AS (
    SELECT *, {FLOW_CLASS_SQL} AS flow_class, {row_key} AS row_key FROM grouped
)
SELECT symbol, row_key, {out_cols}, {", ".join(SUM_COLUMNS)}, n_pairs, flow_class,
    CASE WHEN {_RANKED} THEN row_number() OVER (
        PARTITION BY symbol, flow_class  -- churn and unknown rows: no sort keys to compare
        ORDER BY CASE WHEN {_RANKED} THEN coalesce(abs(delta_oi_notional), -1.0) END DESC,
            CASE WHEN {_RANKED} THEN row_key END
    ) END AS top_rank
FROM classed
ORDER BY symbol, {key_cols}
"""


def flow_on_connection(
    con: duckdb.DuckDBPyConnection,
    *,
    symbols: list[str],
    as_of: dt.date,
    window: int,
    group_by: str,
    sessions: list[dt.date] | None = None,
    up_to_date: Callable[[list[FlowResult]], Collection[str]] | None = None,
) -> FlowBatch:
    """Flow of every symbol in ``symbols`` at ``as_of`` over the relations visible on ``con``.

    Two statements on one connection: the used headers (partition facts), then every row of every
    sufficient symbol as one Arrow table. ``up_to_date`` is given the sufficient partitions' facts
    and names the symbols whose result is already stored: they get status ``up_to_date`` and no rows.
    """
    validate(window, group_by)
    used = con.execute(
        USED_HEADERS_SQL, {"symbols": list(symbols), "as_of": to_date(as_of), "window": window}
    ).fetchall()
    by_symbol: dict[str, list[tuple]] = {}
    for row in used:
        by_symbol.setdefault(row[0], []).append(row)
    no_rows = empty_rows()  # every partition's ``rows`` until a caller fills it (never mutated)
    partitions = [
        _partition(s, by_symbol.get(s, []), window, sessions, no_rows) for s in symbols
    ]
    if up_to_date is not None:
        done = set(up_to_date([p for p in partitions if p.status == "ok"]))
        for partition in partitions:
            if partition.symbol in done and partition.status == "ok":
                partition.status = UP_TO_DATE
    sufficient = [s for s, p in zip(symbols, partitions, strict=True) if p.status == "ok"]
    if not sufficient:
        return FlowBatch(window, group_by, partitions, empty_rows_table())
    con.register(
        "flow_used",
        pa.Table.from_pylist(
            [
                dict(zip(("symbol", "snapshot_date", "provider", "spot", "rn"), r[:5], strict=True))
                for s in sufficient
                for r in by_symbol[s]
            ]
        ),
    )
    try:
        rows = con.execute(flow_rows_sql(group_by, window)).to_arrow_table()
    finally:
        con.unregister("flow_used")
    return FlowBatch(window, group_by, partitions, rows)


def _partition(
    symbol: str,
    used: list[tuple],
    window: int,
    sessions: list[dt.date] | None,
    no_rows: pd.DataFrame,
) -> FlowResult:
    dates = [r[1] for r in used]
    first, last = (dates[0], dates[-1]) if dates else (None, None)
    if len(dates) < window + 1:
        return FlowResult(
            no_rows, first, last, dates, [], 0, "insufficient_snapshots", symbol=symbol
        )
    # the provider of the oldest session used (the first row of the old per-symbol read)
    return FlowResult(
        no_rows,
        first,
        last,
        dates,
        gap_sessions(dates, sessions),
        window,
        "ok",
        provider=str(used[0][2]),
        symbol=symbol,
        inputs_updated_at=max(r[6] for r in used),
    )


def empty_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.Series(dtype=float if c in SUM_COLUMNS or c == "strike" else object)
            for c in ROW_COLUMNS
        }
    )


_ARROW_TYPES = {
    "symbol": pa.string(),
    "row_key": pa.string(),
    "contract_symbol": pa.string(),
    "option_type": pa.string(),
    "expiry": pa.date32(),
    "strike": pa.float64(),
    **{c: pa.float64() for c in SUM_COLUMNS},
    "n_pairs": pa.int64(),
    "flow_class": pa.string(),
    "top_rank": pa.int64(),
}


def empty_rows_table() -> pa.Table:
    return pa.schema(list(_ARROW_TYPES.items())).empty_table()


def symbol_rows(rows: pa.Table, symbol: str) -> pd.DataFrame:
    """One symbol's rows of a batch as a frame (ROW_COLUMNS; python dates in ``expiry``)."""
    if rows.num_rows == 0:
        return empty_rows()
    mask = pc.equal(rows["symbol"], symbol)
    frame = rows.filter(mask).select(ROW_COLUMNS).to_pandas(date_as_object=True)
    return frame if len(frame) else empty_rows()


# --- one symbol from a frame ---------------------------------------------------------------------

_CHAIN_FRAME_COLUMNS = (
    "contract_symbol",
    "option_type",
    "expiry",
    "strike",
    "volume",
    "open_interest",
    "mark",
    "bs_delta",
)


def compute_flow(
    snapshots: pd.DataFrame,
    *,
    as_of_date: dt.date,
    window: int,
    group_by: str,
    sessions: list[dt.date] | None = None,
) -> FlowResult:
    """Flow of ONE symbol's enriched chains (``snapshot_date`` and ``spot`` columns, several dates)
    at or before ``as_of_date``, through the same SQL the jobs run on the warehouse.

    ``sessions`` overrides the exchange calendar for gap detection.
    """
    validate(window, group_by)
    missing = [c for c in ("mark", "bs_delta") if c not in snapshots.columns]
    if missing and len(snapshots):
        raise ValueError(f"the chains lack {missing}; enrich them with enrich_chain first")
    frame = pd.DataFrame(
        {
            "symbol": "X",
            "snapshot_date": date_series(snapshots["snapshot_date"]),
            "provider": "frame",
            **{
                c: (
                    date_series(snapshots[c])
                    if c == "expiry"
                    else snapshots[c]
                    if c in snapshots
                    else None
                )
                for c in _CHAIN_FRAME_COLUMNS
            },
        }
    )
    for c in ("strike", "volume", "open_interest", "mark", "bs_delta"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    frame["option_type"] = frame["option_type"].astype(str)
    spot = snapshots["spot"] if "spot" in snapshots else None
    frame["spot"] = pd.to_numeric(spot, errors="coerce").astype(float) if spot is not None else None
    frame = frame.dropna(subset=["snapshot_date"])
    headers = (
        frame.groupby("snapshot_date", sort=True)["spot"]
        .first()
        .reset_index()
        .assign(symbol="X", provider="frame", updated_at=pd.Timestamp("2000-01-01"))
    )
    con = duckdb.connect()
    try:
        con.register("chain_frame", frame.drop(columns=["spot"]))
        con.register("header_frame", headers)
        con.execute(
            "CREATE TEMP VIEW options_chain AS SELECT symbol, CAST(snapshot_date AS DATE) "
            "AS snapshot_date, provider, contract_symbol, option_type, CAST(expiry AS DATE) AS "
            "expiry, strike, volume, open_interest, mark, bs_delta FROM chain_frame"
        )
        con.execute(
            "CREATE TEMP VIEW options_snapshot_headers AS SELECT symbol, CAST(snapshot_date AS "
            "DATE) AS snapshot_date, provider, spot, updated_at FROM header_frame"
        )
        batch = flow_on_connection(
            con,
            symbols=["X"],
            as_of=to_date(as_of_date),
            window=window,
            group_by=group_by,
            sessions=sessions,
        )
    finally:
        con.close()
    result = batch.partitions[0]
    result.rows = symbol_rows(batch.rows, "X")
    result.provider, result.symbol = "", ""
    return result


def top_rows(rows: pd.DataFrame, n: int, flow_class: str) -> pd.DataFrame:
    """The ``n`` rows of one class with the largest |delta_oi_notional| (ties: row_key order)."""
    if flow_class not in FLOW_CLASSES:
        raise ValueError(f"flow_class must be one of {', '.join(FLOW_CLASSES)}; got {flow_class!r}")
    subset = rows[rows["flow_class"] == flow_class]
    size = subset["delta_oi_notional"].abs().fillna(-1.0)
    order = subset.assign(_size=size).sort_values(
        ["_size", "row_key"], ascending=[False, True], kind="mergesort"
    )
    return order.drop(columns="_size").head(n).reset_index(drop=True)
