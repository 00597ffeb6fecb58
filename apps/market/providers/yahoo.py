"""Yahoo Finance provider over ``yfinance`` (optional extra: ``pip install 'options-helper[yahoo]'``).

yfinance is imported lazily so the product runs without it. Shapes relied on (yfinance 0.2.x/1.x):

* ``Ticker.history(start, end, auto_adjust=False, actions=True)``: DataFrame indexed by a
  tz-aware ``DatetimeIndex`` (America/New_York), columns ``Open, High, Low, Close, Adj Close,
  Volume, Dividends, Stock Splits`` (``Adj Close`` is absent with ``auto_adjust=True``; then
  adj_close = close). ``end`` is exclusive, so one day is added. We ask for unadjusted prices
  because option strikes live in unadjusted space; ``adj_close`` keeps the total-return series.
* ``Ticker.options``: tuple of ``'YYYY-MM-DD'`` strings.
* ``Ticker.option_chain(date)``: namedtuple ``(calls, puts, underlying)``; calls/puts have
  ``contractSymbol, lastTradeDate (UTC), strike, lastPrice, bid, ask, change, percentChange,
  volume, openInterest, impliedVolatility, inTheMoney, contractSize, currency``.
* ``Ticker.fast_info['lastPrice']`` for the quote; ``Ticker.calendar['Earnings Date']`` (list of
  dates) or ``get_earnings_dates()`` for earnings; both may be missing and are tolerated.

Yahoo serves only the *current* chain: asking for a past as-of raises NoDataError. Yahoo has no
option bars (UnsupportedByProvider). Any library/network failure becomes ProviderError.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from apps.core import calendar
from apps.core.symbols import canonical_symbol
from apps.core.values import to_date

from .base import (
    CHAIN_COLUMNS,
    HISTORY_COLUMNS,
    MarketDataProvider,
    NoDataError,
    ProviderError,
    ProviderNotInstalled,
    empty_frame,
)

_HISTORY_RENAME = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
    "Dividends": "dividends",
    "Stock Splits": "splits",
}
_CHAIN_RENAME = {
    "contractSymbol": "contract_symbol",
    "lastTradeDate": "last_trade_at",
    "lastPrice": "last",
    "openInterest": "open_interest",
    "impliedVolatility": "implied_vol",
}


def _default_factory() -> Callable[[str], Any]:
    """yfinance.Ticker, imported only when the yahoo provider is actually used."""
    try:
        import yfinance
    except ImportError as exc:
        raise ProviderNotInstalled(
            "*", "yfinance is not installed: pip install 'options-helper[yahoo]'"
        ) from exc
    return yfinance.Ticker


class YahooProvider(MarketDataProvider):
    """Candles, expiries, current chains, quote and earnings from Yahoo via yfinance."""

    name = "yahoo"
    supports_option_bars = False

    def __init__(self, *, client_factory: Callable[[str], Any] | None = None) -> None:
        self._factory = client_factory or _default_factory()
        self._tickers: dict[str, Any] = {}

    def _ticker(self, symbol: str) -> Any:
        if symbol not in self._tickers:
            self._tickers[symbol] = self._factory(symbol)
        return self._tickers[symbol]

    def _call(self, symbol: str, what: str, fn: Callable[[], Any]) -> Any:
        """Run a yfinance call, turning any library/network error into ProviderError."""
        try:
            return fn()
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(
                symbol, f"yahoo {what} failed: {type(exc).__name__}: {str(exc)[:200]}"
            ) from exc

    # -- candles / quote ----------------------------------------------------------------------
    def get_history(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        symbol = canonical_symbol(symbol)
        raw = self._call(
            symbol,
            "history",
            lambda: self._ticker(symbol).history(
                start=start.isoformat(),
                end=(end + dt.timedelta(days=1)).isoformat(),
                auto_adjust=False,
                actions=True,
            ),
        )
        if raw is None or len(raw) == 0:
            return empty_frame(HISTORY_COLUMNS)
        return history_from_yahoo(raw, start, end)

    def get_quote(self, symbol: str, *, as_of: dt.date | None = None) -> float:
        """fast_info last price for 'latest'; the day's close for a past as-of."""
        symbol = canonical_symbol(symbol)
        if as_of is not None and calendar.market_date_for(as_of) < calendar.market_date_for(None):
            day = calendar.market_date_for(as_of)
            hist = self.get_history(symbol, day, day)
            if hist.empty:
                raise NoDataError(symbol, f"no yahoo close for {day}")
            return float(hist["close"].iloc[-1])
        info = self._call(symbol, "fast_info", lambda: self._ticker(symbol).fast_info)
        price = _fast_info_price(info)
        if price is None:
            raise NoDataError(symbol, "yahoo returned no last price")
        return price

    # -- options ------------------------------------------------------------------------------
    def list_option_expiries(self, symbol: str, *, as_of: dt.date | None = None) -> list[dt.date]:
        symbol = canonical_symbol(symbol)
        self.require_current(symbol, as_of)
        raw = self._call(symbol, "options", lambda: self._ticker(symbol).options)
        return sorted(dt.date.fromisoformat(str(s)[:10]) for s in (raw or ()))

    def get_option_chain(
        self, symbol: str, expiry: dt.date, *, as_of: dt.date | None = None
    ) -> pd.DataFrame:
        symbol = canonical_symbol(symbol)
        self.require_current(symbol, as_of)
        raw = self._call(
            symbol,
            f"option_chain({expiry})",
            lambda: self._ticker(symbol).option_chain(expiry.isoformat()),
        )
        return chain_from_yahoo(raw.calls, raw.puts, expiry)

    def snapshot_date_for(self, as_of: dt.date | None) -> dt.date:
        return calendar.market_date_for(as_of)

    def next_earnings(self, symbol: str, *, as_of: dt.date | None = None) -> dt.date | None:
        """First known earnings date after the market date; None when Yahoo has none."""
        symbol = canonical_symbol(symbol)
        after = calendar.market_date_for(as_of)
        ticker = self._ticker(symbol)
        dates = _calendar_dates(ticker) or _earnings_frame_dates(ticker)
        future = sorted(d for d in dates if d > after)
        return future[0] if future else None


