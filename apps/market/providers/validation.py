"""Normalise and sanity-check provider frames before anything is written to the warehouse.

Vendors disagree on dtypes (strings for numbers, tz-naive stamps, 'C'/'P' for types), and a bad
row written once poisons every downstream metric. Jobs call these on every provider result.

Chains are validated row by row (:func:`clean_chain`): a row with a non-finite or non-positive
strike (or one more than 100x away from spot), an unknown type, an unparseable or past expiry
(before the snapshot date), a negative or infinite price, bid > ask, a non-numeric or negative
volume, or a negative open interest is dropped and counted by reason; implied vols that are
vendor placeholders (<= 0.01, e.g. 0 and 0.01), above 5.0 (500%) or non-finite are cleared so the
snapshot job re-solves them from the mark. A symbol-day fails (ProviderError, one line) when its
spot is not a finite positive number, a contract symbol repeats, or more than half of its rows
are bad. Candles raise ProviderError naming the problem and a few offending rows.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .base import CHAIN_COLUMNS, HISTORY_COLUMNS, ProviderError

_PRICE_HISTORY = ("open", "high", "low", "close", "adj_close", "vwap")
_NUMERIC_HISTORY = _PRICE_HISTORY + ("volume", "dividends", "splits", "trade_count")
_PRICE_CHAIN = ("strike", "bid", "ask", "last")
_NUMERIC_CHAIN = _PRICE_CHAIN + ("volume", "open_interest", "implied_vol")
_TYPE_MAP = {"call": "call", "put": "put", "c": "call", "p": "put"}
_SAMPLE_ROWS = 3


def _sample(df: pd.DataFrame, mask: pd.Series, cols: list[str]) -> str:
    """A short, readable excerpt of the offending rows for the error message."""
    rows = df.loc[mask, [c for c in cols if c in df.columns]].head(_SAMPLE_ROWS)
    return rows.to_dict(orient="records").__repr__()


def _require(symbol: str, df: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ProviderError(symbol, f"{what} is missing required columns {missing}")


def _to_date(values: pd.Series) -> pd.Series:
    """Dates as python datetime.date objects (what the warehouse layer expects)."""
    if (
        len(values)
        and isinstance(values.iloc[0], dt.date)
        and not isinstance(values.iloc[0], dt.datetime)
    ):
        return values.astype(object)
    return pd.to_datetime(values, errors="coerce").dt.date.astype(object)


def _numeric(df: pd.DataFrame, cols: tuple[str, ...]) -> None:
    for col in cols:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")


def _check_negative(symbol: str, df: pd.DataFrame, cols: tuple[str, ...], what: str) -> None:
    for col in cols:
        bad = df[col] < 0
        if bad.any():
            raise ProviderError(
                symbol,
                f"{what}: {int(bad.sum())} negative value(s) in {col!r}, e.g. "
                f"{_sample(df, bad, [df.columns[0], col])}",
            )


def _check_duplicates(symbol: str, df: pd.DataFrame, key: str, what: str) -> None:
    dup = df[key].duplicated(keep=False)
    if dup.any():
        raise ProviderError(
            symbol,
            f"{what}: duplicate {key} values ({int(dup.sum())} rows), e.g. "
            f"{sorted(df.loc[dup, key].astype(str).unique())[:_SAMPLE_ROWS]}",
        )


def validate_history(symbol: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return candles with standard columns/dtypes, sorted by date; raise on bad rows."""
    _require(symbol, df, ("date", "open", "high", "low", "close"), "history")
    out = df.copy()
    for col in HISTORY_COLUMNS:
        if col not in out.columns:
            out[col] = float("nan")
    out = out.loc[:, list(HISTORY_COLUMNS)]
    out["date"] = _to_date(out["date"])
    if out["date"].isna().any():
        raise ProviderError(symbol, "history: unparseable dates in 'date'")
    _numeric(out, _NUMERIC_HISTORY)
    _check_negative(symbol, out, _NUMERIC_HISTORY[:-2] + ("trade_count",), "history")
    bad = out["high"] < out["low"]
    if bad.any():
        raise ProviderError(
            symbol,
            f"history: high < low on {int(bad.sum())} row(s), e.g. "
            f"{_sample(out, bad, ['date', 'high', 'low'])}",
        )
    _check_duplicates(symbol, out, "date", "history")
    return out.sort_values("date", kind="stable").reset_index(drop=True)


def _normalise_last_trade(out: pd.DataFrame) -> None:
    ts = pd.to_datetime(out["last_trade_at"], errors="coerce", utc=True)
    out["last_trade_at"] = ts.astype("datetime64[ns, UTC]")


# Implied vols at or below this are vendor placeholders (0, 0.01); above IV_MAX they are junk.
IV_PLACEHOLDER_MAX = 0.01
IV_MAX = 5.0
# A symbol-day where more than this share of rows is bad fails instead of storing the rest.
MAX_DROPPED_SHARE = 0.5
# Strikes further than this factor from spot cannot be real listings (1e300, 0.0001).
STRIKE_SPOT_FACTOR = 100.0


