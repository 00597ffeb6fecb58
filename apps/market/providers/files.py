"""Offline provider over user-supplied CSV/Parquet files in one directory.

For people with their own data vendor: drop files in a directory (``OPTIONS_HELPER_FILES_DIR``,
default ``$OPTIONS_HELPER_DATA_DIR/vendor``) and point ``--provider files`` at it. The directory is
scanned recursively, once per provider instance; only the first line(s) of each file are read to
build the symbol → files index, and each symbol's files are parsed (vectorised) on first use and
cached.

Accepted layouts
----------------
1. The product's own normalised layout (the tests write it with ``tests/market/providers/files_layout.py``):

   * ``chains/SYMBOL/YYYY-MM-DD.csv`` or ``.parquet``: one snapshot per file, the date in the
     file name. Columns: ``contract_symbol, option_type (call|put), expiry (YYYY-MM-DD), strike,
     bid, ask, last, last_trade_at (ISO 8601, UTC), volume, open_interest, implied_vol, spot``.
     Only ``contract_symbol, option_type, expiry, strike`` and ``spot`` are required; missing
     optional columns are NaN.
   * ``candles/SYMBOL.csv`` or ``.parquet``: ``date, open, high, low, close`` required;
     ``adj_close, volume, dividends, splits, vwap, trade_count`` optional.

2. Vendor files anywhere in the directory, recognised by their header:

   * **DeltaNeutral / historicaloptiondata.com** (``underlying,underlying_last, exchange,
     optionroot,...,quotedate,...,impliedvol,...``): many dates per file; leading spaces in the
     header and a UTF-8 BOM are tolerated; dates are MM/DD/YYYY. Monthly expiries the vendor
     stores as the Saturday are normalised to the Friday the OSI root carries (the expiry is
     taken from ``optionroot``). Spot = ``underlying_last``.
   * **DeltaNeutral "A" layout** (``UnderlyingSymbol,UnderlyingPrice,...,OptionSymbol,Type,
     Expiration, DataDate,...``): ``OpenInterest`` is used (``T1OpenInterest``, the next
     session's OI, is ignored); ``IVMean`` becomes implied_vol.
   * **Yahoo/yfinance CSV export** (``contract_symbol,last_trade_date,strike,last_price,...,
     expiration,type,date_pulled``): snapshot date = ``date_pulled``. There is no underlying
     price, so spot is inferred from put–call parity (C − P + K on the strikes where |C − P| is
     smallest, in the most liquid expiry within ~2 months, from bid/ask mids), unless
     ``spot_overrides={"AAPL": 256.7}`` is given.
   * **Cboe DataShop EOD quotes** (``underlying_symbol,quote_date,root,expiration,...,bid_eod,
     ask_eod,...,open_interest``): EOD bid/ask, ``close`` as last, no IV; spot = mid of the
     EOD underlying bid/ask. A leading ``^`` is dropped from the symbol (``^VIX`` → ``VIX``).
   * **QuantConnect Lean option universes** (``#expiry,strike,right,open,...``): one file per
     date named ``YYYYMMDD.csv``; the directory names the symbol (``goog/`` or
     ``lean_goog_universes/`` → ``GOOG``). The first data row is the underlying and gives the
     spot and a real daily candle; ``close`` becomes last, there is no bid/ask.

Vendor IVs are passed through as ``implied_vol``; validation (``validation.clean_chain``) clears
placeholders (IV <= 0.01, e.g. 0 and 0.01), values above 5.0 and non-finite ones, so the snapshot
job re-solves them from the mark. Rows with impossible values (spot/strike not finite positive,
bid > ask, negative prices, non-numeric volume, expiry before the snapshot date) are dropped and
counted in the snapshot header (``meta.dropped_rows``). Vendor greeks are ignored.

Candles come from ``candles/`` files when present, else from the Lean underlying rows, else they
are derived from each stored snapshot's spot (open = high = low = close = spot, volume NaN), so
realised-volatility metrics still work.

A date with no data for a symbol raises :class:`NoDataError` (jobs record it as skipped).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from apps.core import calendar
from apps.core.osi import format_osi_series, parse_osi_series
from apps.core.symbols import canonical_symbol

from .base import (
    CHAIN_COLUMNS,
    HISTORY_COLUMNS,
    ChainSnapshot,
    MarketDataProvider,
    NoDataError,
    ProviderConfigError,
    ProviderError,
    empty_frame,
)

_DATE_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})$")
_LEAN_FILE = re.compile(r"^(\d{8})$")
_LEAN_DIR = re.compile(r"^(?:lean_)?([A-Za-z0-9.]+?)(?:_universes?)?$")
_SUFFIXES = (".csv", ".parquet")


@dataclass
class _Source:
    """One file and how to parse it."""

    path: Path
    kind: str
    symbol: str


@dataclass
class _SymbolData:
    """Everything parsed for one symbol: a long chain frame (with quote_date, spot) + candles."""

    chains: pd.DataFrame
    candles: pd.DataFrame | None
    by_date: dict[dt.date, pd.DataFrame] = field(default_factory=dict)


# -- header sniffing ------------------------------------------------------------------------------
def _header(path: Path) -> list[str]:
    """The first line's column names, stripped of BOM, spaces and quotes."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        line = fh.readline()
    return [c.strip().strip('"').strip() for c in line.rstrip("\r\n").split(",")]


