"""The per-symbol pandas flow of the previous implementation, kept as the tests' reference.

Options flow (SPEC §6.4): a positioning proxy from open-interest changes between snapshots.

A *pair* joins one snapshot to the previous stored one by contract symbol; a *window* of N sums N
consecutive pairs; rows are then grouped by contract, strike, expiry or expiry+strike. Gaps in
the stored history are reported (``gap_sessions``), never silently bridged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from apps.core import calendar
from apps.core.flow_contract import (
    FLOW_CLASSES,
    GROUP_BY_KEYS,
    MAX_WINDOW,
    MULTIPLIER,
    ROW_COLUMNS,
    SUM_COLUMNS,
)
from apps.core.values import date_series, to_date


@dataclass
class FlowResult:
    """Flow rows plus the facts a job records in the partition's metadata."""

    rows: pd.DataFrame
    from_date: dt.date | None
    to_date: dt.date | None
    snapshot_dates: list[dt.date]
    gap_sessions: list[dt.date] = field(default_factory=list)
    pairs: int = 0
    status: str = "ok"  # 'ok' | 'insufficient_snapshots'

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


def classify_flow(delta_oi: Any, volume: Any, prior_oi: Any) -> np.ndarray:
    """building / unwinding / churn / unknown by the SPEC thresholds (missing prior OI = 0)."""
    d = np.asarray(delta_oi, dtype=float)
    v = np.asarray(volume, dtype=float)
    prior = np.nan_to_num(np.asarray(prior_oi, dtype=float), nan=0.0)
    move = np.maximum(10.0, 0.10 * prior)
    busy = np.maximum(50.0, 0.50 * prior)
    return np.select(
        [d >= move, d <= -move, v >= busy], list(FLOW_CLASSES[:3]), default="unknown"
    ).astype(object)


def _num(frame: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(frame[col], errors="coerce").astype(float)


def pair_snapshots(today: pd.DataFrame, before: pd.DataFrame, *, spot: float) -> pd.DataFrame:
    """Today's (enriched) chain left-joined to the previous snapshot by contract_symbol.

    Adds prior_oi, delta_oi (missing when either OI is missing), delta_oi_notional,
    volume_notional, delta_notional and flow_class. Contracts gone today are dropped.
    """
    missing = [c for c in ("mark", "bs_delta") if c not in today.columns]
    if missing:
        raise ValueError(f"today's chain lacks {missing}; enrich it with enrich_chain first")
    prior = before[["contract_symbol", "open_interest"]].drop_duplicates("contract_symbol")
    prior = prior.rename(columns={"open_interest": "prior_oi"})
    out = today.drop(columns=["prior_oi"], errors="ignore").merge(
        prior, on="contract_symbol", how="left", validate="many_to_one"
    )
    out["prior_oi"] = _num(out, "prior_oi")
    out["delta_oi"] = _num(out, "open_interest") - out["prior_oi"]
    mark, volume = _num(out, "mark"), _num(out, "volume")
    out["delta_oi_notional"] = out["delta_oi"] * mark * MULTIPLIER
    out["volume_notional"] = volume * mark * MULTIPLIER
    out["delta_notional"] = out["delta_oi"] * _num(out, "bs_delta") * float(spot) * MULTIPLIER
    out["flow_class"] = classify_flow(out["delta_oi"], volume, out["prior_oi"])
    return out


def _validate(window: int, group_by: str) -> None:
    if (
        isinstance(window, bool)
        or not isinstance(window, int | np.integer)
        or not (1 <= window <= MAX_WINDOW)
    ):
        raise ValueError(f"window must be an integer from 1 to {MAX_WINDOW}, got {window!r}")
    if group_by not in GROUP_BY_KEYS:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY_KEYS)}; got {group_by!r}")


def _strike_text(strike: pd.Series) -> pd.Series:
    """100.0 -> '100', 22.5 -> '22.5' (strikes are at most thousandths in OSI)."""
    return strike.astype(float).round(3).astype(str).str.replace(r"\.0$", "", regex=True)


