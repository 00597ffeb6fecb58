"""The one portfolio valuation: stored positions marked on their newest stored snapshots.

The briefing, the dashboard and the Portfolio page all call :func:`portfolio_valuation`, so the same
data gives the same market value and P&L everywhere (the rate is the snapshot's risk-free rate).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from apps.core import portfolio as calc
from apps.core.values import to_date
from apps.market import selectors
from apps.portfolio.selectors import position_legs


@dataclass
class PortfolioValuation:
    legs: pd.DataFrame  # the stored legs (empty without positions)
    valued: pd.DataFrame  # legs with marks, P&L and greeks (apps.core.portfolio.value_legs)
    positions: list[dict[str, Any]] = field(default_factory=list)  # calc.position_rows
    totals: dict[str, Any] = field(default_factory=dict)  # calc.portfolio_totals
    headers: dict[str, dict] = field(default_factory=dict)
    chains: dict[str, pd.DataFrame] = field(default_factory=dict)
    spots: dict[str, float] = field(default_factory=dict)
    as_of: dt.date | None = None  # newest snapshot date used
    rate: float = 0.0

    @property
    def empty(self) -> bool:
        return self.legs.empty

    def greeks(self) -> dict[str, Any]:
        return calc.portfolio_greeks(self.valued) if not self.empty else {}

    def stress(self) -> pd.DataFrame:
        if self.empty or self.as_of is None:
            return pd.DataFrame()
        return calc.stress_table(self.valued, self.spots, as_of=self.as_of, r=self.rate)


def _rate(headers: dict[str, dict]) -> float:
    rates = [h.get("risk_free_rate") for h in headers.values()]
    return float(next((r for r in rates if r is not None and not pd.isna(r)), 0.0))


def portfolio_valuation(*, up_to: dt.date | None = None) -> PortfolioValuation:
    """Value every stored position on the newest snapshot of its symbol at or before ``up_to``."""
    legs = position_legs()
    if legs.empty:
        return PortfolioValuation(legs=legs, valued=legs, totals=calc.portfolio_totals([]))
    headers = selectors.latest_snapshot_headers(sorted(legs["symbol"].unique()), up_to=up_to)
    chains = selectors.chains_for_headers(headers)
    spots = {s: float(h["spot"]) for s, h in headers.items() if h.get("spot") is not None}
    dates = [to_date(h["snapshot_date"]) for h in headers.values()]
    as_of = max(dates) if dates else up_to
    rate = _rate(headers)
    valued = calc.value_legs(legs, chains, spots, as_of or dt.date.today(), r=rate)
    positions = calc.position_rows(valued)
    return PortfolioValuation(
        legs=legs,
        valued=valued,
        positions=positions,
        totals=calc.portfolio_totals(positions),
        headers=headers,
        chains=chains,
        spots=spots,
        as_of=as_of,
        rate=rate,
    )