def _first_row(path: Path) -> dict[str, str]:
    """The first data row as a dict (to learn a vendor file's underlying)."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        head = [c.strip() for c in fh.readline().rstrip("\r\n").split(",")]
        row = [c.strip() for c in fh.readline().rstrip("\r\n").split(",")]
    return dict(zip(head, row, strict=False))


def _vendor_kind(cols: list[str]) -> str | None:
    names = set(cols)
    if {"underlying", "underlying_last", "optionroot", "quotedate"} <= names:
        return "deltaneutral"
    if {"UnderlyingSymbol", "UnderlyingPrice", "OptionSymbol", "DataDate"} <= names:
        return "deltaneutral_a"
    if {"contract_symbol", "last_trade_date", "last_price", "date_pulled"} <= names:
        return "yahoo"
    if {"underlying_symbol", "quote_date", "root", "bid_eod", "ask_eod"} <= names:
        return "cboe"
    if cols and cols[0] == "#expiry":
        return "lean"
    return None


def _vendor_symbol(path: Path, kind: str) -> str | None:
    row = _first_row(path)
    if kind == "deltaneutral":
        return row.get("underlying")
    if kind == "deltaneutral_a":
        return row.get("UnderlyingSymbol")
    if kind == "cboe":
        return row.get("underlying_symbol", "").lstrip("^")
    if kind == "yahoo":
        root = parse_osi_series(pd.Series([row.get("contract_symbol", "")]))["root"].iloc[0]
        return None if pd.isna(root) else str(root)
    match = _LEAN_DIR.match(path.parent.name)
    return match.group(1) if match else None


# -- vendor parsers (each returns a long chain frame with quote_date and spot) -------------------
def _mdy(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format="%m/%d/%Y", errors="coerce")


def _friday_if_saturday(expiry: pd.Series) -> pd.Series:
    """Vendors store monthly expiries as the Saturday after; OCC's date is the Friday."""
    return expiry - pd.to_timedelta((expiry.dt.day_of_week == 5).astype(int), unit="D")


def _expiry_from_osi(symbols: pd.Series, fallback: pd.Series) -> pd.Series:
    """The expiry the OSI symbol carries; the (Saturday-fixed) vendor column where unparseable."""
    parsed = pd.to_datetime(parse_osi_series(symbols)["expiry"], errors="coerce")
    return parsed.fillna(_friday_if_saturday(fallback)).dt.date


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, skipinitialspace=True, encoding="utf-8-sig")