ROW_KEY_PARTS: dict[str, list[str]] = {
    "contract": ["contract_symbol", "expiry", "option_type", "strike"],
    "strike": ["option_type", "strike"],
    "expiry": ["option_type", "expiry"],
    "expiry-strike": ["option_type", "expiry", "strike"],
}


def _key_text(rows: pd.DataFrame, part: str) -> pd.Series:
    if part == "expiry":
        return pd.to_datetime(rows["expiry"]).dt.strftime("%Y-%m-%d")
    if part == "strike":
        return _strike_text(rows["strike"])
    return rows[part].astype(str)


def _row_key(rows: pd.DataFrame, group_by: str) -> pd.Series:
    """SPEC row_key: contract|expiry|type|strike, type|strike, type|expiry, type|expiry|strike."""
    texts = [_key_text(rows, part) for part in ROW_KEY_PARTS[group_by]]
    key = texts[0]
    for text in texts[1:]:
        key = key + "|" + text
    return key


def group_flow(pairs: pd.DataFrame, group_by: str) -> pd.DataFrame:
    """Sum paired rows by the chosen keys and reclassify each output row on the sums."""
    keys = GROUP_BY_KEYS[group_by]
    data = pairs.assign(
        option_type=pairs["option_type"].astype(str).str.lower(), volume=_num(pairs, "volume")
    )
    grouped = data.groupby(keys, dropna=False, sort=True)
    rows = grouped[SUM_COLUMNS].sum(min_count=1)
    rows["n_pairs"] = grouped.size()
    rows = rows.reset_index()
    for col in ("contract_symbol", "expiry", "strike"):
        if col not in rows.columns:
            rows[col] = None if col != "strike" else np.nan
    rows["flow_class"] = classify_flow(rows["delta_oi"], rows["volume"], rows["prior_oi"])
    rows["row_key"] = _row_key(rows, group_by) if len(rows) else pd.Series(dtype=object)
    rows["n_pairs"] = rows["n_pairs"].astype(int)
    return rows[ROW_COLUMNS].reset_index(drop=True)


def _gap_sessions(dates: list[dt.date], sessions: list[dt.date] | None) -> list[dt.date]:
    gaps: list[dt.date] = []
    for earlier, later in zip(dates, dates[1:], strict=False):
        if sessions is None:
            gaps.extend(calendar.sessions_strictly_between(earlier, later))
        else:
            gaps.extend(s for s in sorted(map(to_date, sessions)) if earlier < s < later)
    return gaps


def _empty_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.Series(dtype=float if c in SUM_COLUMNS or c == "strike" else object)
            for c in ROW_COLUMNS
        }
    )


def compute_flow(
    snapshots: pd.DataFrame,
    *,
    as_of_date: dt.date,
    window: int,
    group_by: str,
    sessions: list[dt.date] | None = None,
) -> FlowResult:
    """Flow over the last ``window`` pairs of stored snapshots at or before ``as_of_date``.

    ``snapshots`` holds enriched chains of ONE symbol for several dates, with ``snapshot_date``
    and ``spot`` columns. ``sessions`` overrides the exchange calendar for gap detection.
    """
    _validate(window, group_by)
    frame = snapshots.assign(
        snapshot_date=date_series(snapshots["snapshot_date"]),
        expiry=date_series(snapshots["expiry"]),
    )
    as_of = to_date(as_of_date)
    available = sorted(d for d in frame["snapshot_date"].dropna().unique() if d <= as_of)
    used = available[-(window + 1) :]
    if len(used) < window + 1:
        return FlowResult(
            _empty_rows(),
            used[0] if used else None,
            used[-1] if used else None,
            used,
            [],
            0,
            "insufficient_snapshots",
        )
    by_date = {d: frame[frame["snapshot_date"] == d] for d in used}
    paired = [
        pair_snapshots(by_date[later], by_date[earlier], spot=float(by_date[later]["spot"].iloc[0]))
        for earlier, later in zip(used, used[1:], strict=False)
    ]
    rows = group_flow(pd.concat(paired, ignore_index=True), group_by)
    return FlowResult(rows, used[0], used[-1], used, _gap_sessions(used, sessions), window, "ok")


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
