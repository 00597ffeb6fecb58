"""Portfolio valuation, greeks and stress tests for option legs (SPEC §6.6).

A leg is one option line of a position (long or short, per-share cost basis, multiplier 100).
Marks come from that day's chain; greeks and stress values use Black–Scholes on the chain IV so
the current greeks and the scenario revaluations are consistent with each other.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from apps.core.greeks import (
    IV_LOW,
    bs_greeks,
    bs_price,
    enrich_chain,
    years_to_expiry,
)
from apps.core.values import clean, clean_dict, date_series, to_date

MULTIPLIER = 100.0
MATCH_KEYS = ["expiry", "option_type", "strike"]
CHAIN_FIELDS = ["bid", "ask", "mark", "implied_vol"]
SCENARIOS: list[tuple[str, float, float, int]] = [
    # name, spot shift (fraction), IV shift (vol points as a fraction), days forward
    ("spot -5%", -0.05, 0.0, 0),
    ("spot +5%", 0.05, 0.0, 0),
    ("iv -5 pts", 0.0, -0.05, 0),
    ("iv +5 pts", 0.0, 0.05, 0),
    ("+7 days", 0.0, 0.0, 7),
]


def _normalise_legs(legs: pd.DataFrame) -> pd.DataFrame:
    out = legs.copy()
    out["symbol"] = out["symbol"].astype(str).str.upper()
    out["side"] = out["side"].astype(str).str.lower()
    bad = sorted(set(out["side"]) - {"long", "short"})
    if bad:
        raise ValueError(f"side must be 'long' or 'short', got {bad}")
    out["option_type"] = out["option_type"].astype(str).str.lower()
    out["expiry"] = date_series(out["expiry"])
    out["strike"] = pd.to_numeric(out["strike"], errors="coerce").astype(float)
    out["contracts"] = pd.to_numeric(out["contracts"], errors="coerce").abs().astype(float)
    cost = out["cost_basis"] if "cost_basis" in out.columns else pd.Series(np.nan, out.index)
    out["cost_basis"] = pd.to_numeric(cost, errors="coerce").astype(float)
    out["sign"] = np.where(out["side"] == "long", 1.0, -1.0)
    return out


def _chain_quotes(chain: pd.DataFrame, spot: float, as_of: dt.date, r: float) -> pd.DataFrame:
    """Quotes keyed by (expiry, option_type, strike); enriches raw chains on the fly."""
    if "mark" not in chain.columns:
        chain = enrich_chain(chain, spot=spot, as_of=as_of, risk_free_rate=r)
    quotes = chain.assign(
        expiry=date_series(chain["expiry"]),
        option_type=chain["option_type"].astype(str).str.lower(),
        strike=pd.to_numeric(chain["strike"], errors="coerce").astype(float),
    )
    return quotes[MATCH_KEYS + CHAIN_FIELDS].drop_duplicates(MATCH_KEYS)


def _attach_quotes(
    legs: pd.DataFrame,
    chains: dict[str, pd.DataFrame],
    spots: dict[str, float],
    as_of: dt.date,
    r: float,
) -> pd.DataFrame:
    parts = []
    for symbol, group in legs.groupby("symbol", sort=False):
        chain = chains.get(symbol, chains.get(symbol.lower()))
        spot = float(spots.get(symbol, spots.get(symbol.lower(), np.nan)))
        if chain is None or chain.empty:
            parts.append(group.assign(spot=spot, matched=False))
            continue
        quotes = _chain_quotes(chain, spot, as_of, r).assign(matched=True)
        merged = group.merge(quotes, on=MATCH_KEYS, how="left")
        parts.append(merged.assign(spot=spot, matched=merged["matched"].eq(True)))
    out = pd.concat(parts, ignore_index=True) if parts else legs.assign(spot=np.nan, matched=False)
    for col in CHAIN_FIELDS:
        if col not in out.columns:
            out[col] = np.nan
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out


def value_legs(
    legs: pd.DataFrame,
    chains_by_symbol: dict[str, pd.DataFrame],
    spots: dict[str, float],
    as_of: dt.date,
    r: float = 0.0,
) -> pd.DataFrame:
    """Mark, P&L, spread and greeks per leg.

    Adds: spot, matched, bid, ask, mark, spread_pct, iv, t, sign, market_value, cost_value,
    pnl, pnl_pct, delta, gamma, theta_per_day, vega (per share, unsigned), and signed position
    greeks position_delta (shares), position_gamma, position_theta ($/day),
    position_vega ($ per vol point). Unmatched legs keep NaN marks and greeks.
    """
    as_of = to_date(as_of)
    out = _attach_quotes(_normalise_legs(legs), chains_by_symbol, spots, as_of, r)
    two_sided = (out["bid"] > 0) & (out["ask"] > 0)
    mid = (out["bid"] + out["ask"]) / 2.0
    out["spread_pct"] = ((out["ask"] - out["bid"]) / mid * 100.0).where(two_sided)
    out["iv"] = out["implied_vol"]
    out["t"] = years_to_expiry(out["expiry"], as_of)
    size = out["sign"] * out["contracts"] * MULTIPLIER
    out["market_value"] = out["mark"] * size
    out["cost_value"] = out["cost_basis"] * size
    out["pnl"] = out["market_value"] - out["cost_value"]
    out["pnl_pct"] = (out["pnl"] / out["cost_value"].abs() * 100.0).where(out["cost_value"] != 0)
    greeks = bs_greeks(
        out["spot"], out["strike"], out["t"], out["iv"], r, out["option_type"] == "call"
    )
    for name, values in greeks.items():
        out[name] = values
    out["position_delta"] = out["delta"] * size
    out["position_gamma"] = out["gamma"] * size
    out["position_theta"] = out["theta_per_day"] * size
    out["position_vega"] = out["vega"] * 0.01 * size
    return out.drop(columns=["implied_vol"])


def _total(values: pd.Series) -> float | None:
    return float(values.sum()) if values.notna().any() else None


def _per_underlying(valued: pd.DataFrame, column: str) -> dict[str, float | None]:
    return {
        str(symbol): _total(values)
        for symbol, values in valued.groupby("symbol", sort=True)[column]
    }


def portfolio_greeks(valued: pd.DataFrame) -> dict[str, Any]:
    """Portfolio greeks: delta in shares and gamma (shares per $1) of each underlying (a share
    of one stock is not a share of another, so those are never summed across underlyings), theta
    $/day and vega $ per vol point in total, plus market value, P&L and how many legs could not
    be priced (JSON-safe)."""
    return clean_dict(
        {
            "delta_shares_by_underlying": _per_underlying(valued, "position_delta"),
            "gamma_by_underlying": _per_underlying(valued, "position_gamma"),
            "theta_per_day": _total(valued["position_theta"]),
            "vega_per_vol_point": _total(valued["position_vega"]),
            "market_value": _total(valued["market_value"]),
            "pnl": _total(valued["pnl"]),
            "legs": int(len(valued)),
            "legs_without_greeks": int(valued["delta"].isna().sum()),
        }
    )


def _model_value(s, k, t, iv, r, is_call) -> np.ndarray:
    """Black–Scholes value, or intrinsic value once the scenario passes expiry."""
    intrinsic = np.where(is_call, np.maximum(s - k, 0.0), np.maximum(k - s, 0.0))
    return np.where(t > 0, bs_price(s, k, np.maximum(t, 1e-12), iv, r, is_call), intrinsic)


def stress_table(
    valued: pd.DataFrame, spots: dict[str, float], *, as_of: dt.date, r: float = 0.0
) -> pd.DataFrame:
    """Full Black–Scholes revaluation under spot ±5 %, IV ±5 points and +7 days.

    P&L is scenario model value minus current model value of the same legs, so mark/model
    differences do not leak into scenario P&L. Legs without IV or spot are left out and counted.
    Columns: scenario, spot_shift_pct, iv_shift_pts, days_forward, legs_priced, legs_excluded,
    current_value, scenario_value, pnl, pnl_pct.
    """
    as_of = to_date(as_of)
    upper = {str(key).upper(): value for key, value in spots.items()}
    spot = pd.to_numeric(valued["symbol"].map(upper), errors="coerce").astype(float)
    spot = spot.fillna(valued["spot"]).to_numpy()
    k, iv = valued["strike"].to_numpy(float), valued["iv"].to_numpy(float)
    t = years_to_expiry(valued["expiry"], as_of)
    is_call = (valued["option_type"] == "call").to_numpy()
    size = (valued["sign"] * valued["contracts"] * MULTIPLIER).to_numpy(float)
    priced = np.isfinite(spot) & np.isfinite(iv) & np.isfinite(k) & (t > 0)
    current = np.where(priced, _model_value(spot, k, t, iv, r, is_call) * size, 0.0)
    rows = []
    for name, ds, dv, days in SCENARIOS:
        scn = _model_value(
            spot * (1 + ds), k, t - days / 365.0, np.maximum(iv + dv, IV_LOW), r, is_call
        )
        value = np.where(priced, scn * size, 0.0)
        base = current.sum()
        rows.append(
            {
                "scenario": name,
                "spot_shift_pct": ds * 100,
                "iv_shift_pts": dv * 100,
                "days_forward": days,
                "legs_priced": int(priced.sum()),
                "legs_excluded": int((~priced).sum()),
                "current_value": base,
                "scenario_value": value.sum(),
                "pnl": value.sum() - base,
                "pnl_pct": (value.sum() - base) / abs(base) * 100 if base else np.nan,
            }
        )
    return pd.DataFrame(rows)


def position_rows(valued: pd.DataFrame) -> list[dict[str, Any]]:
    """Positions rolled up from valued legs (JSON-safe): the one valuation every page and report uses.

    A single-leg position's cost is its cost basis × size; a multi-leg position's cost is its total
    ``net_debit``. Market value needs every leg marked; P&L is value − cost.
    """
    out = []
    for position_id, group in valued.groupby("position_id", sort=False):
        first = group.iloc[0]
        multi = int(first.get("legs_in_position", len(group)) or len(group)) > 1
        cost = first.get("net_debit") if multi else group["cost_value"].sum(min_count=1)
        cost = math.nan if cost is None else float(cost)
        value = group["market_value"].sum(min_count=1) if group["mark"].notna().all() else math.nan
        pnl = value - cost
        out.append(
            {
                "position_id": position_id,
                "symbol": first["symbol"],
                "legs": ", ".join(
                    f"{r.side} {int(r.contracts)} {r.option_type} {r.strike:g} {r.expiry}"
                    for r in group.itertuples()
                ),
                "expiry": min(group["expiry"]),
                "spot": clean(first["spot"]),
                "mark": clean(group["mark"].iloc[0]) if not multi else None,
                "cost": clean(cost),
                "market_value": clean(value),
                "pnl": clean(pnl),
                "pnl_pct": clean(pnl / abs(cost) * 100) if cost and math.isfinite(cost) else None,
                "spread_pct": clean(group["spread_pct"].max()),
                "delta": clean(group["position_delta"].sum(min_count=1)),
                "theta": clean(group["position_theta"].sum(min_count=1)),
                "vega": clean(group["position_vega"].sum(min_count=1)),
            }
        )
    return out


def portfolio_totals(positions: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over :func:`position_rows` (positions without a value or cost count as 0)."""
    value = sum(p["market_value"] or 0.0 for p in positions)
    cost = sum(p["cost"] or 0.0 for p in positions)
    pnl = sum(p["pnl"] or 0.0 for p in positions)
    return {
        "positions": len(positions),
        "market_value": value,
        "cost": cost,
        "pnl": pnl,
        "pnl_pct": pnl / abs(cost) * 100 if cost else None,
    }
