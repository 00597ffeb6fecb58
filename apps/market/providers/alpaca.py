"""Alpaca provider over ``alpaca-py`` (optional extra: ``pip install 'options-helper[alpaca]'``).

Credentials come from ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY`` (``APCA_API_BASE_URL``
optional, e.g. the paper endpoint); a missing one raises ProviderConfigError naming the variable,
never a value. Shapes relied on (alpaca-py 0.30+):

* ``StockHistoricalDataClient.get_stock_bars(StockBarsRequest)`` → ``BarSet``; ``.df`` is indexed
  by (symbol, timestamp UTC) with ``open, high, low, close, volume, trade_count, vwap``.
* ``TradingClient.get_option_contracts(GetOptionContractsRequest)`` → ``OptionContractsResponse``
  (``option_contracts`` list, ``next_page_token``; one page per call, so we paginate). Each
  contract has ``symbol, expiration_date, type ('call'|'put'), strike_price, size,
  open_interest (str), open_interest_date, close_price (str), close_price_date``.
* ``OptionHistoricalDataClient.get_option_chain(OptionChainRequest)`` → ``dict[symbol,
  OptionsSnapshot]`` with ``latest_quote.bid_price/ask_price``, ``latest_trade.price/timestamp``,
  ``implied_volatility``, ``greeks``.
* ``OptionHistoricalDataClient.get_option_bars(OptionBarsRequest)`` → ``BarSet`` as above.

Chains join the snapshot (quotes, last trade, IV) to the contract listing (open interest).
Alpaca snapshots carry no daily volume, so volume is NaN. Only the current chain exists; a past
as-of raises NoDataError. HTTP 429 and 5xx are retried with exponential back-off honouring
``Retry-After`` (:func:`with_backoff`).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from apps.core import calendar
from apps.core.osi import parse_osi_series
from apps.core.symbols import canonical_symbol

from .base import (
    BAR_COLUMNS,
    CHAIN_COLUMNS,
    CONTRACT_COLUMNS,
    HISTORY_COLUMNS,
    ChainSnapshot,
    MarketDataProvider,
    NoDataError,
    ProviderConfigError,
    ProviderError,
    ProviderNotInstalled,
    empty_frame,
)

T = TypeVar("T")
_INSTALL = "alpaca-py is not installed: pip install 'options-helper[alpaca]'"
_KEY_VARS = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")
_MAX_PAGES = 200


# -- retries ------------------------------------------------------------------------------------
def _status_code(exc: BaseException) -> int | None:
    try:
        code = getattr(exc, "status_code", None)
    except Exception:  # APIError.status_code can itself fail on odd payloads
        code = None
    return int(code) if code is not None else None


def _retry_after(exc: BaseException) -> float | None:
    """Seconds from a Retry-After header on the exception's HTTP response, if any."""
    try:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        value = headers.get("Retry-After") or headers.get("retry-after")
        return max(float(value), 0.0) if value is not None else None
    except Exception:
        return None


def is_retryable(exc: BaseException) -> bool:
    """Rate limits (429) and server errors (5xx) are transient; everything else is not."""
    code = _status_code(exc)
    return code is not None and (code == 429 or 500 <= code < 600)


def with_backoff(
    fn: Callable[[], T],
    *,
    attempts: int = 5,
    sleep: Callable[[float], Any] = time.sleep,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
) -> T:
    """Call ``fn``; on 429/5xx wait (Retry-After, else 1, 2, 4, … s) and try again.

    Non-retryable errors and the last failure are re-raised unchanged so the caller can wrap
    them with the symbol.
    """
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt >= attempts or not is_retryable(exc):
                raise
            delay = _retry_after(exc)
            sleep(min(delay if delay is not None else base_delay * 2 ** (attempt - 1), max_delay))
    raise AssertionError("unreachable")  # pragma: no cover


