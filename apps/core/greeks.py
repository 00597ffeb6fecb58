"""Vectorised Black–Scholes pricing, greeks, implied vol and the chain mark (SPEC §6.3).

European model with a continuous dividend yield ``q``; ``t`` is in years (calendar days / 365).
Every function takes scalars or arrays and broadcasts, so a whole chain is priced in one call.
Greeks use theta per calendar day (annual / 365) and vega per 1.00 of volatility.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import ndtr

from apps.core.values import clean_dict, date_number, date_series, day_numbers, text_series

IV_SOURCES = ("provider", "solved", "missing")  # where a stored implied_vol came from

ArrayLike = Any
IV_LOW, IV_HIGH, IV_TOL = 1e-4, 5.0, 1e-10
PROVIDER_IV_FLOOR = 1e-4
_SQRT_2PI = np.sqrt(2.0 * np.pi)


def _pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / _SQRT_2PI


def _inputs(*arrays: ArrayLike) -> list[np.ndarray]:
    return list(np.broadcast_arrays(*[np.asarray(a, dtype=float) for a in arrays]))


def _d1_d2(s, k, t, vol, r, q) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """d1, d2 and a mask of rows where the model is defined (t>0, vol>0, prices>0)."""
    ok = (t > 0) & (vol > 0) & (s > 0) & (k > 0)
    t_ok = np.where(ok, t, 1.0)
    vol_ok = np.where(ok, vol, 1.0)
    sqrt_t = np.sqrt(t_ok)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (np.log(s / k) + (r - q + 0.5 * vol_ok**2) * t_ok) / (vol_ok * sqrt_t)
    return d1, d1 - vol_ok * sqrt_t, ok


def _tails(d1: np.ndarray, d2: np.ndarray) -> tuple[np.ndarray, ...]:
    """N(d1), N(d2), N(-d1), N(-d2)."""
    return ndtr(d1), ndtr(d2), ndtr(-d1), ndtr(-d2)


def _price(s, k, t, r, q, call, ok, tails) -> np.ndarray:
    n_d1, n_d2, n_md1, n_md2 = tails
    disc_s, disc_k = s * np.exp(-q * t), k * np.exp(-r * t)
    call_px = disc_s * n_d1 - disc_k * n_d2
    put_px = disc_k * n_md2 - disc_s * n_md1
    return np.where(ok, np.where(call, call_px, put_px), np.nan)


def _greeks(s, k, t, vol, r, q, call, d1, ok, tails) -> dict[str, np.ndarray]:
    n_d1, n_d2, n_md1, n_md2 = tails
    t_ok = np.where(ok, t, 1.0)
    vol_ok = np.where(ok, vol, 1.0)
    sqrt_t = np.sqrt(t_ok)
    eq, er = np.exp(-q * t_ok), np.exp(-r * t_ok)
    pdf = _pdf(d1)
    delta = np.where(call, eq * n_d1, -eq * n_md1)
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = eq * pdf / (s * vol_ok * sqrt_t)
    vega = s * eq * pdf * sqrt_t
    decay = -s * eq * pdf * vol_ok / (2.0 * sqrt_t)
    theta_call = decay - r * k * er * n_d2 + q * s * eq * n_d1
    theta_put = decay + r * k * er * n_md2 - q * s * eq * n_md1
    theta = np.where(call, theta_call, theta_put) / 365.0
    nan = np.nan
    return {
        "delta": np.where(ok, delta, nan),
        "gamma": np.where(ok, gamma, nan),
        "theta_per_day": np.where(ok, theta, nan),
        "vega": np.where(ok, vega, nan),
    }


def bs_price(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    vol: ArrayLike,
    r: ArrayLike = 0.0,
    is_call: ArrayLike = True,
    q: ArrayLike = 0.0,
) -> np.ndarray:
    """Black–Scholes–Merton price; NaN where t<=0, vol<=0 or an input is missing."""
    s, k, t, vol, r, q = _inputs(spot, strike, t, vol, r, q)
    call = np.broadcast_to(np.asarray(is_call, dtype=bool), s.shape)
    d1, d2, ok = _d1_d2(s, k, t, vol, r, q)
    return _price(s, k, t, r, q, call, ok, _tails(d1, d2))


def bs_greeks(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    vol: ArrayLike,
    r: ArrayLike = 0.0,
    is_call: ArrayLike = True,
    q: ArrayLike = 0.0,
) -> dict[str, np.ndarray]:
    """delta, gamma, theta_per_day (annual/365) and vega (per 1.00 vol); NaN where undefined."""
    return bs_valuation(spot, strike, t, vol, r, is_call, q, with_price=False)


def bs_valuation(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    vol: ArrayLike,
    r: ArrayLike = 0.0,
    is_call: ArrayLike = True,
    q: ArrayLike = 0.0,
    *,
    with_price: bool = True,
) -> dict[str, np.ndarray]:
    """:func:`bs_greeks` and (as ``price``) :func:`bs_price`, from one d1/d2: what a chain stores."""
    s, k, t, vol, r, q = _inputs(spot, strike, t, vol, r, q)
    call = np.broadcast_to(np.asarray(is_call, dtype=bool), s.shape)
    d1, d2, ok = _d1_d2(s, k, t, vol, r, q)
    tails = _tails(d1, d2)
    out = {"price": _price(s, k, t, r, q, call, ok, tails)} if with_price else {}
    return out | _greeks(s, k, t, vol, r, q, call, d1, ok, tails)


def _arbitrage_bounds(s, k, t, r, q, call) -> tuple[np.ndarray, np.ndarray]:
    disc_s, disc_k = s * np.exp(-q * t), k * np.exp(-r * t)
    lower = np.where(call, np.maximum(disc_s - disc_k, 0.0), np.maximum(disc_k - disc_s, 0.0))
    upper = np.where(call, disc_s, disc_k)
    return lower, upper


def implied_vol(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    is_call: ArrayLike,
    q: ArrayLike = 0.0,
) -> np.ndarray:
    """Implied vol by vectorised bisection on [1e-4, 5.0] to 1e-10.

    Bisection is slow-but-certain: the price is monotone in vol, so a bracket never fails and
    every contract converges in the same ~36 halvings. NaN when the price sits outside the
    no-arbitrage bounds (or outside the prices the bracket can reach), or inputs are missing.
    """
    p, s, k, t, r, q = _inputs(price, spot, strike, t, r, q)
    call = np.broadcast_to(np.asarray(is_call, dtype=bool), p.shape)
    lower, upper = _arbitrage_bounds(s, k, t, r, q, call)
    lo = np.full(p.shape, IV_LOW)
    hi = np.full(p.shape, IV_HIGH)
    p_lo = bs_price(s, k, t, lo, r, call, q)
    p_hi = bs_price(s, k, t, hi, r, call, q)
    valid = (p > lower) & (p < upper) & (p >= p_lo) & (p <= p_hi) & (t > 0)
    while np.any(hi - lo > IV_TOL):
        mid = 0.5 * (lo + hi)
        above = bs_price(s, k, t, mid, r, call, q) > p
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return np.where(valid, 0.5 * (lo + hi), np.nan)


MARK_SOURCES = ("mid", "last", "ask", "bid", "missing")  # compute_mark's sources, in rule order
_MID, _LAST = MARK_SOURCES.index("mid"), MARK_SOURCES.index("last")


def _mark_codes(bid: ArrayLike, ask: ArrayLike, last: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The mark and the position of its source in MARK_SOURCES (the first rule that applies)."""
    b, a, lst = (np.asarray(x, dtype=float) for x in (bid, ask, last))
    b, a, lst = np.broadcast_arrays(b, a, lst)
    conditions = [(b > 0) & (a > 0), lst > 0, a > 0, b > 0]
    mark = np.select(conditions, [(b + a) / 2.0, lst, a, b], default=np.nan)
    return mark, np.select(conditions, [0, 1, 2, 3], default=4).astype(np.int8)


