"""Which symbols a job works on (SPEC §2.3), and reads of positions."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd
from django.db.models import Prefetch

from apps.portfolio.models import (
    Position,
    PositionLeg,
    Watchlist,
    WatchlistSymbol,
    normalize_symbol,
)


class UnknownWatchlist(ValueError):
    """A ``--watchlist`` name that does not exist."""


def split_symbols(values: Iterable[str]) -> list[str]:
    """Flatten repeatable, comma-separated ``--symbol`` values into unique normalised symbols."""
    out: list[str] = []
    for value in values:
        for part in str(value).split(","):
            if part.strip():
                symbol = normalize_symbol(part)
                if symbol not in out:
                    out.append(symbol)
    return out


def watchlist_symbols(names: Iterable[str]) -> list[str]:
    names = list(names)
    known = set(Watchlist.objects.filter(name__in=names).values_list("name", flat=True))
    missing = [name for name in names if name not in known]
    if missing:
        available = ", ".join(Watchlist.objects.values_list("name", flat=True)) or "none"
        raise UnknownWatchlist(f"unknown watchlist {', '.join(missing)} (available: {available})")
    return sorted(
        set(
            WatchlistSymbol.objects.filter(watchlist__name__in=names).values_list(
                "symbol", flat=True
            )
        )
    )


def portfolio_symbols() -> list[str]:
    return sorted(set(Position.objects.values_list("symbol", flat=True)))


def select_symbols(*, symbols: Iterable[str] = (), watchlists: Iterable[str] = ()) -> list[str]:
    """``--symbol`` wins, else ``--watchlist``, else every portfolio and watchlist symbol; a
    watchlist that does not exist is an error either way (a typo must not pass silently)."""
    explicit = split_symbols(symbols)
    watchlists = list(watchlists)
    listed = watchlist_symbols(watchlists) if watchlists else []
    if explicit:
        return explicit
    if watchlists:
        return listed
    everything = set(portfolio_symbols())
    everything |= set(WatchlistSymbol.objects.values_list("symbol", flat=True))
    return sorted(everything)


def position_legs() -> pd.DataFrame:
    """One row per leg with its position's id, symbol and costs (the frame the analytics expect).

    ``cost_basis`` (premium per share) only applies to single-leg positions; a multi-leg position
    carries its total ``net_debit`` instead, so its legs get NaN there.
    """
    rows = []
    positions = Position.objects.prefetch_related(
        Prefetch("legs", queryset=PositionLeg.objects.order_by("pk"))
    ).order_by("symbol", "position_id")
    for position in positions:
        legs = list(position.legs.all())
        for leg in legs:
            rows.append(
                {
                    "position_id": position.position_id,
                    "symbol": position.symbol,
                    "side": leg.side,
                    "option_type": leg.option_type,
                    "expiry": leg.expiry,
                    "strike": leg.strike,
                    "contracts": leg.contracts,
                    "cost_basis": position.cost_basis if len(legs) == 1 else math.nan,
                    "net_debit": position.net_debit,
                    "legs_in_position": len(legs),
                }
            )
    return pd.DataFrame(rows)
