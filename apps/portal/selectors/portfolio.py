"""The Portfolio page's view model: stored positions valued on the latest stored snapshots.

Reads positions from the ORM and chains from the warehouse, then leaves the arithmetic to the pure
functions in :mod:`apps.core.portfolio`; nothing here writes anything.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from apps.core import portfolio as calc
from apps.portal.charts import clean
from apps.portal.selectors import market
from apps.portfolio.models import PortfolioSettings
from apps.portfolio.selectors import position_legs
from apps.portfolio.services import RISK_PROFILE_DEFAULTS

# The numeric limits of the risk profile (``tolerance`` is a label, not a limit).
DEFAULT_LIMITS: dict[str, float] = {
    key: value for key, value in RISK_PROFILE_DEFAULTS.items() if isinstance(value, int | float)
}


def _position_rows(valued: pd.DataFrame) -> list[dict[str, Any]]:
    """Positions rolled up from legs: single-leg cost from cost_basis, multi-leg from net_debit."""
    out = []
    for position_id, group in valued.groupby("position_id", sort=False):
        first = group.iloc[0]
        multi = int(first["legs_in_position"]) > 1
        cost = first["net_debit"] if multi else group["cost_value"].sum(min_count=1)
        value = group["market_value"].sum(min_count=1) if group["mark"].notna().all() else math.nan
        pnl = value - cost if cost is not None and not pd.isna(cost) else math.nan
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
                "pnl_pct": clean(pnl / abs(cost) * 100) if cost and not pd.isna(cost) else None,
                "spread_pct": clean(group["spread_pct"].max()),
                "delta": clean(group["position_delta"].sum(min_count=1)),
                "theta": clean(group["position_theta"].sum(min_count=1)),
                "vega": clean(group["position_vega"].sum(min_count=1)),
            }
        )
    return out


def _liquidity(legs: pd.DataFrame, chains: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Open interest and volume of each leg's contract in its snapshot (for the min OI/volume limits)."""
    parts = []
    for symbol, group in legs.groupby("symbol"):
        chain = chains.get(symbol)
        if chain is None or chain.empty:
            continue
        quotes = chain.assign(
            expiry=pd.to_datetime(chain["expiry"]).dt.date,
            option_type=chain["option_type"].str.lower(),
        )[["expiry", "option_type", "strike", "open_interest", "volume"]]
        parts.append(group.merge(quotes, on=["expiry", "option_type", "strike"], how="left"))
    return pd.concat(parts) if parts else pd.DataFrame(columns=["open_interest", "volume"])