def _parse_deltaneutral(path: Path, symbol: str) -> tuple[pd.DataFrame, None]:
    raw = _read_csv(path)
    raw.columns = [c.strip() for c in raw.columns]
    out = pd.DataFrame(
        {
            "quote_date": _mdy(raw["quotedate"]).dt.date,
            "contract_symbol": raw["optionroot"].astype(str).str.strip(),
            "option_type": raw["type"],
            "expiry": _expiry_from_osi(raw["optionroot"], _mdy(raw["expiration"])),
            "strike": raw["strike"],
            "bid": raw["bid"],
            "ask": raw["ask"],
            "last": raw["last"],
            "last_trade_at": pd.NaT,
            "volume": raw["volume"],
            "open_interest": raw["openinterest"],
            "implied_vol": raw["impliedvol"],
            "spot": raw["underlying_last"],
        }
    )
    return out, None


def _parse_deltaneutral_a(path: Path, symbol: str) -> tuple[pd.DataFrame, None]:
    raw = _read_csv(path)
    raw.columns = [c.strip() for c in raw.columns]
    out = pd.DataFrame(
        {
            "quote_date": _mdy(raw["DataDate"]).dt.date,
            "contract_symbol": raw["OptionSymbol"].astype(str).str.strip(),
            "option_type": raw["Type"],
            "expiry": _expiry_from_osi(raw["OptionSymbol"], _mdy(raw["Expiration"])),
            "strike": raw["Strike"],
            "bid": raw["Bid"],
            "ask": raw["Ask"],
            "last": raw["Last"],
            "last_trade_at": pd.NaT,
            "volume": raw["Volume"],
            "open_interest": raw["OpenInterest"],
            "implied_vol": raw["IVMean"],
            "spot": raw["UnderlyingPrice"],
        }
    )
    return out, None


def _parse_yahoo(path: Path, symbol: str, spot: float | None = None) -> tuple[pd.DataFrame, None]:
    raw = _read_csv(path)
    out = pd.DataFrame(
        {
            "quote_date": pd.to_datetime(raw["date_pulled"]).dt.date,
            "contract_symbol": raw["contract_symbol"].astype(str).str.strip(),
            "option_type": raw["type"].astype(str).str.upper().map({"C": "call", "P": "put"}),
            "expiry": pd.to_datetime(raw["expiration"]).dt.date,
            "strike": raw["strike"],
            "bid": raw["bid"],
            "ask": raw["ask"],
            "last": raw["last_price"],
            "last_trade_at": pd.to_datetime(raw["last_trade_date"], utc=True, errors="coerce"),
            "volume": raw["volume"],
            "open_interest": raw["open_interest"],
            "implied_vol": raw["implied_volatility"],
        }
    )
    out["spot"] = np.nan
    for day, idx in out.groupby("quote_date").groups.items():
        out.loc[idx, "spot"] = spot if spot else infer_spot_from_parity(out.loc[idx], day)
    return out, None


def _parse_cboe(path: Path, symbol: str) -> tuple[pd.DataFrame, None]:
    raw = _read_csv(path)
    otype = raw["option_type"].astype(str).str.upper().map({"C": "call", "P": "put"})
    expiry = pd.to_datetime(raw["expiration"])
    out = pd.DataFrame(
        {
            "quote_date": pd.to_datetime(raw["quote_date"]).dt.date,
            "contract_symbol": format_osi_series(raw["root"], expiry, otype, raw["strike"]),
            "option_type": otype,
            "expiry": expiry.dt.date,
            "strike": raw["strike"],
            "bid": raw["bid_eod"],
            "ask": raw["ask_eod"],
            "last": raw["close"],
            "last_trade_at": pd.NaT,
            "volume": raw["trade_volume"],
            "open_interest": raw["open_interest"],
            "implied_vol": np.nan,
            "spot": (raw["underlying_bid_eod"] + raw["underlying_ask_eod"]) / 2,
        }
    )
    return out, None