def history_from_yahoo(raw: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Map Ticker.history output to HISTORY_COLUMNS (vectorised)."""
    frame = raw.rename(columns=_HISTORY_RENAME)
    index = pd.DatetimeIndex(raw.index)
    frame["date"] = (
        index.tz_localize(None)
        if index.tz is None
        else index.tz_convert(calendar.MARKET_TZ).tz_localize(None)
    ).date
    if "adj_close" not in frame.columns:
        frame["adj_close"] = frame["close"]
    for col in HISTORY_COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan
    frame = frame.loc[:, list(HISTORY_COLUMNS)].reset_index(drop=True)
    keep = (frame["date"] >= start) & (frame["date"] <= end)
    return frame.loc[keep].sort_values("date").reset_index(drop=True)


def chain_from_yahoo(
    calls: pd.DataFrame | None, puts: pd.DataFrame | None, expiry: dt.date
) -> pd.DataFrame:
    """Stack yfinance calls/puts into CHAIN_COLUMNS (vectorised)."""
    parts = []
    for frame, kind in ((calls, "call"), (puts, "put")):
        if frame is not None and len(frame):
            part = frame.rename(columns=_CHAIN_RENAME)
            part["option_type"] = kind
            parts.append(part)
    if not parts:
        return empty_frame(CHAIN_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out["expiry"] = expiry
    out["last_trade_at"] = pd.to_datetime(out["last_trade_at"], utc=True, errors="coerce")
    return out.loc[:, list(CHAIN_COLUMNS)]


def _fast_info_price(info: Any) -> float | None:
    for key in ("lastPrice", "last_price", "regularMarketPrice"):
        try:
            value = info[key]
        except Exception:
            value = getattr(info, key, None)
        if value is not None and np.isfinite(float(value)) and float(value) > 0:
            return float(value)
    return None


def _calendar_dates(ticker: Any) -> list[dt.date]:
    """Ticker.calendar['Earnings Date'] (a list of dates); empty when absent or failing."""
    try:
        cal = ticker.calendar or {}
        values = cal.get("Earnings Date", []) if isinstance(cal, dict) else []
        return [to_date(v) for v in values if v is not None]
    except Exception:
        return []


def _earnings_frame_dates(ticker: Any) -> list[dt.date]:
    """get_earnings_dates(): DataFrame indexed by tz-aware 'Earnings Date'; may be None."""
    try:
        frame = ticker.get_earnings_dates()
        if frame is None or len(frame) == 0:
            return []
        return [ts.date() for ts in pd.DatetimeIndex(frame.index)]
    except Exception:
        return []