# -- lazy alpaca-py construction -------------------------------------------------------------
def _credentials() -> tuple[str, str, str | None]:
    """Read credentials from the environment; name (never print) whatever is missing."""
    missing = [name for name in _KEY_VARS if not os.environ.get(name)]
    if missing:
        raise ProviderConfigError(
            "*", f"alpaca credentials missing: set {' and '.join(missing)} in the environment"
        )
    return (
        os.environ["APCA_API_KEY_ID"],
        os.environ["APCA_API_SECRET_KEY"],
        os.environ.get("APCA_API_BASE_URL") or None,
    )


def _default_clients() -> dict[str, Any]:
    key, secret, base_url = _credentials()
    try:
        from alpaca.data.historical import OptionHistoricalDataClient, StockHistoricalDataClient
        from alpaca.trading.client import TradingClient
    except ImportError as exc:
        raise ProviderNotInstalled("*", _INSTALL) from exc
    paper = base_url is None or "paper" in base_url
    trading_kwargs: dict[str, Any] = {"paper": paper}
    if base_url:
        trading_kwargs["url_override"] = base_url
    return {
        "stock": StockHistoricalDataClient(key, secret),
        "option": OptionHistoricalDataClient(key, secret),
        "trading": TradingClient(key, secret, **trading_kwargs),
    }


def _alpaca_request(kind: str, **fields: Any) -> Any:
    """Build an alpaca-py request object by class name (imported lazily)."""
    try:
        from alpaca.data import requests as data_requests
        from alpaca.data.timeframe import TimeFrame
        from alpaca.trading import requests as trading_requests
    except ImportError as exc:
        raise ProviderNotInstalled("*", _INSTALL) from exc
    if kind in ("StockBarsRequest", "OptionBarsRequest"):
        fields.setdefault("timeframe", TimeFrame.Day)
    module = trading_requests if kind == "GetOptionContractsRequest" else data_requests
    return getattr(module, kind)(**fields)


