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
SHORT_IV_HISTORY = 20  # IV rank/percentile on fewer prior sessions than this read as "short"
# Over derived_daily rows (all of a symbol's, before any date filter): how many prior sessions' ATM
# IVs a row's IV rank and percentile rest on, counted as DERIVED_METRICS_SQL counts them (the
# earlier finite values, at most IV_HISTORY).
IV_HISTORY_SQL = (
    "least(count(CASE WHEN isfinite(atm_iv_near) THEN 1 END) OVER (PARTITION BY symbol ORDER BY "
    f"date ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), {IV_HISTORY})"
)
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
    "next_expiry",
    "rv_20d",
    "rv_60d",
    "iv_rv_20d",
    "atm_iv_percentile",
    "atm_iv_rank",
]
DERIVED_VALUE_COLUMNS = DERIVED_COLUMNS[2:]  # everything but the (symbol, date) key
DERIVED_DATE_COLUMNS = ("max_pain_expiry", "near_expiry", "next_expiry")
SUMMARY_COLUMNS = DERIVED_COLUMNS[3:16]  # pc_oi .. next_expiry: straight from summarize_chain
METRIC_COLUMNS = DERIVED_COLUMNS[16:]  # rv_20d .. atm_iv_rank: from closes and prior rows


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
    row.update({key: chain_summary.get(key) for key in SUMMARY_COLUMNS})
    row.update(
        rv_20d=rv20,
        rv_60d=rv60,
        iv_rv_20d=_ratio(atm_iv, rv20),
        atm_iv_percentile=percentile,
        atm_iv_rank=rank,
    )
    return clean_dict({key: row[key] for key in DERIVED_COLUMNS})


# --- set-based: RV and IV percentile/rank for many symbols and dates in one DuckDB pass ----------


def _finite(expr: str) -> str:
    return f"CASE WHEN isfinite({expr}) THEN {expr} END"


def _rv(n: int) -> str:
    window = f"PARTITION BY symbol ORDER BY date ROWS BETWEEN {n - 1} PRECEDING AND CURRENT ROW"
    return f"CASE WHEN n > {n} THEN stddev_samp(r) OVER ({window}) * sqrt({TRADING_DAYS}) END"


# Inputs: ``derived_new`` (symbol, date, spot and SUMMARY_COLUMNS of the rows being computed),
# ``candles_daily`` and the stored ``derived_daily`` (history of rows not being recomputed).
# A row sees closes dated on/before it and IVs of rows dated strictly before it (no look-ahead),
# exactly as :func:`derived_row`.
DERIVED_METRICS_SQL = f"""
WITH syms AS (SELECT DISTINCT symbol FROM derived_new),
closes AS (
    SELECT c.symbol, c.date, c.close FROM candles_daily c SEMI JOIN syms USING (symbol)
    WHERE c.close > 0 AND isfinite(c.close)
),
rets AS (
    SELECT symbol, date, close,
        ln(close) - ln(lag(close) OVER (PARTITION BY symbol ORDER BY date)) AS r,
        row_number() OVER (PARTITION BY symbol ORDER BY date) AS n
    FROM closes
),
rv AS (SELECT symbol, date, close, {_rv(20)} AS rv_20d, {_rv(60)} AS rv_60d FROM rets),
iv_all AS (
    SELECT symbol, date, atm_iv_near AS iv FROM derived_new
    UNION ALL
    SELECT d.symbol, d.date, d.atm_iv_near FROM derived_daily d SEMI JOIN syms USING (symbol)
    WHERE NOT EXISTS (
        SELECT 1 FROM derived_new x WHERE x.symbol = d.symbol AND x.date = d.date
    )
),
iv_hist AS (
    SELECT symbol, date, iv,
        list(iv) OVER (
            PARTITION BY symbol ORDER BY date ROWS BETWEEN {IV_HISTORY} PRECEDING AND 1 PRECEDING
        ) AS prior
    FROM iv_all WHERE iv IS NOT NULL AND isfinite(iv)
),
iv_stats AS (
    SELECT symbol, date, iv, len(prior) AS k,
        len(list_filter(prior, x -> x < iv)) AS below,
        least(list_min(prior), iv) AS low, greatest(list_max(prior), iv) AS high
    FROM iv_hist
),
joined AS (
    SELECT n.*, rv.date AS close_date, rv.close, rv.rv_20d, rv.rv_60d,
        s.k, s.below, s.low, s.high
    FROM derived_new n
    ASOF LEFT JOIN rv ON rv.symbol = n.symbol AND n.date >= rv.date
    LEFT JOIN iv_stats s ON s.symbol = n.symbol AND s.date = n.date
)
SELECT symbol, date,
    coalesce(spot, CASE WHEN close_date = date THEN close END) AS spot,
    {", ".join(SUMMARY_COLUMNS)},
    rv_20d, rv_60d,
    CASE WHEN rv_20d <> 0 THEN {_finite("atm_iv_near / rv_20d")} END AS iv_rv_20d,
    CASE WHEN k > 0 THEN below / k * 100.0 END AS atm_iv_percentile,
    CASE WHEN k > 0 AND high <> low THEN (atm_iv_near - low) / (high - low) * 100.0 END
        AS atm_iv_rank
FROM joined
ORDER BY symbol, date
"""
