"""The offline, deterministic demo provider (the default).

Why it exists: a fresh machine with no network and no vendor account must still show every page
and metric with meaningful numbers. So the synthetic market is built to look like a real one:

* NYSE sessions only (``apps.core.calendar``); nothing before ``EPOCH``, nothing after the last
  completed session.
* One price path per symbol, seeded from a sha256 of the symbol (never ``hash()``, which changes
  per process) and generated from the fixed ``EPOCH`` over a fixed number of draws, so the same
  symbol and date always give the same numbers whatever range was asked for. The path is a
  mean-reverting log price around a drifting trend, with fat-tailed shocks, Markov volatility
  regimes (calm / normal / stressed) and quarterly earnings jumps. Levels are anchored so that
  familiar tickers trade near familiar prices around ``ANCHOR``.
* Weekly (Friday) expiries ~8 weeks out and standard monthlies (``calendar.monthly_expiry``) ~1
  year out. Strikes are tiered (fine near the money, coarser in the wings) and, like a real
  exchange, strikes are *added* as the underlying wanders and never removed; each strike's listing
  day is computed, so new listings start with zero open interest.
* Black–Scholes prices (r = q = 0, matching the IV solver's default rate) on an IV surface with put
  skew, a smile, a regime-driven term structure and an earnings bump. ~5% of contracts have no
  vendor IV so the solver gets exercised.
* Quotes with spreads that widen for cheap and far-OTM options (some zero bids), open interest that
  builds with age and follows the money (so day-over-day OI both builds and unwinds), volume, and
  daily option bars derived from the same model.

Per-contract, per-day noise comes from a vectorised integer hash of (symbol, contract, date), not
from a stateful RNG, so any subset of contracts or dates reproduces the same values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from apps.core import calendar
from apps.core.greeks import bs_price
from apps.core.osi import format_osi_series, parse_osi_series
from apps.core.symbols import canonical_symbol
from apps.core.values import text_series

from .base import (
    BAR_COLUMNS,
    CHAIN_COLUMNS,
    HISTORY_COLUMNS,
    ChainSnapshot,
    MarketDataProvider,
    NoDataError,
    ProviderError,
    empty_frame,
)

EPOCH = dt.date(2015, 1, 2)
ANCHOR = dt.date(2025, 1, 2)
_DRAWS = 9000  # fixed so the path prefix never depends on how far the calendar reaches
_WEEKLY_DAYS = 56
_MONTHLY_DAYS = 380
_SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
_INCREMENTS = np.array([0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 25.0, 50.0])
_ETFS = frozenset({"SPY", "QQQ", "IWM", "DIA", "TLT", "GLD", "XLF", "EEM"})

# symbol: (price near ANCHOR, annual base vol, liquidity multiplier)
DEMO_SYMBOL_PARAMS: dict[str, tuple[float, float, float]] = {
    "AAPL": (240.0, 0.27, 4.0),
    "MSFT": (420.0, 0.24, 2.5),
    "SPY": (590.0, 0.15, 6.0),
    "QQQ": (510.0, 0.20, 4.0),
    "NVDA": (135.0, 0.50, 5.0),
    "AMZN": (220.0, 0.32, 3.0),
    "TSLA": (400.0, 0.58, 5.0),
    "META": (600.0, 0.38, 2.5),
    "GOOGL": (190.0, 0.30, 2.5),
    "IWM": (225.0, 0.21, 3.0),
    "AMD": (120.0, 0.50, 3.0),
    "JPM": (240.0, 0.24, 1.5),
}
DEMO_SYMBOLS: tuple[str, ...] = tuple(DEMO_SYMBOL_PARAMS)

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _seed(symbol: str) -> int:
    """A stable 63-bit seed: identical across processes, machines and Python versions."""
    return int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "big") >> 1


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays: a cheap, well-spread stateless hash."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _uniform(key: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic U[0,1) per key and salt."""
    with np.errstate(over="ignore"):
        h = _mix(key ^ _mix(np.asarray([salt], dtype=np.uint64)))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _normal(key: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic standard normal per key (inverse-CDF of the hashed uniform)."""
    from scipy.special import ndtri

    return ndtri(np.clip(_uniform(key, salt), 1e-12, 1 - 1e-12))


@dataclass(frozen=True)
class _Model:
    """Everything about one symbol that does not depend on the contract."""

    symbol: str
    seed: int
    base_vol: float
    liquidity: float
    is_etf: bool
    days: np.ndarray  # int64 day numbers (days since 1970-01-01) of sessions from EPOCH
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    vol: np.ndarray  # annualised regime volatility per session
    earnings: np.ndarray  # int64 day numbers of earnings sessions (empty for ETFs)

    def index_of(self, day: dt.date) -> int:
        """Position of a session in the model arrays (the session must exist)."""
        return int(np.searchsorted(self.days, _day_number(day)))


def _day_number(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _params(symbol: str, seed: int) -> tuple[float, float, float]:
    """Familiar tickers get familiar levels; any other symbol gets a hashed default."""
    if symbol in DEMO_SYMBOL_PARAMS:
        return DEMO_SYMBOL_PARAMS[symbol]
    rng = np.random.default_rng(seed ^ 0x5EED)
    level = float(np.exp(rng.uniform(np.log(12.0), np.log(350.0))))
    return round(level, 2), float(rng.uniform(0.2, 0.6)), float(rng.uniform(0.3, 1.2))


def _ar1(x: np.ndarray, gain: float, decay: float, state: float | np.ndarray = 0.0) -> np.ndarray:
    """y[n] = gain * x[n] + decay * y[n-1] (y[-1] = state / decay): a first-order IIR filter.

    The same arithmetic as ``scipy.signal.lfilter([gain], [1, -decay], x, zi=[state])``, without
    importing scipy.signal (seconds of start-up). ``x`` may be 2-D (one series per row, ``state``
    one value per row): the recursion then steps every series at once.
    """
    columns = np.ascontiguousarray(np.atleast_2d(x).T)
    out = np.empty_like(columns, dtype=float)
    z = np.broadcast_to(np.asarray(state, dtype=float), columns.shape[1:]).copy()
    for n in range(len(columns)):
        y = gain * columns[n] + z
        out[n] = y
        z = decay * y
    return out.T if np.ndim(x) == 2 else out[:, 0]


def _regime_spells(rng: np.random.Generator) -> np.ndarray:
    """Volatility multipliers from Markov-ish regime spells (calm/normal/stressed), unsmoothed."""
    spells = rng.geometric(1 / 45, size=600)
    states = rng.choice(3, size=600, p=[0.35, 0.45, 0.20])
    return np.repeat(np.array([0.75, 1.0, 1.8])[states], spells)[:_DRAWS]


def _earnings_days(symbol: str, seed: int, last_day: int) -> np.ndarray:
    """Quarterly earnings ~3-6 weeks into Jan/Apr/Jul/Oct, snapped to a session."""
    if symbol in _ETFS:
        return np.array([], dtype=np.int64)
    days = _earnings_schedule(20 + seed % 21)
    return days[days <= last_day]


@lru_cache(maxsize=21)
def _earnings_schedule(offset: int) -> np.ndarray:
    """Every quarter's earnings session for a symbol whose reports come ``offset`` days into the
    quarter (shared by all symbols with that offset)."""
    out = []
    for year in range(EPOCH.year, EPOCH.year + 36):
        for month in (1, 4, 7, 10):
            day = calendar.next_session(dt.date(year, month, 1) + dt.timedelta(days=offset - 1))
            out.append(_day_number(day))
    days = np.array(out, dtype=np.int64)
    days.setflags(write=False)
    return days


@lru_cache(maxsize=1)
def _session_days() -> np.ndarray:
    """Day numbers of the first ``_DRAWS`` sessions from EPOCH (computed once per process)."""
    sessions = calendar.sessions_between(EPOCH, dt.date(2060, 1, 1))[:_DRAWS]
    return np.array([_day_number(d) for d in sessions], dtype=np.int64)


_MODELS: dict[str, _Model] = {}
_MODEL_CACHE_SIZE = 1024


def _model(symbol: str) -> _Model:
    """The deterministic path for one symbol (built once per process)."""
    return _models([symbol])[0]


def _models(symbols: list[str]) -> list[_Model]:
    """The paths of many symbols; the ones not built yet are built together (the two AR(1)
    recursions step every new symbol at once), each exactly as it would be alone."""
    missing = [s for s in dict.fromkeys(symbols) if s not in _MODELS]
    if missing:
        if len(_MODELS) + len(missing) > _MODEL_CACHE_SIZE:
            _MODELS.clear()
        for model in _build_models(missing):
            _MODELS[model.symbol] = model
    return [_MODELS[s] for s in symbols]


def _build_models(symbols: list[str]) -> list[_Model]:
    days = _session_days()
    n = len(days)
    draws = []
    for symbol in symbols:
        seed = _seed(symbol)
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((5, _DRAWS))
        tails = rng.standard_t(5, _DRAWS) * np.sqrt(3 / 5)
        draws.append((symbol, seed, z, tails, _regime_spells(rng)))
    if len({len(d[4]) for d in draws}) == 1:
        spells = np.stack([d[4] for d in draws])
        mults = _ar1(spells, 0.12, 0.88, 0.88 * spells[:, 0])
    else:  # regime spells of unequal length (never seen): one by one
        mults = [_ar1(d[4], 0.12, 0.88, 0.88 * d[4][0]) for d in draws]
    staged = []
    for (symbol, seed, z, tails, _), mult in zip(draws, mults, strict=True):
        level, base_vol, liquidity = _params(symbol, seed)
        earnings = _earnings_days(symbol, seed, int(days[-1]))
        vol = base_vol * mult[:n]
        daily = vol / np.sqrt(252)
        shocks = tails[:n] * daily
        shocks[np.isin(days, earnings)] *= 3.0
        staged.append(
            (symbol, seed, z, mult, level, base_vol, liquidity, earnings, vol, daily, shocks)
        )
    paths = _ar1(np.stack([m[-1] for m in staged]), 1.0, 1 - np.log(2) / 380)
    return [_path(*m, x) for m, x in zip(staged, paths, strict=True)]


def _path(
    symbol, seed, z, mult, level, base_vol, liquidity, earnings, vol, daily, shocks, x
) -> _Model:
    days = _session_days()
    n = len(days)
    anchor = int(np.searchsorted(days, _day_number(calendar.session_on_or_before(ANCHOR))))
    drift = (0.04 if symbol in _ETFS else 0.07) / 252
    close = np.round(level * np.exp(drift * (np.arange(n) - anchor) + x - x[anchor]), 2)
    prev = np.concatenate([[close[0]], close[:-1]])
    opn = np.round(prev * np.exp(0.3 * daily * z[0, :n]), 2)
    high = np.round(np.maximum(opn, close) * np.exp(0.5 * daily * np.abs(z[1, :n])), 2)
    low = np.round(np.minimum(opn, close) * np.exp(-0.5 * daily * np.abs(z[2, :n])), 2)
    volume = np.round(liquidity * 8e6 * mult[:n] ** 1.3 * np.exp(0.35 * z[3, :n]))
    return _Model(
        symbol,
        seed,
        base_vol,
        liquidity,
        symbol in _ETFS,
        days,
        opn,
        high,
        low,
        close,
        volume,
        vol,
        earnings,
    )


class _Sessions:
    """Stands in for a model where only the shared session table matters."""

    @property
    def days(self) -> np.ndarray:
        return _session_days()


_SESSIONS = _Sessions()


@dataclass(frozen=True)
class _Expiry:
    day: int  # day number of the expiry session
    index: int  # session index of the expiry in the model
    listed: int  # session index of its listing day
    monthly: bool


def _expiries(model: _Model, i: int) -> list[_Expiry]:
    """Expiries listed at session i: weeklies ~8 weeks out and monthlies ~1 year out."""
    return list(_expiries_at(i))


@lru_cache(maxsize=64)
def _expiries_at(i: int) -> tuple[_Expiry, ...]:
    """The expiries of session i (every symbol shares the session table, so they do too)."""
    model = _SESSIONS
    today = dt.date(1970, 1, 1) + dt.timedelta(days=int(model.days[i]))
    monthly = set()
    for step in range(14):
        y, m = divmod(today.month - 1 + step, 12)
        e = calendar.monthly_expiry(today.year + y, m + 1)
        if today < e <= today + dt.timedelta(days=_MONTHLY_DAYS):
            monthly.add(e)
    weekly = set()
    friday = today + dt.timedelta(days=(4 - today.weekday()) % 7 or 7)
    while friday <= today + dt.timedelta(days=_WEEKLY_DAYS):
        e = friday if calendar.is_session(friday) else calendar.previous_session(friday)
        if e > today:
            weekly.add(e)
        friday += dt.timedelta(days=7)
    return tuple(_make_expiry(model, e, e in monthly) for e in sorted(monthly | weekly))


def _make_expiry(model: _Model | _Sessions, day: dt.date, monthly: bool) -> _Expiry:
    life = _MONTHLY_DAYS if monthly else _WEEKLY_DAYS
    num = _day_number(day)
    listed = int(np.searchsorted(model.days, num - life))
    return _Expiry(num, int(np.searchsorted(model.days, num)), listed, monthly)


_NEVER = np.iinfo(np.int64).max // 2  # the birth of a strike never listed


@dataclass(frozen=True)
class _Bands:
    """The listing bands of (model, expiry) pairs at session i, pair p = model p // E, expiry
    p % E. Each pair's windows (sessions listed..i) lie end to end in the tier arrays, tagged by
    ``row``; per tier the band is (lo, hi) per session and only widens (lo falls, hi rises)."""

    listed: np.ndarray  # per pair: session index of the listing day
    length: np.ndarray  # per pair: sessions in its window
    row: np.ndarray  # per window session: its pair
    tiers: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (spacing per pair, lo, hi)

    @property
    def last(self) -> np.ndarray:
        """Per pair: the position of its session i in the tier arrays."""
        return np.cumsum(self.length) - 1


def _bands(models: list[_Model], expiries: list[_Expiry], i: int) -> _Bands:
    """Three tiers per pair, spaced at 1, 2 and 4 increments (the smallest listed increment
    >= 0.9% of the spot on the listing day), the wider tiers out to more standard deviations of
    the expiry's life; each band follows the running low and high of the closes since listing."""
    close = np.stack([m.close for m in models])
    base_vol = np.array([m.base_vol for m in models])
    listed = np.array([e.listed for e in expiries], dtype=np.int64)
    days = models[0].days
    life = np.array([(e.day - days[e.listed]) / 365.0 for e in expiries])
    pm = np.repeat(np.arange(len(models)), len(expiries))
    pe = np.tile(np.arange(len(expiries)), len(models))
    pos = np.searchsorted(_INCREMENTS, close[pm, listed[pe]] * 0.009)
    inc = _INCREMENTS[np.minimum(pos, len(_INCREMENTS) - 1)]
    sd = np.minimum(base_vol[pm], 0.45) * np.sqrt(np.maximum(life[pe], 1 / 52))
    runs = [
        (np.minimum.accumulate(w, axis=1), np.maximum.accumulate(w, axis=1))
        for w in (close[:, start : i + 1] for start in listed.tolist())
    ]
    pairs = list(zip(pm.tolist(), pe.tolist(), strict=True))
    runmin = np.concatenate([runs[e][0][m] for m, e in pairs])
    runmax = np.concatenate([runs[e][1][m] for m, e in pairs])
    length = np.maximum(i + 1 - listed, 0)[pe]
    row = np.repeat(np.arange(len(pm)), length)
    tiers = [
        (inc, runmin - 14 * inc[row], runmax + 14 * inc[row]),
        (2 * inc, runmin * np.exp(-1.5 * sd)[row], runmax * np.exp(1.2 * sd)[row]),
        (4 * inc, runmin * np.exp(-3.0 * sd)[row], runmax * np.exp(2.2 * sd)[row]),
    ]
    return _Bands(listed[pe], length, row, tiers)


def _births(bands: _Bands, pair: np.ndarray, strikes: np.ndarray) -> np.ndarray:
    """Session index on which each strike (of pair ``pair``) was first listed (_NEVER when not
    by session i): the first session of a tier whose band held it, the strike on that tier's grid.

    A band only widens, so its first session holding a strike is the larger of the first with
    lo <= strike and the first with hi >= strike: one binary search over every pair's window at
    once, keyed (pair, value) as complex numbers (compared pair first, then value; exact).
    """
    best = np.full(strikes.shape, _NEVER, dtype=np.int64)
    start = bands.last - bands.length + 1
    for spacing, lo, hi in bands.tiers:
        step = spacing[pair]
        # np.isclose(grid, strikes) for finite values, without its generic overhead
        grid = np.round(strikes / step) * step
        on_grid = np.abs(grid - strikes) <= 1e-08 + 1e-05 * np.abs(strikes)
        first_lo = np.searchsorted(bands.row + 1j * -lo, pair + 1j * -strikes, side="left")
        first_hi = np.searchsorted(bands.row + 1j * hi, pair + 1j * strikes, side="left")
        first = np.maximum(first_lo, first_hi) - start[pair]
        ok = on_grid & (first < bands.length[pair])
        best = np.where(ok, np.minimum(best, first + bands.listed[pair]), best)
    return best


def _strike_grids(
    models: list[_Model], expiries: list[_Expiry], i: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pair, strike, birth) of every strike listed at session i, by pair (model by model, each
    model's expiries in order), strikes ascending within a pair; pairs as in :func:`_bands`."""
    if not models or not expiries:
        return np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64)
    bands = _bands(models, expiries, i)
    last = np.maximum(bands.last, 0)
    pairs = np.arange(len(bands.length))
    cand_pair, cand_strike = [], []
    for spacing, lo, hi in bands.tiers:
        first = np.ceil(np.maximum(lo[last], spacing) / spacing)
        count = np.where(
            bands.length > 0, np.maximum(np.floor(hi[last] / spacing) + 1 - first, 0), 0
        )
        count = count.astype(np.int64)
        pair = np.repeat(pairs, count)
        ramp = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        cand_pair.append(pair)
        cand_strike.append((first[pair] + ramp) * spacing[pair])
    pair, strike = np.concatenate(cand_pair), np.round(np.concatenate(cand_strike), 4)
    order = np.lexsort((strike, pair))
    pair, strike = pair[order], strike[order]
    new = np.ones(len(pair), dtype=bool)  # np.unique within each pair
    new[1:] = (pair[1:] != pair[:-1]) | (strike[1:] != strike[:-1])
    pair, strike = pair[new], strike[new]
    birth = _births(bands, pair, strike)
    keep = birth <= i
    return pair[keep], strike[keep], birth[keep]


@dataclass(frozen=True)
class _RowModel:
    """What the option model needs of the underlying, one entry per row, so the rows of many
    symbols (a chain batch) or of many sessions (option bars) go through it in one pass."""

    i: np.ndarray  # session index
    day: np.ndarray  # day number of the session
    s: np.ndarray  # underlying close
    vol: np.ndarray  # regime volatility of the session
    base_vol: np.ndarray
    liquidity: np.ndarray
    skew: np.ndarray  # put skew (steeper for ETFs)
    seed: np.ndarray  # uint64
    next_earnings: np.ndarray  # day number of the next earnings session (-1: none)


def _row_model(model: _Model, i: np.ndarray) -> _RowModel:
    n = len(i)
    day = model.days[i]
    if len(model.earnings):
        pos = np.searchsorted(model.earnings, day, side="right")
        nxt = model.earnings[np.minimum(pos, len(model.earnings) - 1)]
    else:
        nxt = np.full(n, -1, dtype=np.int64)
    return _RowModel(
        i,
        day,
        model.close[i],
        model.vol[i],
        np.full(n, model.base_vol),
        np.full(n, model.liquidity),
        np.full(n, 0.16 if model.is_etf else 0.09),
        np.full(n, model.seed, dtype=np.uint64),
        nxt,
    )


def _stack(parts: list[_RowModel]) -> _RowModel:
    if len(parts) == 1:
        return parts[0]
    names = _RowModel.__dataclass_fields__
    return _RowModel(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in names})


