"""Which symbols a job works on (SPEC §2.3), and reads of positions."""

from __future__ import annotations

from collections.abc import Iterable

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
    """``--symbol`` wins, else ``--watchlist``, else every portfolio and watchlist symbol."""
    explicit = split_symbols(symbols)
    if explicit:
        return explicit
    watchlists = list(watchlists)
    if watchlists:
        return watchlist_symbols(watchlists)
    everything = set(portfolio_symbols())
    everything |= set(WatchlistSymbol.objects.values_list("symbol", flat=True))
    return sorted(everything)


def position_legs() -> list[dict]:
    """Every leg with its position's id, symbol and cost (the frame the analytics expect)."""
    legs = PositionLeg.objects.select_related("position").order_by("position__position_id", "pk")
    return [
        {
            "position_id": leg.position.position_id,
            "symbol": leg.position.symbol,
            "side": leg.side,
            "option_type": leg.option_type,
            "expiry": leg.expiry,
            "strike": leg.strike,
            "contracts": leg.contracts,
            "cost_basis": leg.position.cost_basis,
            "net_debit": leg.position.net_debit,
        }
        for leg in legs
    ]
