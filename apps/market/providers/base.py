"""The one interface every market-data provider implements, and the one exception family.

Jobs only ever talk to :class:`MarketDataProvider` and catch :class:`ProviderError`, so a new
vendor is a new subclass and nothing else in the product changes. Column lists are fixed here so
that every provider returns frames of the same shape (validation.py normalises dtypes).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd

from apps.core import calendar
from apps.core.symbols import canonical_symbol

HISTORY_COLUMNS: tuple[str, ...] = (
    "date",
    "open",
    "high",
    "low",
    "close",
    "adj_close",
    "volume",
    "dividends",
    "splits",
    "vwap",
    "trade_count",
)
CHAIN_COLUMNS: tuple[str, ...] = (
    "contract_symbol",
    "option_type",
    "expiry",
    "strike",
    "bid",
    "ask",
    "last",
    "last_trade_at",
    "volume",
    "open_interest",
    "implied_vol",
)
CONTRACT_COLUMNS: tuple[str, ...] = (
    "contract_symbol",
    "underlying",
    "expiry",
    "option_type",
    "strike",
    "multiplier",
)
BAR_COLUMNS: tuple[str, ...] = (
    "contract_symbol",
    "date",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vwap",
    "trade_count",
)


class ProviderError(Exception):
    """Any provider failure: carries the symbol and a short cause so jobs can log one line."""

    def __init__(self, symbol: str, cause: str) -> None:
        self.symbol = symbol
        self.cause = cause
        super().__init__(f"{symbol}: {cause}")


class NoDataError(ProviderError):
    """The provider has nothing for this symbol/date; jobs record the partition as skipped."""


class UnsupportedByProvider(ProviderError):
    """The provider cannot serve this kind of data at all (e.g. Yahoo has no option bars)."""


class ProviderNotInstalled(ProviderError):
    """An optional extra (yfinance, alpaca-py) is missing; the message says what to install."""


class UnknownProviderError(ProviderError):
    """The provider name is not registered; the message lists the valid names."""


class ProviderConfigError(ProviderError):
    """Configuration is missing or invalid; messages name variables, never their values."""


@dataclass(frozen=True)
class ChainSnapshot:
    """A full chain (all expiries) for one symbol as of one market date."""

    symbol: str
    snapshot_date: dt.date
    spot: float
    chain: pd.DataFrame
    provider: str


def empty_frame(columns: tuple[str, ...]) -> pd.DataFrame:
    """An empty frame with the standard columns, so 'no rows' still has the right shape."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})



class MarketDataProvider(ABC):
    """Abstract market-data source. Subclasses fill in the vendor-specific calls."""

    name: str = "abstract"
    supports_option_bars: bool = False
    option_bars_batch: int = 500  # contracts per get_option_bars request (a vendor's limit)

    @abstractmethod
    def get_history(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Daily candles for sessions start..end inclusive (HISTORY_COLUMNS)."""

    @abstractmethod
    def list_option_expiries(self, symbol: str, *, as_of: dt.date | None = None) -> list[dt.date]:
        """Listed expiries as of a date, oldest first."""

    @abstractmethod
    def get_option_chain(
        self, symbol: str, expiry: dt.date, *, as_of: dt.date | None = None
    ) -> pd.DataFrame:
        """One row per contract of one expiry (CHAIN_COLUMNS)."""

    @abstractmethod
    def get_quote(self, symbol: str, *, as_of: dt.date | None = None) -> float:
        """The underlying's price (last close for historical as-of dates)."""

    def snapshot_date_for(self, as_of: dt.date | None) -> dt.date:
        """The market date a snapshot describes; vendors with stored dates override this."""
        return calendar.market_date_for(as_of)

    def require_current(self, symbol: str, as_of: dt.date | None) -> dt.date:
        """For live-only vendors: the latest market date, or NoDataError for a past as-of."""
        latest = calendar.market_date_for(None)
        if as_of is not None and calendar.market_date_for(as_of) < latest:
            raise NoDataError(symbol, f"{self.name} only serves the current chain, not {as_of}")
        return latest

    def get_chain_snapshot(self, symbol: str, *, as_of: dt.date | None = None) -> ChainSnapshot:
        """All expiries in one frame. Looping over expiries (not contracts) is acceptable."""
        symbol = canonical_symbol(symbol)
        snapshot_date = self.snapshot_date_for(as_of)
        expiries = self.list_option_expiries(symbol, as_of=snapshot_date)
        frames = [self.get_option_chain(symbol, e, as_of=snapshot_date) for e in expiries]
        frames = [f for f in frames if len(f)]
        if not frames:
            raise NoDataError(symbol, f"no option chain for {snapshot_date.isoformat()}")
        chain = pd.concat(frames, ignore_index=True)
        spot = float(self.get_quote(symbol, as_of=snapshot_date))
        return ChainSnapshot(symbol, snapshot_date, spot, chain, self.name)

    def get_chain_snapshots(
        self, symbols: list[str], *, as_of: dt.date | None = None
    ) -> dict[str, ChainSnapshot | Exception]:
        """Many symbols' snapshots: symbol → its ChainSnapshot, or the exception that failed it
        (one symbol's failure never stops the others). Vendors that can build many chains at
        once override this; the default asks for each symbol in turn."""
        out: dict[str, ChainSnapshot | Exception] = {}
        for symbol in symbols:
            try:
                out[symbol] = self.get_chain_snapshot(symbol, as_of=as_of)
            except Exception as exc:  # handed back to the job, which records it for the symbol
                out[symbol] = exc
        return out

    def list_option_contracts(self, symbol: str, *, as_of: dt.date | None = None) -> pd.DataFrame:
        """Contract reference data, derived from the snapshot unless a vendor has a listing."""
        snap = self.get_chain_snapshot(symbol, as_of=as_of)
        return contracts_from_chain(snap.symbol, snap.chain)

    def get_option_bars(
        self, contract_symbols: list[str], start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """Daily bars per contract; most providers cannot do this."""
        first = contract_symbols[0] if contract_symbols else "*"
        raise UnsupportedByProvider(first, f"provider {self.name!r} has no option bars")

    def next_earnings(self, symbol: str, *, as_of: dt.date | None = None) -> dt.date | None:
        """Next earnings date, or None when the provider does not know it."""
        return None


def contracts_from_chain(symbol: str, chain: pd.DataFrame) -> pd.DataFrame:
    """Contract reference rows from a chain frame (vectorised; multiplier 100)."""
    out = chain[["contract_symbol", "expiry", "option_type", "strike"]].copy()
    out.insert(1, "underlying", canonical_symbol(symbol))
    out["multiplier"] = np.int64(100)
    return out.loc[:, list(CONTRACT_COLUMNS)].reset_index(drop=True)
