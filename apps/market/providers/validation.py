"""Normalise and sanity-check provider frames before anything is written to the warehouse.

Vendors disagree on dtypes (strings for numbers, tz-naive stamps, 'C'/'P' for types), and a bad
row written once poisons every downstream metric. Jobs call these on every provider result; a
problem raises ProviderError naming the problem and showing a few offending rows.
"""

from __future__ import annotations

import datetime as dt

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


def _normalise_types(symbol: str, out: pd.DataFrame) -> None:
    mapped = out["option_type"].astype(str).str.strip().str.lower().map(_TYPE_MAP)
    bad = mapped.isna()
    if bad.any():
        raise ProviderError(
            symbol,
            f"chain: unknown option_type values "
            f"{sorted(out.loc[bad, 'option_type'].astype(str).unique())[:_SAMPLE_ROWS]} "
            "(expected 'call' or 'put')",
        )
    out["option_type"] = mapped.astype(object)


def _normalise_last_trade(out: pd.DataFrame) -> None:
    ts = pd.to_datetime(out["last_trade_at"], errors="coerce", utc=True)
    out["last_trade_at"] = ts.astype("datetime64[ns, UTC]")


def validate_chain(symbol: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return a chain with standard columns/dtypes; raise on bad rows (clear message + sample)."""
    _require(symbol, df, ("contract_symbol", "option_type", "expiry", "strike"), "chain")
    out = df.copy()
    for col in CHAIN_COLUMNS:
        if col not in out.columns:
            out[col] = float("nan")
    out = out.loc[:, list(CHAIN_COLUMNS)]
    out["contract_symbol"] = out["contract_symbol"].astype(str).str.replace(" ", "", regex=False)
    _normalise_types(symbol, out)
    out["expiry"] = _to_date(out["expiry"])
    if out["expiry"].isna().any():
        raise ProviderError(symbol, "chain: unparseable dates in 'expiry'")
    _numeric(out, _NUMERIC_CHAIN)
    _normalise_last_trade(out)
    _check_negative(symbol, out, _NUMERIC_CHAIN, "chain")
    crossed = out["bid"] > out["ask"]
    if crossed.any():
        raise ProviderError(
            symbol,
            f"chain: bid > ask on {int(crossed.sum())} row(s), e.g. "
            f"{_sample(out, crossed, ['contract_symbol', 'bid', 'ask'])}",
        )
    _check_duplicates(symbol, out, "contract_symbol", "chain")
    return out.sort_values(["expiry", "strike", "option_type"], kind="stable").reset_index(
        drop=True
    )