def _contract_keys(seed: np.ndarray, exp_day, strike, call) -> np.ndarray:
    """A uint64 identity per contract for the stateless hash."""
    with np.errstate(over="ignore"):
        k = (np.asarray(exp_day, dtype=np.uint64) << np.uint64(40)) ^ (
            np.rint(np.asarray(strike) * 1000).astype(np.uint64) << np.uint64(1)
        )
        return _mix(k ^ np.asarray(call, dtype=np.uint64) ^ seed)


def _day_keys(ckeys: np.ndarray, day) -> np.ndarray:
    with np.errstate(over="ignore"):
        return _mix(ckeys ^ (np.asarray(day, dtype=np.uint64) * np.uint64(0x9E3779B1)))


def _surface(rm: _RowModel, t, strike, exp_day) -> tuple[np.ndarray, np.ndarray]:
    """Model IV and standardised moneyness per row."""
    regime = rm.vol
    long_run = rm.base_vol * 1.05
    atm = long_run + (regime - long_run) * np.exp(-t / 0.3)
    atm = _earnings_bump(rm, atm, t, exp_day)
    k = np.clip(np.log(strike / rm.s) / (atm * np.sqrt(t)), -5, 5)
    iv = atm * (1 - rm.skew * k + 0.035 * k * k)
    return np.clip(iv, 0.35 * atm, 3.5 * atm), k