def _parse_lean(path: Path, symbol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = _read_csv(path)
    day = dt.datetime.strptime(path.stem, "%Y%m%d").date()
    is_under = raw["#expiry"].isna()
    under, rows = raw[is_under].head(1), raw[~is_under]
    spot = float(under["close"].iloc[0]) if len(under) else np.nan
    expiry = pd.to_datetime(rows["#expiry"].astype("int64").astype(str), format="%Y%m%d")
    otype = rows["right"].astype(str).str.upper().map({"C": "call", "P": "put"})
    out = pd.DataFrame(
        {
            "quote_date": day,
            "contract_symbol": format_osi_series(symbol, expiry, otype, rows["strike"]).to_numpy(),
            "option_type": otype.to_numpy(),
            "expiry": expiry.dt.date.to_numpy(),
            "strike": rows["strike"].to_numpy(),
            "bid": np.nan,
            "ask": np.nan,
            "last": rows["close"].to_numpy(),
            "last_trade_at": pd.NaT,
            "volume": rows["volume"].to_numpy(),
            "open_interest": rows["open_interest"].to_numpy(),
            "implied_vol": rows["implied_volatility"].to_numpy(),
            "spot": spot,
        }
    )
    candle = (
        pd.DataFrame(
            {
                "date": [day],
                "open": under["open"].to_numpy(),
                "high": under["high"].to_numpy(),
                "low": under["low"].to_numpy(),
                "close": under["close"].to_numpy(),
                "volume": under["volume"].to_numpy(),
            }
        )
        if len(under)
        else None
    )
    return out, candle


_PARSERS: dict[str, Callable[..., tuple[pd.DataFrame, pd.DataFrame | None]]] = {
    "deltaneutral": _parse_deltaneutral,
    "deltaneutral_a": _parse_deltaneutral_a,
    "yahoo": _parse_yahoo,
    "cboe": _parse_cboe,
    "lean": _parse_lean,
}


def infer_spot_from_parity(chain: pd.DataFrame, as_of: dt.date, *, pairs: int = 5) -> float:
    """Spot ≈ median(C − P + K) over the strikes where |C − P| is smallest (r ≈ 0).

    Uses bid/ask mids of the most liquid expiry within ~2 months (short-dated, so the rate
    and dividend terms are negligible); falls back to any expiry. NaN when no pair is quoted.
    """
    quoted = chain[(chain["bid"] > 0) & (chain["ask"] > 0)].copy()
    quoted["mid"] = (quoted["bid"] + quoted["ask"]) / 2
    wide = quoted.pivot_table(index=["expiry", "strike"], columns="option_type", values="mid")
    if not {"call", "put"} <= set(wide.columns):
        return float("nan")
    wide = wide.dropna(subset=["call", "put"]).reset_index()
    if wide.empty:
        return float("nan")
    days = (pd.to_datetime(wide["expiry"]) - pd.Timestamp(as_of)).dt.days
    near = wide[(days > 0) & (days <= 62)]
    wide = near if len(near) else wide
    liquidity = chain.groupby("expiry")["volume"].sum(min_count=1).fillna(0)
    counts = wide.groupby("expiry").size()
    best = (liquidity.reindex(counts.index).fillna(0) + counts * 1e-6).idxmax()
    one = wide[wide["expiry"] == best]
    diff = (one["call"] - one["put"]).to_numpy()
    closest = np.argsort(np.abs(diff))[:pairs]
    return float(np.median(diff[closest] + one["strike"].to_numpy()[closest]))


# -- native layout ------------------------------------------------------------------------------
def _read_any(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, skipinitialspace=True, encoding="utf-8-sig")


def _parse_native_chain(path: Path, symbol: str) -> tuple[pd.DataFrame, None]:
    raw = _read_any(path)
    if "spot" not in raw.columns:
        raise ProviderError(symbol, f"{path.name}: native chain file needs a 'spot' column")
    out = raw.copy()
    for col in CHAIN_COLUMNS:
        if col not in out.columns:
            out[col] = np.nan
    out["quote_date"] = dt.date.fromisoformat(path.stem)
    out["expiry"] = pd.to_datetime(out["expiry"]).dt.date
    out["last_trade_at"] = pd.to_datetime(out["last_trade_at"], utc=True, errors="coerce")
    return out.loc[:, ["quote_date", *CHAIN_COLUMNS, "spot"]], None


def _parse_native_candles(path: Path, symbol: str) -> tuple[None, pd.DataFrame]:
    raw = _read_any(path)
    raw["date"] = pd.to_datetime(raw["date"]).dt.date
    return None, raw


class FilesProvider(MarketDataProvider):
    """Serves chains and candles from files (layouts in the module docstring)."""

    name = "files"
    supports_option_bars = False

    def __init__(
        self, directory: str | Path, *, spot_overrides: dict[str, float] | None = None
    ) -> None:
        self.directory = Path(directory)
        self.spot_overrides = {
            canonical_symbol(k): float(v) for k, v in (spot_overrides or {}).items()
        }
        self._index: dict[str, list[_Source]] | None = None
        self._data: dict[str, _SymbolData] = {}

    # -- index -------------------------------------------------------------------------------
    def _sources(self) -> dict[str, list[_Source]]:
        """symbol → files, built once by looking at paths and first lines only."""
        if self._index is None:
            if not self.directory.is_dir():
                raise ProviderConfigError("*", f"files directory not found: {self.directory}")
            index: dict[str, list[_Source]] = {}
            for path in sorted(self.directory.rglob("*")):
                source = self._classify(path)
                if source:
                    index.setdefault(source.symbol, []).append(source)
            self._index = index
        return self._index

    def _classify(self, path: Path) -> _Source | None:
        if not path.is_file() or path.suffix.lower() not in _SUFFIXES:
            return None
        rel = path.relative_to(self.directory).parts
        if len(rel) == 3 and rel[0] == "chains" and _DATE_FILE.match(path.stem):
            return _Source(path, "native_chain", canonical_symbol(rel[1]))
        if len(rel) == 2 and rel[0] == "candles":
            return _Source(path, "native_candles", canonical_symbol(path.stem))
        if path.suffix.lower() != ".csv":
            return None
        kind = _vendor_kind(_header(path))
        if kind is None or (kind == "lean" and not _LEAN_FILE.match(path.stem)):
            return None
        symbol = _vendor_symbol(path, kind)
        return _Source(path, kind, canonical_symbol(symbol)) if symbol else None

    def symbols(self) -> list[str]:
        """Every symbol with at least one file."""
        return sorted(self._sources())

    def _load(self, symbol: str) -> _SymbolData:
        symbol = canonical_symbol(symbol)
        if symbol not in self._data:
            sources = self._sources().get(symbol)
            if not sources:
                raise NoDataError(symbol, f"no files for this symbol in {self.directory}")
            self._data[symbol] = self._parse_all(symbol, sources)
        return self._data[symbol]

    def _parse_all(self, symbol: str, sources: list[_Source]) -> _SymbolData:
        chains, candles = [], []
        for src in sources:
            chain, candle = self._parse(src)
            if chain is not None and len(chain):
                chains.append(chain)
            if candle is not None and len(candle):
                candles.append(candle)
        chain_frame = (
            pd.concat(chains, ignore_index=True)
            if chains
            else pd.DataFrame(columns=["quote_date", *CHAIN_COLUMNS, "spot"])
        )
        chain_frame = chain_frame.drop_duplicates(["quote_date", "contract_symbol"], keep="first")
        candle_frame = (
            pd.concat(candles, ignore_index=True).drop_duplicates("date", keep="first")
            if candles
            else None
        )
        return _SymbolData(chain_frame, candle_frame)

    def _parse(self, src: _Source) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        try:
            if src.kind == "native_chain":
                return _parse_native_chain(src.path, src.symbol)
            if src.kind == "native_candles":
                return _parse_native_candles(src.path, src.symbol)
            if src.kind == "yahoo":
                return _parse_yahoo(src.path, src.symbol, self.spot_overrides.get(src.symbol))
            return _PARSERS[src.kind](src.path, src.symbol)
        except ProviderError:
            raise
        except Exception as exc:  # malformed vendor file: name it, keep the cause short
            raise ProviderError(
                src.symbol,
                f"cannot parse {src.path.name} as {src.kind}: {type(exc).__name__}: {exc}",
            ) from exc

    # -- dates -------------------------------------------------------------------------------
    def available_dates(self, symbol: str) -> list[dt.date]:
        """Market dates with a stored chain for the symbol, oldest first."""
        data = self._load(symbol)
        return sorted(set(data.chains["quote_date"]))

    def snapshot_date_for(self, as_of: dt.date | None, symbol: str | None = None) -> dt.date:
        """Latest stored date for ``None``; otherwise the session on or before ``as_of``."""
        if symbol is None:
            return calendar.market_date_for(as_of)
        dates = self.available_dates(symbol)
        if as_of is None:
            if not dates:
                raise NoDataError(canonical_symbol(symbol), "no chain files")
            return dates[-1]
        return as_of if as_of in dates else calendar.session_on_or_before(as_of)

    def _chain_on(self, symbol: str, as_of: dt.date | None) -> tuple[dt.date, pd.DataFrame]:
        symbol = canonical_symbol(symbol)
        day = self.snapshot_date_for(as_of, symbol)
        data = self._load(symbol)
        if day not in data.by_date:
            rows = data.chains[data.chains["quote_date"] == day]
            if rows.empty:
                raise NoDataError(symbol, self._missing_message(symbol, day))
            data.by_date[day] = rows.drop(columns="quote_date").reset_index(drop=True)
        return day, data.by_date[day]

    def _missing_message(self, symbol: str, day: dt.date) -> str:
        dates = self.available_dates(symbol)
        span = f"{dates[0]}..{dates[-1]}, {len(dates)} dates" if dates else "none"
        return f"no chain data for {day.isoformat()} (available: {span})"

    # -- interface ---------------------------------------------------------------------------
    def get_chain_snapshot(self, symbol: str, *, as_of: dt.date | None = None) -> ChainSnapshot:
        day, rows = self._chain_on(symbol, as_of)
        spot = float(rows["spot"].iloc[0]) if len(rows) else float("nan")
        chain = rows.loc[:, list(CHAIN_COLUMNS)].reset_index(drop=True)
        return ChainSnapshot(canonical_symbol(symbol), day, spot, chain, self.name)

    def list_option_expiries(self, symbol: str, *, as_of: dt.date | None = None) -> list[dt.date]:
        _, rows = self._chain_on(symbol, as_of)
        return sorted(set(rows["expiry"]))

    def get_option_chain(
        self, symbol: str, expiry: dt.date, *, as_of: dt.date | None = None
    ) -> pd.DataFrame:
        _, rows = self._chain_on(symbol, as_of)
        return rows.loc[rows["expiry"] == expiry, list(CHAIN_COLUMNS)].reset_index(drop=True)

    def get_quote(self, symbol: str, *, as_of: dt.date | None = None) -> float:
        """The stored snapshot's spot for that date."""
        _, rows = self._chain_on(symbol, as_of)
        return float(rows["spot"].iloc[0])

    def get_history(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Candles from files, else spot-derived candles from the stored chains."""
        data = self._load(symbol)
        candles = _complete_history(data.candles, _spot_candles(data.chains))
        if candles is None:
            return empty_frame(HISTORY_COLUMNS)
        keep = (candles["date"] >= start) & (candles["date"] <= end)
        return candles.loc[keep].reset_index(drop=True)


def _spot_candles(chains: pd.DataFrame) -> pd.DataFrame | None:
    """One flat candle per stored chain date (close = spot) so RV works without candles."""
    if chains.empty:
        return None
    spots = chains.groupby("quote_date", sort=True)["spot"].first().dropna()
    values = spots.to_numpy(float)
    return pd.DataFrame(
        {
            "date": spots.index,
            "open": values,
            "high": values,
            "low": values,
            "close": values,
            "volume": np.nan,
        }
    )


def _complete_history(
    real: pd.DataFrame | None, derived: pd.DataFrame | None
) -> pd.DataFrame | None:
    """Real candles win; derived ones only fill dates the real files do not cover."""
    frames = [f for f in (real, derived) if f is not None and len(f)]
    if not frames:
        return None
    merged = pd.concat(frames, ignore_index=True).drop_duplicates("date", keep="first")
    for col in HISTORY_COLUMNS:
        if col not in merged.columns:
            merged[col] = np.nan
    merged["adj_close"] = merged["adj_close"].fillna(merged["close"])
    merged = merged.loc[:, list(HISTORY_COLUMNS)]
    return merged.sort_values("date", kind="stable").reset_index(drop=True)
