"""One-snapshot chain metrics (SPEC §6.5): put/call ratios, walls, max pain, gamma peak, ATM IV,
expected move, skew and term slope, plus small frames for charts.

Input is an *enriched* chain (see :func:`apps.core.greeks.enrich_chain`). Outputs are
JSON-safe: unknown values are ``None``, never NaN.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from apps.core import calendar
from apps.core.values import clean, clean_dict, date_series, to_date

NEAR_MIN_DAYS = 7
NEXT_MIN_GAP_DAYS = 21
TARGET_DELTA = 0.25
_REQUIRED = (
    "option_type",
    "expiry",
    "strike",
    "open_interest",
    "volume",
    "mark",
    "implied_vol",
    "bs_delta",
    "bs_gamma",
)


def _prep(chain: pd.DataFrame, as_of: dt.date | None = None) -> pd.DataFrame:
    """Normalised working copy: date expiries, numeric columns, is_call flag, days to expiry."""
    missing = [c for c in _REQUIRED if c not in chain.columns]
    if missing:
        raise ValueError(f"chain is missing columns {missing}; enrich it with enrich_chain first")
    out = chain.copy()
    out["expiry"] = date_series(out["expiry"])
    for col in ("strike", "open_interest", "volume", "mark", "implied_vol", "bs_delta", "bs_gamma"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    out["is_call"] = out["option_type"].astype(str).str.lower().str.startswith("c")
    if as_of is not None:
        base = pd.Timestamp(to_date(as_of))
        out["days"] = (pd.to_datetime(out["expiry"]) - base).dt.days
    return out


def _is_monthly(day: dt.date) -> bool:
    """Standard monthly expiry, also accepting a vendor Saturday whose Friday is a holiday."""
    if calendar.is_monthly_expiry(day):
        return True
    friday = day - dt.timedelta(days=1)
    return (
        day.weekday() == 5
        and calendar.monthly_expiry(day.year, day.month) < friday
        and (friday.day in range(15, 22))
    )


def _argmax_strike(values: pd.Series) -> float | None:
    """Strike (index) of the largest positive value; ties go to the lower strike."""
    values = values[values > 0].sort_index()
    return None if values.empty else float(values.idxmax())


def _walls(df: pd.DataFrame, spot: float) -> dict[str, float | None]:
    calls = df[df["is_call"] & (df["strike"] >= spot)]
    puts = df[~df["is_call"] & (df["strike"] <= spot)]
    return {
        "call_wall": _argmax_strike(calls.groupby("strike")["open_interest"].sum()),
        "put_wall": _argmax_strike(puts.groupby("strike")["open_interest"].sum()),
    }


def max_pain_expiry(expiries: list[dt.date], as_of: dt.date) -> dt.date | None:
    """Nearest monthly expiry on/after ``as_of``; without one, the nearest expiry on/after it."""
    ahead = sorted({e for e in expiries if e is not None and e >= as_of})
    monthly = [e for e in ahead if _is_monthly(e)]
    if monthly:
        return monthly[0]
    return ahead[0] if ahead else None


def max_pain(chain: pd.DataFrame, expiry: dt.date) -> float | None:
    """Strike minimising the intrinsic value paid to holders at ``expiry`` (ties: lower strike)."""
    df = _prep(chain)
    df = df[(df["expiry"] == to_date(expiry)) & df["strike"].notna()]
    oi = df["open_interest"].fillna(0.0).to_numpy()
    if df.empty or oi.sum() <= 0:
        return None
    candidates = np.sort(df["strike"].unique())
    strikes, is_call = df["strike"].to_numpy(), df["is_call"].to_numpy()
    diff = candidates[:, None] - strikes[None, :]
    payoff = np.where(is_call[None, :], np.maximum(diff, 0.0), np.maximum(-diff, 0.0))
    pain = payoff @ oi
    best = np.flatnonzero(pain <= pain.min() + 1e-9 * max(1.0, abs(pain.min())))[0]
    return float(candidates[best])


def _gamma_peak(df: pd.DataFrame, spot: float) -> float | None:
    exposure = df["bs_gamma"] * df["open_interest"] * 100.0 * spot**2 * 0.01
    return _argmax_strike(exposure.groupby(df["strike"]).sum(min_count=1).fillna(0.0))


def _atm(df: pd.DataFrame, expiry: dt.date, spot: float) -> dict[str, Any] | None:
    """ATM strike of one expiry: nearest spot with both a call and a put mark (ties: lower)."""
    rows = df[(df["expiry"] == expiry) & df["mark"].notna()]
    if rows.empty:
        return None
    sides = rows.pivot_table(
        index="strike", columns="is_call", values=["mark", "implied_vol"], aggfunc="first"
    )
    if True not in sides["mark"].columns or False not in sides["mark"].columns:
        return None
    both = sides[sides["mark"][True].notna() & sides["mark"][False].notna()]
    if both.empty:
        return None
    strikes = both.index.to_numpy(dtype=float)
    pick = strikes[np.argmin(np.abs(strikes - spot))]  # sorted: ties go to the lower strike
    row = both.loc[pick]
    # a side whose IVs are all missing has no implied_vol column at all (pivot_table drops it)
    ivs = np.array(
        [row.get(("implied_vol", True), np.nan), row.get(("implied_vol", False), np.nan)],
        dtype=float,
    )
    straddle = float(row[("mark", True)] + row[("mark", False)])
    return {
        "strike": float(pick),
        "iv": float(np.nanmean(ivs)) if np.isfinite(ivs).any() else None,
        "straddle": straddle,
    }


def _skew(df: pd.DataFrame, expiry: dt.date) -> float | None:
    rows = df[(df["expiry"] == expiry) & df["bs_delta"].notna() & df["implied_vol"].notna()]
    puts, calls = rows[~rows["is_call"]], rows[rows["is_call"]]
    if puts.empty or calls.empty:
        return None
    put = puts.loc[(puts["bs_delta"] + TARGET_DELTA).abs().idxmin()]
    call = calls.loc[(calls["bs_delta"] - TARGET_DELTA).abs().idxmin()]
    return float((put["implied_vol"] - call["implied_vol"]) * 100.0)


def _first_atm(df: pd.DataFrame, expiries: list[dt.date], spot: float):
    """First expiry (in order) with a usable ATM pair, and that ATM record."""
    for expiry in expiries:
        atm = _atm(df, expiry, spot)
        if atm is not None:
            return expiry, atm
    return None, None


def _near_metrics(df: pd.DataFrame, spot: float, as_of: dt.date) -> dict[str, Any]:
    by_days = df.dropna(subset=["days"]).groupby("expiry")["days"].first().sort_index()
    near_list = list(by_days[by_days >= NEAR_MIN_DAYS].index)
    near, atm = _first_atm(df, near_list, spot)
    out: dict[str, Any] = {
        "near_expiry": near,
        "atm_strike_near": None,
        "atm_iv_near": None,
        "em_near_pct": None,
        "skew_near_pp": None,
        "iv_term_slope": None,
        "next_expiry": None,
    }
    if near is None:
        return out
    out.update(
        atm_strike_near=atm["strike"],
        atm_iv_near=atm["iv"],
        em_near_pct=atm["straddle"] / spot,
        skew_near_pp=_skew(df, near),
    )
    later = [e for e in by_days.index if e >= near + dt.timedelta(days=NEXT_MIN_GAP_DAYS)]
    nxt, next_atm = _first_atm(df, later, spot)
    if nxt is not None:
        out["next_expiry"] = nxt
        if next_atm["iv"] is not None and atm["iv"] is not None:
            out["iv_term_slope"] = next_atm["iv"] - atm["iv"]
    return out


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def _totals(df: pd.DataFrame) -> dict[str, Any]:
    calls, puts = df[df["is_call"]], df[~df["is_call"]]
    totals = {
        "contracts": len(df),
        "total_call_oi": float(calls["open_interest"].sum()),
        "total_put_oi": float(puts["open_interest"].sum()),
        "total_call_volume": float(calls["volume"].sum()),
        "total_put_volume": float(puts["volume"].sum()),
    }
    totals["pc_oi"] = _ratio(totals["total_put_oi"], totals["total_call_oi"])
    totals["pc_vol"] = _ratio(totals["total_put_volume"], totals["total_call_volume"])
    return totals


def summarize_chain(chain: pd.DataFrame, *, spot: float, as_of: dt.date) -> dict[str, Any]:
    """All §6.5 chain metrics for one snapshot, JSON-safe (None where unknown).

    Keys: spot, contracts, total_call_oi, total_put_oi, total_call_volume, total_put_volume, pc_oi,
    pc_vol, call_wall, put_wall, max_pain, max_pain_expiry, gamma_peak_strike, near_expiry,
    atm_strike_near, atm_iv_near, em_near_pct (fraction of spot), skew_near_pp, iv_term_slope,
    next_expiry.
    """
    as_of = to_date(as_of)
    df = _prep(chain, as_of)
    out = {"spot": clean(spot), **_totals(df)}
    mp_expiry = max_pain_expiry(list(df["expiry"].dropna().unique()), as_of)
    out["max_pain_expiry"] = mp_expiry
    out["max_pain"] = max_pain(df, mp_expiry) if mp_expiry is not None else None
    out.update(dict.fromkeys(_SPOT_KEYS))
    if _usable_spot(spot):  # spot-relative metrics are unknown for a bad stored spot
        out.update(_walls(df, spot))
        out["gamma_peak_strike"] = _gamma_peak(df, spot)
        out.update(_near_metrics(df, spot, as_of))
    return clean_dict(out)


# Every key of a chain summary, in order; the last ten are the spot-relative ones.
SUMMARY_KEYS = (
    "spot",
    "contracts",
    "total_call_oi",
    "total_put_oi",
    "total_call_volume",
    "total_put_volume",
    "pc_oi",
    "pc_vol",
    "max_pain_expiry",
    "max_pain",
    "call_wall",
    "put_wall",
    "gamma_peak_strike",
    "near_expiry",
    "atm_strike_near",
    "atm_iv_near",
    "em_near_pct",
    "skew_near_pp",
    "iv_term_slope",
    "next_expiry",
)
_SPOT_KEYS = SUMMARY_KEYS[-10:]


def _usable_spot(spot: object) -> bool:
    try:
        value = float(spot)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(value) and value > 0)


def oi_by_strike(chain: pd.DataFrame, expiry: dt.date | None = None) -> pd.DataFrame:
    """Call/put OI and volume per strike (one expiry, or all): columns strike, call_oi, put_oi,
    call_volume, put_volume, net_oi (call − put)."""
    df = _prep(chain)
    if expiry is not None:
        df = df[df["expiry"] == to_date(expiry)]
    df = df.assign(side=np.where(df["is_call"], "call", "put"))
    table = df.pivot_table(
        index="strike",
        columns="side",
        values=["open_interest", "volume"],
        aggfunc="sum",
        fill_value=0.0,
    )
    out = pd.DataFrame(index=table.index)
    for side in ("call", "put"):
        out[f"{side}_oi"] = table.get(("open_interest", side), 0.0)
        out[f"{side}_volume"] = table.get(("volume", side), 0.0)
    out["net_oi"] = out["call_oi"] - out["put_oi"]
    return out.sort_index().reset_index()[
        ["strike", "call_oi", "put_oi", "call_volume", "put_volume", "net_oi"]
    ]


def iv_smile(chain: pd.DataFrame, expiry: dt.date) -> pd.DataFrame:
    """IV, delta and mark by strike for one expiry: strike, call_iv, put_iv, call_delta,
    put_delta, call_mark, put_mark."""
    df = _prep(chain)
    df = df[df["expiry"] == to_date(expiry)].assign(
        side=lambda d: np.where(d["is_call"], "call", "put")
    )
    cols = {"implied_vol": "iv", "bs_delta": "delta", "mark": "mark"}
    table = df.pivot_table(
        index="strike", columns="side", values=list(cols), aggfunc="first", dropna=False
    )
    out = pd.DataFrame(index=table.index.astype(float))
    for side in ("call", "put"):
        for src, name in cols.items():
            out[f"{side}_{name}"] = table.get((src, side), np.nan)
    order = [f"{s}_{n}" for n in ("iv", "delta", "mark") for s in ("call", "put")]
    return out.sort_index().reset_index().rename(columns={"index": "strike"})[["strike", *order]]


def term_structure(chain: pd.DataFrame, *, spot: float, as_of: dt.date) -> pd.DataFrame:
    """ATM IV and straddle per live expiry: expiry, days, atm_strike, atm_iv, straddle, em_pct."""
    df = _prep(chain, to_date(as_of))
    rows = []
    for expiry, days in df.groupby("expiry")["days"].first().sort_index().items():
        if days <= 0:
            continue
        atm = _atm(df, expiry, spot) if _usable_spot(spot) else None
        rows.append(
            {
                "expiry": expiry,
                "days": int(days),
                "atm_strike": atm["strike"] if atm else np.nan,
                "atm_iv": clean(atm["iv"]) if atm else np.nan,
                "straddle": atm["straddle"] if atm else np.nan,
                "em_pct": atm["straddle"] / spot if atm and _usable_spot(spot) else np.nan,
            }
        )
    cols = ["expiry", "days", "atm_strike", "atm_iv", "straddle", "em_pct"]
    return pd.DataFrame(rows, columns=cols).astype({"atm_iv": float})