# -- the provider ------------------------------------------------------------------------------
class AlpacaProvider(MarketDataProvider):
    """Candles, contracts, current chain snapshots and option bars from Alpaca."""

    name = "alpaca"
    supports_option_bars = True

    def __init__(
        self,
        *,
        clients: dict[str, Any] | None = None,
        request_factory: Callable[..., Any] | None = None,
        attempts: int = 5,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self._clients = clients if clients is not None else _default_clients()
        self._request = request_factory or _alpaca_request
        self._attempts = attempts
        self._sleep = sleep

    def _call(self, symbol: str, what: str, fn: Callable[[], T]) -> T:
        """Back-off on 429/5xx, then wrap any failure as ProviderError (status, short text)."""
        try:
            return with_backoff(fn, attempts=self._attempts, sleep=self._sleep)
        except ProviderError:
            raise
        except Exception as exc:
            code = _status_code(exc)
            status = f"HTTP {code} " if code else ""
            raise ProviderError(
                symbol, f"alpaca {what} failed: {status}{type(exc).__name__}: {str(exc)[:200]}"
            ) from exc

    # -- candles / quote ----------------------------------------------------------------------
    def get_history(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        symbol = canonical_symbol(symbol)
        request = self._request(
            "StockBarsRequest",
            symbol_or_symbols=[symbol],
            start=_utc(start),
            end=_utc(end + dt.timedelta(days=1)),
        )
        barset = self._call(
            symbol, "stock bars", lambda: self._clients["stock"].get_stock_bars(request)
        )
        bars = _barset_frame(barset)
        if bars.empty:
            return empty_frame(HISTORY_COLUMNS)
        bars = bars[bars["symbol"] == symbol]
        out = bars.assign(adj_close=np.nan, dividends=np.nan, splits=np.nan)
        out = out.loc[(out["date"] >= start) & (out["date"] <= end), list(HISTORY_COLUMNS)]
        return out.sort_values("date").reset_index(drop=True)

    def get_quote(self, symbol: str, *, as_of: dt.date | None = None) -> float:
        """The close of the market date's daily bar."""
        symbol = canonical_symbol(symbol)
        day = calendar.market_date_for(as_of)
        hist = self.get_history(symbol, calendar.previous_session(day), day)
        if hist.empty:
            raise NoDataError(symbol, f"no alpaca bar for {day}")
        return float(hist["close"].iloc[-1])

    # -- contracts / chains -------------------------------------------------------------------
    def list_option_contracts(self, symbol: str, *, as_of: dt.date | None = None) -> pd.DataFrame:
        frame = self._contracts(canonical_symbol(symbol), as_of)
        return frame.loc[:, list(CONTRACT_COLUMNS)]

    def _contracts(self, symbol: str, as_of: dt.date | None) -> pd.DataFrame:
        """All pages of the contract listing as one frame (with OI and close price)."""
        day = calendar.market_date_for(as_of)
        rows: list[Any] = []
        token: str | None = None
        for _ in range(_MAX_PAGES):
            request = self._request(
                "GetOptionContractsRequest",
                underlying_symbols=[symbol],
                expiration_date_gte=day,
                limit=10000,
                page_token=token,
            )
            page = self._call(
                symbol,
                "option contracts",
                lambda r=request: self._clients["trading"].get_option_contracts(r),
            )
            rows.extend(page.option_contracts or [])
            token = page.next_page_token
            if not token:
                break
        return contracts_frame(symbol, rows)

    def list_option_expiries(self, symbol: str, *, as_of: dt.date | None = None) -> list[dt.date]:
        contracts = self._contracts(canonical_symbol(symbol), as_of)
        return sorted(set(contracts["expiry"]))

    def get_option_chain(
        self, symbol: str, expiry: dt.date, *, as_of: dt.date | None = None
    ) -> pd.DataFrame:
        symbol = canonical_symbol(symbol)
        self.require_current(symbol, as_of)
        chain = self._snapshot_chain(symbol, as_of, expiry)
        return chain[chain["expiry"] == expiry].reset_index(drop=True)

    def get_chain_snapshot(self, symbol: str, *, as_of: dt.date | None = None) -> ChainSnapshot:
        """One paginated chain call plus one contracts listing (not one call per expiry)."""
        symbol = canonical_symbol(symbol)
        day = self.require_current(symbol, as_of)
        chain = self._snapshot_chain(symbol, as_of, None)
        if chain.empty:
            raise NoDataError(symbol, "alpaca returned an empty option chain")
        return ChainSnapshot(symbol, day, self.get_quote(symbol, as_of=day), chain, self.name)

    def _snapshot_chain(
        self, symbol: str, as_of: dt.date | None, expiry: dt.date | None
    ) -> pd.DataFrame:
        fields: dict[str, Any] = {"underlying_symbol": symbol}
        if expiry is not None:
            fields["expiration_date"] = expiry
        request = self._request("OptionChainRequest", **fields)
        snaps = self._call(
            symbol, "option chain", lambda: self._clients["option"].get_option_chain(request)
        )
        return chain_frame(snapshots_frame(snaps or {}), self._contracts(symbol, as_of))

    # -- bars ---------------------------------------------------------------------------------
    def get_option_bars(
        self, contract_symbols: list[str], start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        if not contract_symbols:
            return empty_frame(BAR_COLUMNS)
        request = self._request(
            "OptionBarsRequest",
            symbol_or_symbols=list(contract_symbols),
            start=_utc(start),
            end=_utc(end + dt.timedelta(days=1)),
        )
        barset = self._call(
            contract_symbols[0],
            "option bars",
            lambda: self._clients["option"].get_option_bars(request),
        )
        bars = _barset_frame(barset).rename(columns={"symbol": "contract_symbol"})
        if bars.empty:
            return empty_frame(BAR_COLUMNS)
        bars = bars[(bars["date"] >= start) & (bars["date"] <= end)]
        return (
            bars.loc[:, list(BAR_COLUMNS)]
            .sort_values(["contract_symbol", "date"])
            .reset_index(drop=True)
        )


# -- payload → frame mappers (pure, vectorised after one attribute pass) --------------------
def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _barset_frame(barset: Any) -> pd.DataFrame:
    """BarSet.df (MultiIndex symbol, timestamp) → flat frame with a market 'date' column."""
    raw = getattr(barset, "df", barset)
    if raw is None or len(raw) == 0:
        return pd.DataFrame(columns=["symbol", "date"])
    flat = raw.reset_index()
    stamps = pd.to_datetime(flat["timestamp"], utc=True)
    flat["date"] = stamps.dt.tz_convert(calendar.MARKET_TZ).dt.date
    return flat


def _attr(obj: Any, name: str) -> Any:
    """Attribute or mapping access (raw-data mode returns dicts)."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _enum_text(value: Any) -> str:
    return str(getattr(value, "value", value) or "").lower()


def contracts_frame(symbol: str, rows: list[Any]) -> pd.DataFrame:
    """OptionContract models → contract rows plus open_interest / close_price."""
    if not rows:
        return pd.DataFrame(columns=[*CONTRACT_COLUMNS, "open_interest", "close_price"])
    frame = pd.DataFrame(
        {
            "contract_symbol": [_attr(r, "symbol") for r in rows],
            "underlying": symbol,
            "expiry": [pd.Timestamp(_attr(r, "expiration_date")).date() for r in rows],
            "option_type": [_enum_text(_attr(r, "type")) for r in rows],
            "strike": [_attr(r, "strike_price") for r in rows],
            "multiplier": [_attr(r, "size") for r in rows],
            "open_interest": [_attr(r, "open_interest") for r in rows],
            "close_price": [_attr(r, "close_price") for r in rows],
        }
    )
    for col in ("strike", "multiplier", "open_interest", "close_price"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    frame["multiplier"] = frame["multiplier"].fillna(100).astype("int64")
    return frame


def snapshots_frame(snaps: dict[str, Any]) -> pd.DataFrame:
    """dict[symbol, OptionsSnapshot] → one row per contract with quote/trade/IV."""
    items = list(snaps.items())
    quotes = [_attr(s, "latest_quote") for _, s in items]
    trades = [_attr(s, "latest_trade") for _, s in items]
    return pd.DataFrame(
        {
            "contract_symbol": [k for k, _ in items],
            "bid": pd.to_numeric(pd.Series([_attr(q, "bid_price") for q in quotes], dtype=object)),
            "ask": pd.to_numeric(pd.Series([_attr(q, "ask_price") for q in quotes], dtype=object)),
            "last": pd.to_numeric(pd.Series([_attr(t, "price") for t in trades], dtype=object)),
            "last_trade_at": pd.to_datetime(
                pd.Series([_attr(t, "timestamp") for t in trades], dtype=object),
                utc=True,
                errors="coerce",
            ),
            "implied_vol": pd.to_numeric(
                pd.Series([_attr(s, "implied_volatility") for _, s in items], dtype=object)
            ),
        }
    )


def chain_frame(snapshots: pd.DataFrame, contracts: pd.DataFrame) -> pd.DataFrame:
    """Join snapshot quotes to the contract listing; snapshot-only rows are parsed from OSI."""
    merged = snapshots.merge(
        contracts[["contract_symbol", "expiry", "option_type", "strike", "open_interest"]],
        on="contract_symbol",
        how="left",
    )
    parsed = parse_osi_series(merged["contract_symbol"])
    for col in ("expiry", "option_type", "strike"):
        merged[col] = merged[col].where(merged[col].notna(), parsed[col])
    merged["volume"] = np.nan
    merged = merged.dropna(subset=["expiry", "option_type"])
    return (
        merged.loc[:, list(CHAIN_COLUMNS)]
        .sort_values(["expiry", "strike", "option_type"])
        .reset_index(drop=True)
    )