def _earnings_bump(rm: _RowModel, atm, t, exp_day) -> np.ndarray:
    """Add an earnings move's variance to expiries that span the next earnings date."""
    nxt = rm.next_earnings
    spans = (nxt > rm.day) & (nxt <= exp_day)
    if not spans.any():
        return atm
    move = 0.6 * rm.base_vol / np.sqrt(252) * 3.0
    return np.where(spans, np.sqrt(atm * atm + move * move / t), atm)


def _rows(
    rm: _RowModel,
    exp_day: np.ndarray,
    strike: np.ndarray,
    call: np.ndarray,
    birth: np.ndarray,
) -> dict[str, np.ndarray]:
    """The model for aligned (session, contract) rows: theo, IV, OI, volume, noise keys."""
    day = rm.day
    t = (exp_day - day) / 365.0
    s = rm.s
    iv, k = _surface(rm, t, strike, exp_day)
    ckeys = _contract_keys(rm.seed, exp_day, strike, call)
    dkeys = _day_keys(ckeys, day)
    theo = bs_price(s, strike, t, iv, 0.0, call)
    oi, volume = _activity(rm, birth, t, k, ckeys, dkeys)
    return {
        "t": t,
        "s": s,
        "iv": iv,
        "k": k,
        "theo": theo,
        "oi": oi,
        "volume": volume,
        "ckeys": ckeys,
        "dkeys": dkeys,
    }