def compute_mark(
    bid: ArrayLike, ask: ArrayLike, last: ArrayLike, volume: ArrayLike
) -> tuple[pd.Series, pd.Series]:
    """The mark and where it came from ('mid'|'last'|'ask'|'bid'|'missing'), SPEC §6.3.

    Returned as Series on the index of ``bid`` (when it is a Series) so it lines up with a chain.
    ``volume`` is accepted so callers have one place deciding IV eligibility (see
    :func:`iv_solvable`); the mark itself does not depend on it.
    """
    index = bid.index if isinstance(bid, pd.Series) else None
    mark, code = _mark_codes(bid, ask, last)
    source = np.array(MARK_SOURCES, dtype=object)[code]
    return pd.Series(mark, index=index, name="mark"), pd.Series(
        source, index=index, name="mark_source"
    )


def iv_solvable(mark_code: np.ndarray, volume: ArrayLike) -> np.ndarray:
    """True where an IV may be solved from the mark: a mid, or a last that actually traded
    (``mark_code``: the mark's source as its position in MARK_SOURCES)."""
    return (mark_code == _MID) | ((mark_code == _LAST) & (np.asarray(volume, dtype=float) > 0))


def years_to_expiry(
    expiry: pd.Series | np.ndarray, as_of: dt.date | pd.Series | np.ndarray
) -> np.ndarray:
    """Calendar days from ``as_of`` (one date, or one per row) to each expiry, / 365 (negative
    once expired)."""
    start = day_numbers(as_of) if isinstance(as_of, pd.Series | np.ndarray) else date_number(as_of)
    return (day_numbers(expiry) - start) / 365.0