@dataclass(frozen=True)
class CleanChain:
    """A validated chain, the rows it started with and why the others were dropped."""

    chain: pd.DataFrame
    rows_received: int
    dropped: dict[str, int]

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


def validate_spot(symbol: str, spot: object) -> float:
    """A finite positive spot, or ProviderError (the whole symbol-day is unusable)."""
    try:
        value = float(spot)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ProviderError(symbol, f"chain: spot {spot!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ProviderError(symbol, f"chain: spot {value!r} is not a finite positive price")
    return value


def _row_problems(
    out: pd.DataFrame, raw_volume: pd.Series, snapshot_date: dt.date | None, spot: float | None
) -> dict[str, pd.Series]:
    """reason → mask of the rows that reason drops (first reason wins when counting)."""
    strike = out["strike"]
    problems = {
        "bad_option_type": out["option_type"].isna(),
        "bad_expiry": out["expiry"].isna(),
        "bad_strike": ~np.isfinite(strike) | (strike <= 0),
        "negative_price": (out[["bid", "ask", "last"]] < 0).any(axis=1),
        "crossed_quote": out["bid"] > out["ask"],
        "non_finite_price": np.isinf(out[["bid", "ask", "last"]]).any(axis=1),
        "bad_volume": (raw_volume.notna() & out["volume"].isna())
        | (out["volume"] < 0)
        | np.isinf(out["volume"]),
        "bad_open_interest": (out["open_interest"] < 0) | np.isinf(out["open_interest"]),
    }
    if spot is not None:
        problems["bad_strike"] |= (strike > spot * STRIKE_SPOT_FACTOR) | (
            strike < spot / STRIKE_SPOT_FACTOR
        )
    if snapshot_date is not None:
        expired = out["expiry"].map(lambda e: e is not None and not pd.isna(e) and e < snapshot_date)
        problems["expired"] = expired.astype(bool)
    return problems


def clean_chain(
    symbol: str,
    df: pd.DataFrame,
    *,
    snapshot_date: dt.date | None = None,
    spot: float | None = None,
) -> CleanChain:
    """Standard columns/dtypes; bad rows dropped and counted by reason; IV placeholders cleared.

    Raises ProviderError (the symbol-day fails, one line) on missing columns, duplicate contract
    symbols, or when more than ``MAX_DROPPED_SHARE`` of the rows are bad.
    """
    _require(symbol, df, ("contract_symbol", "option_type", "expiry", "strike"), "chain")
    out = df.copy()
    for col in CHAIN_COLUMNS:
        if col not in out.columns:
            out[col] = float("nan")
    out = out.loc[:, list(CHAIN_COLUMNS)].reset_index(drop=True)
    out["contract_symbol"] = out["contract_symbol"].astype(str).str.replace(" ", "", regex=False)
    out["option_type"] = (
        out["option_type"].astype(str).str.strip().str.lower().map(_TYPE_MAP).astype(object)
    )
    out["expiry"] = _to_date(out["expiry"])
    raw_volume = out["volume"].replace("", np.nan)
    _numeric(out, _NUMERIC_CHAIN)
    _normalise_last_trade(out)
    problems = _row_problems(out, raw_volume, snapshot_date, spot)
    dropped: dict[str, int] = {}
    bad = pd.Series(False, index=out.index)
    for reason, mask in problems.items():
        new = mask.fillna(False).astype(bool) & ~bad
        if new.any():
            dropped[reason] = int(new.sum())
            bad |= new
    total = len(out)
    if total and bad.sum() > total * MAX_DROPPED_SHARE:
        worst = max(dropped, key=lambda k: dropped[k])
        raise ProviderError(
            symbol,
            f"chain: {int(bad.sum())} of {total} rows are bad ({_reasons(dropped)}), e.g. "
            f"{_sample(out, problems[worst].fillna(False).astype(bool), _SAMPLE_COLS)}",
        )
    out = out.loc[~bad]
    iv = out["implied_vol"]
    out["implied_vol"] = iv.where(np.isfinite(iv) & (iv > IV_PLACEHOLDER_MAX) & (iv <= IV_MAX))
    _check_duplicates(symbol, out, "contract_symbol", "chain")
    out = out.sort_values(["expiry", "strike", "option_type"], kind="stable")
    return CleanChain(out.reset_index(drop=True), total, dropped)


_SAMPLE_COLS = ["contract_symbol", "expiry", "strike", "bid", "ask", "volume"]


def _reasons(dropped: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()))


def validate_chain(symbol: str, df: pd.DataFrame) -> pd.DataFrame:
    """The cleaned chain only (see :func:`clean_chain`)."""
    return clean_chain(symbol, df).chain