def _activity(rm: _RowModel, birth, t, k, ckeys, dkeys) -> tuple[np.ndarray, np.ndarray]:
    """Open interest (builds with age, follows the money) and the day's volume."""
    popularity = np.exp(0.6 * _normal(ckeys, 1)) * np.exp(-0.5 * (k / 1.3) ** 2)
    target = rm.liquidity * 2500 * popularity / (1 + 1.5 * t)
    age = rm.i - birth
    ramp = 1 - np.exp(-age / 12.0)
    oi = np.floor(target * ramp * (1 + 0.25 * (_uniform(dkeys, 2) - 0.5)))
    traded = _uniform(dkeys, 3) > np.clip(0.12 + 0.22 * np.abs(k), 0, 0.97)
    turnover = 0.06 * (1 + 3 * np.exp(-t * 30)) * np.exp(0.8 * _normal(dkeys, 4))
    volume = np.where(traded, np.ceil(target * turnover * (0.3 + ramp)), 0.0)
    return oi, volume


def _quotes(theo: np.ndarray, rm: _RowModel, dkeys) -> tuple[np.ndarray, np.ndarray]:
    """Bid/ask around the model price: wider for cheap options and in stressed regimes."""
    stress = np.sqrt(rm.vol / rm.base_vol)
    width = (0.02 + 0.055 * theo**0.75) * stress * np.exp(0.25 * _normal(dkeys, 5))
    tick = np.where(theo + width / 2 < 3.0, 0.01, 0.05)
    ask = np.maximum(np.ceil((theo + width / 2) / tick) * tick, 0.01)
    bid = np.maximum(np.floor((theo - width / 2) / tick) * tick, 0.0)
    bid = np.minimum(bid, ask - tick)
    return np.round(np.maximum(bid, 0.0), 2), np.round(ask, 2)


