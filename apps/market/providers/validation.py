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
import pyarrow as pa

from apps.core.values import day_numbers, text_series

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
    if _to_date_is_identity(values):
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

    frame: pd.DataFrame
    rows_received: int
    dropped: dict[str, int]
    rows: slice | None = None  # set when ``frame`` holds many inputs' rows: these are ours

    @property
    def chain(self) -> pd.DataFrame:
        """The cleaned rows of this input."""
        return self.frame if self.rows is None else self.frame.iloc[self.rows]

    @property
    def size(self) -> int:
        return len(self.frame) if self.rows is None else self.rows.stop - self.rows.start

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
    out: pd.DataFrame, raw_volume: pd.Series, snapshot_day: np.ndarray, spot: np.ndarray
) -> dict[str, pd.Series]:
    """reason → mask of the rows that reason drops (first reason wins when counting).

    ``snapshot_day`` (days since the epoch) and ``spot`` are per row; NaN where the caller gave
    none, which disables that row's expiry or strike-versus-spot test.
    """
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
    problems["bad_strike"] |= (strike > spot * STRIKE_SPOT_FACTOR) | (
        strike < spot / STRIKE_SPOT_FACTOR
    )
    if not np.isnan(snapshot_day).all():
        problems["expired"] = pd.Series(
            day_numbers(out["expiry"].to_numpy()) < snapshot_day, index=out.index
        )
    return problems


@dataclass(frozen=True)
class ChainInput:
    """One symbol-day's raw chain for :func:`clean_chains`."""

    symbol: str
    chain: pd.DataFrame
    snapshot_date: dt.date | None = None
    spot: float | None = None


@dataclass(frozen=True)
class CleanChains:
    """Many symbol-days cleaned together.

    ``chain`` holds the cleaned rows of every input that passed, input after input (in input
    order, each sorted as :func:`clean_chain` sorts); ``results[i]`` is input i's
    :class:`CleanChain` (its ``rows`` of ``chain``) or the ProviderError that failed it.
    """

    chain: pd.DataFrame
    results: list[CleanChain | ProviderError]


def _check_columns(symbol: str, df: pd.DataFrame) -> pd.DataFrame:
    """The input itself, once it names the required columns, each once."""
    _require(symbol, df, ("contract_symbol", "option_type", "expiry", "strike"), "chain")
    if df.columns.has_duplicates:
        twice = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise ProviderError(symbol, f"chain names columns more than once: {twice}")
    return df


def _standard_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The input's CHAIN_COLUMNS (missing optional ones NaN), a new frame on a fresh index."""
    out = df.reindex(columns=list(CHAIN_COLUMNS))  # pandas copies on write: the input stays
    out.index = pd.RangeIndex(len(out))
    return out


def _to_date_is_identity(values: pd.Series) -> bool:
    """True when :func:`_to_date` only relabels the column (its first value is a plain date)."""
    return bool(
        len(values)
        and isinstance(values.iloc[0], dt.date)
        and not isinstance(values.iloc[0], dt.datetime)
    )


def _is_utc_stamps(values: pd.Series) -> bool:
    """True for UTC timestamps of any resolution (pandas 3 makes microseconds by default)."""
    return isinstance(values.dtype, pd.DatetimeTZDtype) and str(values.dtype.tz) == "UTC"


def _standard_frames(inputs: list[pd.DataFrame]) -> pd.DataFrame:
    """The inputs' standard columns concatenated, the date columns normalised.

    Date parsing infers a format from a column's values, so it runs per input unless every
    input's dates are already plain dates and UTC stamps (then it is the same on the whole);
    inputs that all name the same columns are concatenated first and given the standard ones once.
    """
    uniform = all(
        _to_date_is_identity(f["expiry"])
        and "last_trade_at" in f.columns
        and _is_utc_stamps(f["last_trade_at"])
        for f in inputs
    )
    if uniform and all(f.columns.equals(inputs[0].columns) for f in inputs):
        out = _standard_columns(pd.concat(inputs, ignore_index=True))
    else:
        frames = [_standard_columns(f) for f in inputs]
        if not uniform:
            for f in frames:
                f["expiry"] = _to_date(f["expiry"])
                _normalise_last_trade(f)
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if uniform:
        out["expiry"] = out["expiry"].astype(object)
        _normalise_last_trade(out)
    return out


