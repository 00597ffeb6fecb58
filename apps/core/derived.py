"""Derived daily metrics (SPEC §6.5): realised vol, IV percentile/rank and the derived_daily row.

Everything here is point-in-time: inputs are filtered to what was known on the row's date, so a
backfill reproduces exactly the number a live run would have stored.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from apps.core.values import clean, clean_dict, to_date

TRADING_DAYS = 252
IV_HISTORY = 252
DERIVED_COLUMNS = [
    "symbol",
    "date",
    "spot",
    "pc_oi",
    "pc_vol",
    "call_wall",
    "put_wall",
    "max_pain",
    "max_pain_expiry",
    "gamma_peak_strike",
    "atm_iv_near",
    "near_expiry",
    "em_near_pct",
    "skew_near_pp",
    "iv_term_slope",
    "rv_20d",
    "rv_60d",
    "iv_rv_20d",
    "atm_iv_percentile",
    "atm_iv_rank",
]
_FROM_SUMMARY = DERIVED_COLUMNS[3:15]


def _dated(series: pd.Series) -> pd.Series:
    """Sorted copy indexed by python dates, without missing values."""
    index = pd.to_datetime(pd.Index(series.index)).date
    out = pd.Series(pd.to_numeric(series, errors="coerce").to_numpy(dtype=float), index=index)
    return out.dropna().sort_index()


def realized_vol(closes: pd.Series, n_returns: int) -> float | None:
    """Annualised close-to-close vol: stdev (ddof=1) of the last ``n_returns`` log returns x √252.

    ``closes`` must already be in time order (or date-indexed); None with fewer than
    ``n_returns`` + 1 usable closes.
    """
    if n_returns < 2:
        raise ValueError(f"n_returns must be at least 2, got {n_returns}")
    values = pd.to_numeric(closes, errors="coerce").to_numpy(dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size < n_returns + 1:
        return None
    returns = np.diff(np.log(values[-(n_returns + 1) :]))
    return float(np.std(returns, ddof=1) * math.sqrt(TRADING_DAYS))


def iv_percentile_and_rank(
    value: float | None, history: pd.Series
) -> tuple[float | None, float | None]:
    """Percentile and rank of ``value`` against ``history`` (the caller's prior values).

    percentile = share of history values strictly below ``value`` x 100 (so the lowest reading
    ever is 0 and a value above all history is 100); rank = (value − min) / (max − min) x 100,
    where min and max span the history *and today's value*, so the rank stays within 0..100 (a new
    high reads 100, a new low 0) and still uses nothing dated after the row. Only the newest 252
    history values are used. None when value/history is missing, and rank is None when max == min.
    """
    hist = pd.to_numeric(history, errors="coerce").dropna().to_numpy(dtype=float)[-IV_HISTORY:]
    if value is None or not math.isfinite(value) or hist.size == 0:
        return None, None
    percentile = float((hist < value).mean() * 100.0)
    low, high = min(hist.min(), value), max(hist.max(), value)
    rank = None if high == low else float((value - low) / (high - low) * 100.0)
    return percentile, rank


def _ratio(num: Any, den: Any) -> float | None:
    if num is None or den is None or not den:
        return None
    return float(num) / float(den)


def derived_row(
    *,
    symbol: str,
    date: dt.date,
    chain_summary: dict[str, Any],
    closes: pd.Series,
    prior_atm_iv: pd.Series,
) -> dict[str, Any]:
    """One derived_daily row (keys = DERIVED_COLUMNS), JSON-safe.

    ``closes`` and ``prior_atm_iv`` are date-indexed and may extend past ``date``: only closes
    dated on/before ``date`` and IVs dated strictly before it are used (no look-ahead).
    ``spot`` comes from the chain summary, else the close on ``date``.
    """
    day = to_date(date)
    past_closes = _dated(closes)
    past_closes = past_closes[past_closes.index <= day]
    iv_hist = _dated(prior_atm_iv)
    iv_hist = iv_hist[iv_hist.index < day]
    spot = chain_summary.get("spot")
    if spot is None and len(past_closes) and past_closes.index[-1] == day:
        spot = past_closes.iloc[-1]
    atm_iv = clean(chain_summary.get("atm_iv_near"))
    rv20, rv60 = realized_vol(past_closes, 20), realized_vol(past_closes, 60)
    percentile, rank = iv_percentile_and_rank(atm_iv, iv_hist)
    row = {"symbol": symbol.upper(), "date": day, "spot": spot}
    row.update({key: chain_summary.get(key) for key in _FROM_SUMMARY})
    row.update(
        rv_20d=rv20,
        rv_60d=rv60,
        iv_rv_20d=_ratio(atm_iv, rv20),
        atm_iv_percentile=percentile,
        atm_iv_rank=rank,
    )
    return clean_dict({key: row[key] for key in DERIVED_COLUMNS})