class DemoProvider(MarketDataProvider):
    """Synthetic, deterministic, offline market data (see the module docstring)."""

    name = "demo"
    supports_option_bars = True
    option_bars_batch = 100_000  # no vendor limit: one vectorised pass per request

    def __init__(self, *, missing_iv_fraction: float = 0.05) -> None:
        self.missing_iv_fraction = missing_iv_fraction

    # -- helpers -----------------------------------------------------------------------------
    def _model(self, symbol: str) -> _Model:
        symbol = canonical_symbol(symbol)
        if not _SYMBOL_RE.match(symbol):
            raise ProviderError(symbol, "not a valid ticker symbol")
        return _model(symbol)

    def _session_index(self, model: _Model, as_of: dt.date | None) -> int:
        day = calendar.market_date_for(as_of)
        if day < EPOCH:
            raise NoDataError(model.symbol, f"demo data starts {EPOCH.isoformat()}")
        return model.index_of(day)

    # -- interface ---------------------------------------------------------------------------
    def get_history(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Candles for sessions in [start, end] (clamped to EPOCH..last completed session)."""
        model = self._model(symbol)
        end = min(end, calendar.last_completed_session())
        lo = np.searchsorted(model.days, _day_number(max(start, EPOCH)))
        hi = np.searchsorted(model.days, _day_number(end), side="right")
        if hi <= lo:
            return empty_frame(HISTORY_COLUMNS)
        sl = slice(lo, hi)
        frame = pd.DataFrame(
            {
                "date": pd.to_datetime(model.days[sl], unit="D").date,
                "open": model.open[sl],
                "high": model.high[sl],
                "low": model.low[sl],
                "close": model.close[sl],
                "adj_close": model.close[sl],
                "volume": model.volume[sl],
                "dividends": 0.0,
                "splits": 0.0,
                "vwap": np.round((model.high[sl] + model.low[sl] + 2 * model.close[sl]) / 4, 4),
                "trade_count": np.round(model.volume[sl] / 140.0),
            }
        )
        return frame.loc[:, list(HISTORY_COLUMNS)]

    def get_quote(self, symbol: str, *, as_of: dt.date | None = None) -> float:
        """Close of the market date for ``as_of``."""
        model = self._model(symbol)
        return float(model.close[self._session_index(model, as_of)])

    def list_option_expiries(self, symbol: str, *, as_of: dt.date | None = None) -> list[dt.date]:
        model = self._model(symbol)
        i = self._session_index(model, as_of)
        return [_to_date(e.day) for e in _expiries(model, i)]

    def get_option_chain(
        self, symbol: str, expiry: dt.date, *, as_of: dt.date | None = None
    ) -> pd.DataFrame:
        model = self._model(symbol)
        i = self._session_index(model, as_of)
        wanted = [e for e in _expiries(model, i) if e.day == _day_number(expiry)]
        if not wanted:
            return empty_frame(CHAIN_COLUMNS)
        return self._chains(i, [model], wanted)[0]

    def get_chain_snapshot(self, symbol: str, *, as_of: dt.date | None = None) -> ChainSnapshot:
        """All expiries generated in one vectorised block (no per-expiry provider calls)."""
        return self._snapshot(self._model(symbol), as_of)

    def get_chain_snapshots(
        self, symbols: list[str], *, as_of: dt.date | None = None
    ) -> dict[str, ChainSnapshot | Exception]:
        """Many symbols' chains generated in one vectorised pass (the same rows as one by one).

        A subclass (or a patch) that replaces :meth:`get_chain_snapshot` is asked symbol by
        symbol instead, so its chains are the ones served.
        """
        if type(self).get_chain_snapshot is not _DEMO_CHAIN_SNAPSHOT:
            return super().get_chain_snapshots(symbols, as_of=as_of)
        out: dict[str, ChainSnapshot | Exception] = {}
        _models([s for s in map(canonical_symbol, symbols) if _SYMBOL_RE.match(s)])
        picked: dict[int, list[tuple[str, _Model]]] = {}
        for symbol in symbols:
            try:
                model = self._model(symbol)
                picked.setdefault(self._session_index(model, as_of), []).append((symbol, model))
            except Exception as exc:  # handed back to the job, which records it for the symbol
                out[symbol] = exc
        for i, group in picked.items():
            expiries = _expiries(group[0][1], i)
            chains = self._chains(i, [model for _, model in group], expiries)
            for (symbol, model), chain in zip(group, chains, strict=True):
                out[symbol] = ChainSnapshot(
                    model.symbol, _to_date(model.days[i]), float(model.close[i]), chain, self.name
                )
        return {symbol: out[symbol] for symbol in symbols}

    def _snapshot(self, model: _Model, as_of: dt.date | None) -> ChainSnapshot:
        i = self._session_index(model, as_of)
        chain = self._chains(i, [model], _expiries(model, i))[0]
        return ChainSnapshot(
            model.symbol, _to_date(model.days[i]), float(model.close[i]), chain, self.name
        )

    def next_earnings(self, symbol: str, *, as_of: dt.date | None = None) -> dt.date | None:
        """The next quarterly earnings session strictly after the market date (None for ETFs)."""
        model = self._model(symbol)
        day = model.days[self._session_index(model, as_of)]
        pos = int(np.searchsorted(model.earnings, day, side="right"))
        return _to_date(model.earnings[pos]) if pos < len(model.earnings) else None

    def get_option_bars(
        self, contract_symbols: list[str], start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """Daily bars (sessions with trades only) derived from the same model as the chains,
        every root's contracts and sessions in one vectorised pass, ordered by contract and date."""
        parsed = parse_osi_series(pd.Series(list(contract_symbols), dtype=object))
        parsed["contract_symbol"] = list(contract_symbols)
        parsed = parsed.dropna(subset=["root", "expiry"])
        end = min(end, calendar.last_completed_session())
        frames = [
            self._bars_for_root(root, grp, start, end) for root, grp in parsed.groupby("root")
        ]
        frames = [f for f in frames if len(f)]
        if not frames:
            return empty_frame(BAR_COLUMNS)
        out = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        order = np.lexsort((out["date"].to_numpy(), out["contract_symbol"].to_numpy()))
        return out.take(order).reset_index(drop=True)

    # -- chain construction ------------------------------------------------------------------
    def _chains(self, i: int, models: list[_Model], expiries: list[_Expiry]) -> list[pd.DataFrame]:
        """The chains of session i of every model (each listing ``expiries``, in date order), one
        block of rows: model by model, every listed (expiry, strike) in order as a call, then a
        put (the grid comes ordered, so the rows need no sort)."""
        pair, grid_strike, grid_birth = _strike_grids(models, expiries, i)
        take = np.repeat(np.arange(len(pair)), 2)
        pair, strike, birth = pair[take], grid_strike[take], grid_birth[take]
        call = np.tile([True, False], len(take) // 2)
        per_model = max(len(expiries), 1)
        exp_day = np.array([e.day for e in expiries], dtype=np.int64)[pair % per_model]
        sizes = np.bincount(pair // per_model, minlength=len(models)).tolist()
        rm = _stack(
            [_row_model(model, np.full(size, i)) for model, size in zip(models, sizes, strict=True)]
        )
        m = _rows(rm, exp_day, strike, call, birth)
        item = np.repeat(np.arange(len(models)), sizes)
        roots = np.array([_root(model.symbol) for model in models], dtype=object)
        frame = self._chain_frame(i, rm, roots, item, exp_day, strike, call, m)
        stops = np.cumsum(sizes)
        if len(models) == 1:
            return [frame]
        return [
            frame.iloc[stop - size : stop].reset_index(drop=True)
            for stop, size in zip(stops.tolist(), sizes, strict=True)
        ]

    def _chain_frame(self, i, rm, roots, item, exp_day, strike, call, m) -> pd.DataFrame:
        """The rows as a chain frame, in the order they come: (symbol, expiry, strike, call
        before put), as :meth:`_chains` builds them."""
        bid, ask = _quotes(m["theo"], rm, m["dkeys"])
        last, last_at = _last_trades(i, m, bid, ask)
        iv = np.round(m["iv"] * (1 + 0.01 * _normal(m["dkeys"], 6)), 4)
        iv = np.where(_uniform(m["ckeys"], 7) < self.missing_iv_fraction, np.nan, iv)
        expiry = pd.to_datetime(exp_day, unit="D")
        otype = text_series(pc.if_else(pa.array(call), "call", "put"))
        root = roots[0] if len(roots) == 1 else pd.Series(roots[item])
        frame = pd.DataFrame(
            {
                "contract_symbol": format_osi_series(
                    root, pd.Series(expiry), otype, pd.Series(strike)
                ),
                "option_type": otype,
                "expiry": _to_dates(exp_day),
                "strike": strike,
                "bid": bid,
                "ask": ask,
                "last": last,
                "last_trade_at": last_at,
                "volume": m["volume"],
                "open_interest": m["oi"],
                "implied_vol": iv,
            },
            copy=False,  # every column is a new array
        )
        return frame

    # -- option bars -------------------------------------------------------------------------
    def _bars_for_root(
        self, root: str, grp: pd.DataFrame, start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """One root's contracts over sessions start..end: (contract, session) rows of every
        expiry gathered first, then priced by the model in one pass."""
        model = self._model(root)
        lo = int(np.searchsorted(model.days, _day_number(max(start, EPOCH))))
        hi = int(np.searchsorted(model.days, _day_number(end), side="right"))
        names, calls = grp["contract_symbol"].to_numpy(), grp["option_type"].to_numpy() == "call"
        strikes = grp["strike"].to_numpy(float)
        parts = []
        for expiry, positions in grp.groupby("expiry").indices.items():
            part = self._bar_rows(model, expiry, strikes[positions], lo, hi)
            if part is not None:
                parts.append((positions[part[0]], part[1], part[2], part[3]))
        if not parts:
            return empty_frame(BAR_COLUMNS)
        row, idx, exp_day, birth = (np.concatenate([p[j] for p in parts]) for j in range(4))
        rm = _row_model(model, idx)
        m = _rows(rm, exp_day, strikes[row], calls[row], birth)
        return _bar_frame(model, names[row], idx, strikes[row], calls[row], m)

    def _bar_rows(
        self, model: _Model, expiry: dt.date, strikes: np.ndarray, lo: int, hi: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """(contract position, session index, expiry day, birth) of one expiry's live rows;
        None when the date is not an expiry session of this market."""
        exp = _make_expiry(model, expiry, calendar.is_monthly_expiry(expiry))
        if exp.index >= len(model.days) or model.days[exp.index] != exp.day:
            return None
        last_i = min(exp.index - 1, len(model.days) - 1)
        births = _births(_bands([model], [exp], last_i), np.zeros(len(strikes), np.int64), strikes)
        sessions = np.arange(lo, min(hi, exp.index))
        nc, ns = len(strikes), len(sessions)
        ci, idx = np.repeat(np.arange(nc), ns), np.tile(sessions, nc)
        alive = idx >= births[ci]
        ci, idx = ci[alive], idx[alive]
        return ci, idx, np.full(len(idx), exp.day, dtype=np.int64), births[ci]


_DEMO_CHAIN_SNAPSHOT = DemoProvider.get_chain_snapshot


def _bar_frame(model: _Model, symbols, idx, strike, call, m) -> pd.DataFrame:
    """OHLC from the model price at the underlying's open and close, plus hashed range; only
    the rows that traded."""
    traded = m["volume"] > 0
    opn = bs_price(model.open[idx], strike, m["t"] + 0.6 / 365, m["iv"], 0.0, call)
    close = m["theo"]
    spread = 0.5 + np.abs(_normal(m["dkeys"], 8))
    high = np.maximum(opn, close) * (1 + 0.04 * spread)
    low = np.minimum(opn, close) * (1 - 0.04 * spread)
    vwap = np.round(low + (high - low) * (0.3 + 0.4 * _uniform(m["dkeys"], 9)), 4)
    trades = np.ceil(m["volume"] / (3 + 12 * _uniform(m["dkeys"], 10)))
    columns = {
        "contract_symbol": symbols,
        "date": model.days[idx].astype("datetime64[D]").astype(object),
        "open": _cents(opn),
        "high": _cents(high),
        "low": _cents(low),
        "close": _cents(close),
        "volume": m["volume"],
        "vwap": vwap,
        "trade_count": trades,
    }
    return pd.DataFrame({name: np.asarray(columns[name])[traded] for name in BAR_COLUMNS})


def _cents(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(x, 2), 0.01)


def _root(symbol: str) -> str:
    """The OSI root of a demo symbol (punctuation dropped, at most six characters)."""
    return symbol.replace(".", "").replace("-", "")[:6]


def _last_trades(i: int, m, bid, ask) -> tuple[np.ndarray, Any]:
    """Last price/time: today for traded contracts, a stale earlier print, or none at all."""
    days = _session_days()
    close_at = pd.Timestamp(calendar.session_close(_to_date(days[i])))
    traded = m["volume"] > 0
    u = _uniform(m["dkeys"], 11)
    fresh = np.clip(np.round(m["theo"] * (1 + 0.04 * (u - 0.5)), 2), bid, np.maximum(ask, bid))
    stale = np.round(m["theo"] * (1 + 0.3 * (u - 0.5)), 2)
    never = ~traded & (m["oi"] <= 0)
    last = np.where(traded, fresh, np.where(never, np.nan, np.maximum(stale, 0.01)))
    # Stale prints are stamped 1..8 *sessions* back (at that session's close, so never on a
    # weekend or holiday); today's prints fall within today's session.
    back = np.minimum(np.floor(1 + u * 8).astype(np.int64), i)
    ks = np.unique(back)
    closes = pd.DatetimeIndex(
        [pd.Timestamp(calendar.session_close(_to_date(days[i - k]))) for k in ks.tolist()]
    )
    stale_at = closes[np.searchsorted(ks, back)]
    fresh_at = close_at - pd.to_timedelta(np.floor(u * 390), unit="m")
    stamps = pd.Series(fresh_at).where(traded, pd.Series(stale_at)).mask(never)
    return np.maximum(last, 0.01, where=~np.isnan(last), out=last.copy()), stamps.array


def _to_date(day_number) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day_number))


def _to_dates(day_numbers: np.ndarray) -> np.ndarray:
    """Python dates of many day numbers (a chain has a few distinct expiries: one object each)."""
    distinct, position = np.unique(day_numbers, return_inverse=True)
    return np.array([_to_date(d) for d in distinct.tolist()], dtype=object)[position]