def clean_chains(inputs: list[ChainInput]) -> CleanChains:
    """:func:`clean_chain` for many symbol-days at once: one pass over the concatenated rows.

    Every row test is element-wise, so a row is kept or dropped exactly as it would be alone;
    the per-input decisions (too many bad rows, duplicate contract symbols) are taken per input,
    and a failing input fails alone with its own one-line ProviderError.
    """
    results: list[CleanChain | ProviderError | None] = [None] * len(inputs)
    frames, members = [], []
    for position, item in enumerate(inputs):
        try:
            frames.append(_check_columns(item.symbol, item.chain))
            members.append(position)
        except ProviderError as exc:
            results[position] = exc
    if not frames:
        frames.append(pd.DataFrame(columns=list(CHAIN_COLUMNS)))
        return CleanChains(_standard_frames(frames), results)  # type: ignore[arg-type]
    sizes = np.array([len(f) for f in frames], dtype=np.int64)
    item = np.repeat(np.arange(len(frames)), sizes)
    out = _standard_frames(frames)
    out["contract_symbol"] = out["contract_symbol"].astype(str).str.replace(" ", "", regex=False)
    out["option_type"] = _option_types(out["option_type"])
    raw_volume = out["volume"].replace("", np.nan)
    _numeric(out, _NUMERIC_CHAIN)
    spots = np.array([_number(inputs[p].spot) for p in members], dtype=float)
    days = np.array([_day(inputs[p].snapshot_date) for p in members], dtype=float)
    problems = _row_problems(out, raw_volume, days[item], spots[item])
    dropped: list[dict[str, int]] = [{} for _ in frames]
    bad = np.zeros(len(out), dtype=bool)
    for reason, mask in problems.items():
        new = mask.fillna(False).astype(bool).to_numpy() & ~bad
        if new.any():
            for k, count in enumerate(np.bincount(item[new], minlength=len(frames)).tolist()):
                if count:
                    dropped[k][reason] = count
            bad |= new
    bad_counts = np.bincount(item[bad], minlength=len(frames))
    failed = np.zeros(len(frames), dtype=bool)
    for k in np.flatnonzero((sizes > 0) & (bad_counts > sizes * MAX_DROPPED_SHARE)).tolist():
        symbol, rows = inputs[members[k]].symbol, item == k
        worst = max(dropped[k], key=lambda r: dropped[k][r])
        sample = problems[worst].fillna(False).astype(bool).to_numpy() & rows
        results[members[k]] = ProviderError(
            symbol,
            f"chain: {int(bad_counts[k])} of {int(sizes[k])} rows are bad "
            f"({_reasons(dropped[k])}), e.g. {_sample(out, sample, _SAMPLE_COLS)}",
        )
        failed[k] = True
    keep = ~bad & ~failed[item]
    out, item = out.loc[keep], item[keep]
    iv = out["implied_vol"]
    out["implied_vol"] = iv.where(np.isfinite(iv) & (iv > IV_PLACEHOLDER_MAX) & (iv <= IV_MAX))
    dup = _duplicated_within(item, out["contract_symbol"])
    for k in np.unique(item[dup]).tolist():
        rows = dup & (item == k)
        results[members[k]] = ProviderError(
            inputs[members[k]].symbol,
            f"chain: duplicate contract_symbol values ({int(rows.sum())} rows), e.g. "
            f"{sorted(out.loc[rows, 'contract_symbol'].astype(str).unique())[:_SAMPLE_ROWS]}",
        )
        failed[k] = True
    if dup.any():
        keep = ~failed[item]
        out, item = out.loc[keep], item[keep]
    out = out.assign(_item=item).sort_values(
        ["_item", "expiry", "strike", "option_type"], kind="stable"
    )
    out = out.drop(columns="_item").reset_index(drop=True)
    lengths = np.bincount(item, minlength=len(frames))
    stops = np.cumsum(lengths)
    for k, position in enumerate(members):
        if not failed[k]:
            rows = slice(int(stops[k] - lengths[k]), int(stops[k]))
            results[position] = CleanChain(out, int(sizes[k]), dropped[k], rows)
    return CleanChains(out, results)  # type: ignore[arg-type]


def _option_types(values: pd.Series) -> pd.Series:
    """'call' / 'put' (missing when unrecognised), each distinct vendor spelling mapped once."""
    codes, spellings = pd.factorize(
        values.astype(str).str.strip().str.lower(), use_na_sentinel=False
    )
    kinds = pa.array([_TYPE_MAP.get(s) for s in spellings], pa.string())
    return text_series(kinds.take(pa.array(codes)))


def _duplicated_within(item: np.ndarray, keys: pd.Series) -> np.ndarray:
    """Rows whose key repeats inside their own input (``duplicated(keep=False)`` per input)."""
    codes, _ = pd.factorize(keys, use_na_sentinel=False)
    dup = np.bincount(codes)[codes] > 1 if len(codes) else np.zeros(0, dtype=bool)
    if dup.any():  # a key repeated anywhere: keep only repeats inside one input
        candidates = np.flatnonzero(dup)
        pairs = pd.DataFrame({"item": item[candidates], "key": keys.to_numpy()[candidates]})
        dup[candidates] = pairs.duplicated(keep=False).to_numpy()
    return dup


def _number(value: object) -> float:
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def _day(day: dt.date | None) -> float:
    return float("nan") if day is None else float((day - dt.date(1970, 1, 1)).days)


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
    result = clean_chains([ChainInput(symbol, df, snapshot_date, spot)]).results[0]
    if isinstance(result, ProviderError):
        raise result
    return CleanChain(result.chain, result.rows_received, result.dropped)


_SAMPLE_COLS = ["contract_symbol", "expiry", "strike", "bid", "ask", "volume"]


def _reasons(dropped: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()))


def validate_chain(symbol: str, df: pd.DataFrame) -> pd.DataFrame:
    """The cleaned chain only (see :func:`clean_chain`)."""
    return clean_chain(symbol, df).chain