def _limit_rows(
    positions: list[dict[str, Any]],
    liquidity: pd.DataFrame,
    profile: dict,
    capital: float,
    as_of: dt.date,
) -> list[dict[str, Any]]:
    """Each risk-profile limit beside its current usage and whether it is within bounds."""
    limits = {**DEFAULT_LIMITS, **{k: v for k, v in profile.items() if k in DEFAULT_LIMITS}}
    costs = [abs(p["cost"]) for p in positions if p["cost"] is not None]
    at_risk = sum(costs)
    largest = max(costs, default=0.0)
    tp = [
        p["position_id"]
        for p in positions
        if p["pnl_pct"] is not None and p["pnl_pct"] >= limits["take_profit_pct"] * 100
    ]
    sl = [
        p["position_id"]
        for p in positions
        if p["pnl_pct"] is not None and p["pnl_pct"] <= -limits["stop_loss_pct"] * 100
    ]
    roll = [
        p["position_id"]
        for p in positions
        if (p["expiry"] - as_of).days <= limits["roll_dte_threshold"]
    ]
    low_oi = liquidity[liquidity["open_interest"].fillna(0) < limits["min_open_interest"]]
    low_vol = liquidity[liquidity["volume"].fillna(0) < limits["min_volume"]]

    def pct(value: float) -> float | None:
        return value / capital * 100 if capital > 0 else None

    def row(name, limit, usage, ok, detail=""):
        return {"limit": name, "value": limit, "usage": usage, "ok": ok, "detail": detail}

    portfolio_pct, single_pct = pct(at_risk), pct(largest)
    return [
        row(
            "Max portfolio risk",
            f"{limits['max_portfolio_risk_pct']:.0%} of capital",
            _fmt_pct(portfolio_pct),
            portfolio_pct is None or portfolio_pct <= limits["max_portfolio_risk_pct"] * 100,
        ),
        row(
            "Max single-position risk",
            f"{limits['max_single_position_risk_pct']:.0%} of capital",
            _fmt_pct(single_pct),
            single_pct is None or single_pct <= limits["max_single_position_risk_pct"] * 100,
        ),
        row(
            "Take profit",
            f"P&L ≥ {limits['take_profit_pct']:.0%}",
            f"{len(tp)} position(s)",
            not tp,
            ", ".join(tp),
        ),
        row(
            "Stop loss",
            f"P&L ≤ −{limits['stop_loss_pct']:.0%}",
            f"{len(sl)} position(s)",
            not sl,
            ", ".join(sl),
        ),
        row(
            "Roll window",
            f"≤ {limits['roll_dte_threshold']:g} days to expiry",
            f"{len(roll)} position(s)",
            not roll,
            ", ".join(roll),
        ),
        row(
            "Min open interest",
            f"{limits['min_open_interest']:g}",
            f"{len(low_oi)} leg(s) below",
            low_oi.empty,
            ", ".join(sorted(set(low_oi.get("position_id", [])))),
        ),
        row(
            "Min volume",
            f"{limits['min_volume']:g}",
            f"{len(low_vol)} leg(s) below",
            low_vol.empty,
            ", ".join(sorted(set(low_vol.get("position_id", [])))),
        ),
    ]


def _fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}% of capital"


def portfolio_view() -> dict[str, Any]:
    """Everything the Portfolio page shows; ``positions`` is empty when there is nothing stored."""
    legs = position_legs()
    settings = PortfolioSettings.load()
    empty = {
        "positions": [],
        "greeks": {},
        "stress": [],
        "limits": [],
        "snapshots": {},
        "cash": settings.cash,
        "currency": settings.base_currency,
    }
    if legs.empty:
        return empty
    headers = market.latest_snapshots(sorted(legs["symbol"].unique()))
    chains = market.chains(headers)
    spots = {s: float(h["spot"]) for s, h in headers.items() if h.get("spot") is not None}
    dates = [market._as_date(h["snapshot_date"]) for h in headers.values()]
    as_of = max(dates) if dates else dt.date.today()
    r = next((h["risk_free_rate"] for h in headers.values() if h.get("risk_free_rate")), 0.0)
    valued = calc.value_legs(legs, chains, spots, as_of, r=float(r or 0.0))
    for col in ("position_id", "net_debit", "legs_in_position"):
        valued[col] = legs[col].to_numpy()
    positions = _position_rows(valued)
    stress = calc.stress_table(valued, spots, as_of=as_of, r=float(r or 0.0))
    market_value = sum(p["market_value"] or 0.0 for p in positions)
    capital = settings.cash + market_value
    return {
        **empty,
        "positions": positions,
        "greeks": calc.portfolio_greeks(valued),
        "stress": [{k: clean(v) for k, v in row.items()} for row in stress.to_dict("records")],
        "limits": _limit_rows(
            positions, _liquidity(legs, chains), settings.risk_profile or {}, capital, as_of
        ),
        "snapshots": {s: market._as_date(h["snapshot_date"]) for s, h in headers.items()},
        "as_of": as_of if dates else None,
        "totals": {
            "market_value": market_value,
            "cost": sum(p["cost"] or 0.0 for p in positions),
            "pnl": sum(p["pnl"] or 0.0 for p in positions),
            "capital": capital,
        },
    }