def _column(chain: pd.DataFrame, name: str) -> np.ndarray:
    if name not in chain.columns:
        return np.full(len(chain), np.nan)
    return pd.to_numeric(chain[name], errors="coerce").to_numpy(dtype=float)


def enrich_chain(
    chain: pd.DataFrame,
    *,
    spot: float | ArrayLike,
    as_of: dt.date | pd.Series | np.ndarray,
    risk_free_rate: float = 0.0,
    dividend_yield: float = 0.0,
) -> pd.DataFrame:
    """Add mark, cleaned implied_vol, iv_source and bs_* greeks to a standard chain frame.

    Provider IV <= 1e-4 is treated as missing; missing IVs are solved from eligible marks.
    Greeks always come from the final IV so stored greeks and IVs are consistent. ``spot`` and
    ``as_of`` may be one value or one per row (many symbol-days enriched in one pass).
    ``expiry`` is returned as python dates.
    """
    out = chain.copy()
    out["expiry"] = date_series(out["expiry"])
    s = np.broadcast_to(np.asarray(spot, dtype=float), (len(out),))
    k, volume = _column(out, "strike"), _column(out, "volume")
    t = years_to_expiry(out["expiry"], as_of)
    is_call = out["option_type"].astype(str).str.lower().str.startswith("c").to_numpy()
    mark, mark_code = _mark_codes(_column(out, "bid"), _column(out, "ask"), _column(out, "last"))
    provider_iv = _column(out, "implied_vol")
    provider_iv = np.where(provider_iv > PROVIDER_IV_FLOOR, provider_iv, np.nan)
    need = np.isnan(provider_iv) & iv_solvable(mark_code, volume) & (t > 0)
    solved = np.full(len(out), np.nan)
    if need.any():
        solved[need] = implied_vol(
            mark[need],
            s[need],
            k[need],
            t[need],
            risk_free_rate,
            is_call[need],
            dividend_yield,
        )
    iv = np.where(np.isnan(provider_iv), solved, provider_iv)
    out["mark"] = mark
    out["implied_vol"] = iv
    source = np.select([~np.isnan(provider_iv), ~np.isnan(solved)], [0, 1], default=2)
    out["iv_source"] = text_series(pa.array(IV_SOURCES).take(pa.array(source)))
    valuation = bs_valuation(s, k, t, iv, risk_free_rate, is_call, dividend_yield)
    for name in ("price", "delta", "gamma", "theta_per_day", "vega"):
        out[f"bs_{name}"] = valuation[name]
    return out


def quote_quality(chain: pd.DataFrame) -> dict[str, float | int | None]:
    """Quote-quality summary for a snapshot header: JSON-safe (None, never NaN).

    missing_bid_ask_share: contracts without a two-sided quote (bid>0 and ask>0).
    median_spread_pct: median (ask-bid)/mid x 100 over two-sided quotes.
    missing_iv_share: contracts with no usable IV (iv_source 'missing' when enriched).
    """
    return quote_qualities(chain, [slice(0, len(chain))])[0]


def quote_qualities(chain: pd.DataFrame, parts: list[slice]) -> list[dict[str, float | int | None]]:
    """:func:`quote_quality` of each row range ``parts[i]`` of ``chain`` (many snapshots at once)."""
    bid, ask = _column(chain, "bid"), _column(chain, "ask")
    two_sided_all = (bid > 0) & (ask > 0)
    if "iv_source" in chain.columns:
        missing_all = (chain["iv_source"] == "missing").to_numpy()
    else:
        missing_all = ~(_column(chain, "implied_vol") > PROVIDER_IV_FLOOR)
    out = []
    for part in parts:
        two_sided, missing_iv = two_sided_all[part], missing_all[part]
        n = len(two_sided)
        b, a = bid[part][two_sided], ask[part][two_sided]
        spreads = (a - b) / ((a + b) / 2.0) * 100.0
        out.append(
            clean_dict(
                {
                    "contracts": int(n),
                    "missing_bid_ask_share": float((~two_sided).mean()) if n else None,
                    "median_spread_pct": float(np.median(spreads)) if spreads.size else None,
                    "missing_iv_share": float(missing_iv.mean()) if n else None,
                }
            )
        )
    return out
