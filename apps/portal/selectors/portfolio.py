"""The Portfolio page's view model: stored positions valued on the latest stored snapshots.

Reads positions from the ORM and chains from the warehouse, then leaves the arithmetic to the pure
functions in :mod:`apps.core.portfolio`; nothing here writes anything.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from apps.analytics.valuation import portfolio_valuation
from apps.core.values import json_safe, to_date
from apps.portfolio.models import PortfolioSettings
from apps.portfolio.services import RISK_PROFILE_DEFAULTS

# The numeric limits of the risk profile (``tolerance`` is a label, not a limit).
DEFAULT_LIMITS: dict[str, float] = {
    key: value for key, value in RISK_PROFILE_DEFAULTS.items() if isinstance(value, int | float)
}


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


def _numeric_limits(profile: Any) -> dict[str, float]:
    """The profile's limits that are finite numbers; anything else stored (a value of the wrong
    type saved before imports were validated) falls back to the default instead of failing."""
    if not isinstance(profile, dict):
        return {}
    return {
        key: float(value)
        for key, value in profile.items()
        if key in DEFAULT_LIMITS
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    }


def _limit_rows(
    positions: list[dict[str, Any]],
    liquidity: pd.DataFrame,
    profile: dict,
    capital: float,
    as_of: dt.date,
) -> list[dict[str, Any]]:
    """Each risk-profile limit beside its current usage and whether it is within bounds."""
    limits = {**DEFAULT_LIMITS, **_numeric_limits(profile)}
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
    valuation = portfolio_valuation()
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
    if valuation.empty:
        return empty
    positions = valuation.positions
    as_of = valuation.as_of or dt.date.today()
    capital = settings.cash + valuation.totals["market_value"]
    return {
        **empty,
        "positions": positions,
        "greeks": valuation.greeks(),
        "stress": [
            {k: json_safe(v) for k, v in row.items()} for row in valuation.stress().to_dict("records")
        ],
        "limits": _limit_rows(
            positions,
            _liquidity(valuation.legs, valuation.chains),
            settings.risk_profile or {},
            capital,
            as_of,
        ),
        "snapshots": {s: to_date(h["snapshot_date"]) for s, h in valuation.headers.items()},
        "as_of": valuation.as_of,
        "totals": {**valuation.totals, "capital": capital},
    }
