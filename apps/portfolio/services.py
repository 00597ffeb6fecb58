"""Import and export of the portfolio and watchlists in the CLI tool's JSON formats (SPEC §2).

A file is validated whole before anything is written; the write then replaces the stored portfolio
(or the named watchlists) in one transaction, so a malformed file changes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Prefetch

from apps.portfolio.models import (
    LegSide,
    OptionType,
    PortfolioSettings,
    Position,
    PositionLeg,
    Watchlist,
    WatchlistSymbol,
    normalize_symbol,
)

RISK_PROFILE_DEFAULTS: dict[str, Any] = {
    "tolerance": None,
    "max_portfolio_risk_pct": 0.25,
    "max_single_position_risk_pct": 0.07,
    "take_profit_pct": 0.60,
    "stop_loss_pct": 0.35,
    "roll_dte_threshold": 21,
    "earnings_warn_days": 21,
    "min_open_interest": 100,
    "min_volume": 10,
}


class PortfolioFormatError(ValueError):
    """A malformed portfolio or watchlist file; the message names the field and position."""


@dataclass(frozen=True)
class LegData:
    side: str
    option_type: str
    expiry: dt.date
    strike: float
    contracts: int


@dataclass(frozen=True)
class PositionData:
    position_id: str
    symbol: str
    legs: tuple[LegData, ...]
    cost_basis: float | None
    net_debit: float | None
    opened_at: dt.date | None


def _fail(where: str, problem: str) -> PortfolioFormatError:
    return PortfolioFormatError(f"{where}: {problem}")


# The schema's bounds: the same answer on SQLite and PostgreSQL (whose column limits are tighter).
MAX_ABS_NUMBER = 1e12
MAX_CONTRACTS = 1_000_000
MAX_ID_LENGTH = 64
MAX_POSITIONS = 10_000
MAX_LEGS = 8
_TOP_KEYS = {"base_currency", "cash", "risk_profile", "positions"}
_SINGLE_KEYS = {
    "id",
    "symbol",
    "option_type",
    "expiry",
    "strike",
    "contracts",
    "cost_basis",
    "opened_at",
}
_MULTI_KEYS = {"id", "symbol", "legs", "net_debit", "opened_at"}
_LEG_KEYS = {"side", "option_type", "expiry", "strike", "contracts"}


def _known_keys(raw: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in set(raw) - allowed)
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(unknown)}")


def _number(value: Any, where: str, *, minimum: float | None = None, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, f"must be a number, got {value!r}")
    if not math.isfinite(value) or abs(value) > MAX_ABS_NUMBER:
        raise _fail(where, f"must be a finite number of at most {MAX_ABS_NUMBER:g}, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise _fail(where, f"must be {'>' if strict else '≥'} {minimum:g}, got {value!r}")
    return float(value)


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_CONTRACTS:
        raise _fail(where, f"must be a whole number from 1 to {MAX_CONTRACTS}, got {value!r}")
    return value


def _risk_profile(profile: dict) -> dict[str, Any]:
    for key, value in profile.items():
        where = f"risk_profile.{key}"
        if key == "tolerance":
            if value is not None and (not isinstance(value, str) or len(value) > 32):
                raise _fail(where, f"must be a short text or null, got {value!r}")
        elif value is not None:
            _number(value, where, minimum=0)
    return {**RISK_PROFILE_DEFAULTS, **profile}


def _currency(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise _fail("base_currency", f"must be a 3-letter currency code, got {value!r}")
    return value.upper()


def _date(value: Any, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _fail(where, f"must be an ISO date (YYYY-MM-DD), got {value!r}") from None


def _choice(value: Any, where: str, choices: list[str]) -> str:
    if value not in choices:
        raise _fail(where, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _leg(raw: Any, where: str, *, side: str | None = None) -> LegData:
    if not isinstance(raw, dict):
        raise _fail(where, "must be an object")
    if side is None:
        _known_keys(raw, _LEG_KEYS, where)
    return LegData(
        side=side or _choice(raw.get("side"), f"{where}.side", LegSide.values),
        option_type=_choice(raw.get("option_type"), f"{where}.option_type", OptionType.values),
        expiry=_date(raw.get("expiry"), f"{where}.expiry"),
        strike=_number(raw.get("strike"), f"{where}.strike", minimum=0, strict=True),
        contracts=_positive_int(raw.get("contracts"), f"{where}.contracts"),
    )


def _position(raw: Any, where: str) -> PositionData:
    if not isinstance(raw, dict):
        raise _fail(where, "must be an object")
    _known_keys(raw, _MULTI_KEYS if "legs" in raw else _SINGLE_KEYS, where)
    position_id = raw.get("id")
    if (
        isinstance(position_id, bool)
        or not isinstance(position_id, str | int)
        or str(position_id).strip() == ""
    ):
        raise _fail(f"{where}.id", "is required (text or a whole number)")
    if len(str(position_id)) > MAX_ID_LENGTH:
        raise _fail(f"{where}.id", f"must be at most {MAX_ID_LENGTH} characters")
    try:
        symbol = normalize_symbol(raw.get("symbol", ""))
    except ValueError as exc:
        raise _fail(f"{where}.symbol", str(exc)) from None
    opened = raw.get("opened_at")
    opened_at = _date(opened, f"{where}.opened_at") if opened else None
    if "legs" in raw:
        legs = raw["legs"]
        if not isinstance(legs, list) or not 2 <= len(legs) <= MAX_LEGS:
            raise _fail(f"{where}.legs", f"a multi-leg position needs 2 to {MAX_LEGS} legs")
        net = raw.get("net_debit")
        return PositionData(
            str(position_id),
            symbol,
            tuple(_leg(leg, f"{where}.legs[{i}]") for i, leg in enumerate(legs)),
            None,
            None if net is None else _number(net, f"{where}.net_debit"),
            opened_at,
        )
    cost = _number(raw.get("cost_basis"), f"{where}.cost_basis", minimum=0)
    return PositionData(
        str(position_id), symbol, (_leg(raw, where, side="long"),), cost, None, opened_at
    )


def parse_portfolio(data: Any) -> tuple[dict[str, Any], list[PositionData]]:
    """Validate a whole portfolio document; raise PortfolioFormatError at the first problem."""
    if not isinstance(data, dict):
        raise _fail("file", "must be a JSON object with a 'positions' list")
    _known_keys(data, _TOP_KEYS, "file")
    positions = data.get("positions", [])
    if not isinstance(positions, list):
        raise _fail("positions", "must be a list")
    if len(positions) > MAX_POSITIONS:
        raise _fail("positions", f"at most {MAX_POSITIONS} positions")
    profile = data.get("risk_profile") or {}
    if not isinstance(profile, dict):
        raise _fail("risk_profile", "must be an object")
    unknown = sorted(set(profile) - set(RISK_PROFILE_DEFAULTS))
    if unknown:
        raise _fail("risk_profile", f"unknown field(s) {', '.join(unknown)}")
    top = {
        "base_currency": _currency(data.get("base_currency", "USD")),
        "cash": _number(data.get("cash", 0.0), "cash"),
        "risk_profile": _risk_profile(profile),
    }
    parsed = [_position(raw, f"positions[{i}]") for i, raw in enumerate(positions)]
    seen: set[str] = set()
    for i, item in enumerate(parsed):
        if item.position_id in seen:
            raise _fail(f"positions[{i}].id", f"duplicate id {item.position_id!r}")
        seen.add(item.position_id)
    return top, parsed


@transaction.atomic
def portfolio_import(*, data: Any) -> dict[str, int]:
    """Replace the stored portfolio with a validated document (all or nothing)."""
    top, positions = parse_portfolio(data)
    PortfolioSettings.objects.all().delete()
    PortfolioSettings.objects.create(**top)
    Position.objects.all().delete()
    legs = 0
    for item in positions:
        position = Position.objects.create(
            position_id=item.position_id,
            symbol=item.symbol,
            cost_basis=item.cost_basis,
            net_debit=item.net_debit,
            opened_at=item.opened_at,
        )
        PositionLeg.objects.bulk_create(
            PositionLeg(position=position, **leg.__dict__) for leg in item.legs
        )
        legs += len(item.legs)
    return {"positions": len(positions), "legs": legs}


def _leg_json(leg: PositionLeg, *, with_side: bool) -> dict[str, Any]:
    data = {
        "option_type": leg.option_type,
        "expiry": leg.expiry.isoformat(),
        "strike": leg.strike,
        "contracts": leg.contracts,
    }
    return {"side": leg.side, **data} if with_side else data


def portfolio_export() -> dict[str, Any]:
    """The stored portfolio in the import format (a round trip gives the same document)."""
    settings_row = PortfolioSettings.load()
    positions = []
    legs_in_file_order = Prefetch("legs", queryset=PositionLeg.objects.order_by("pk"))
    for position in Position.objects.prefetch_related(legs_in_file_order).order_by("position_id"):
        legs = list(position.legs.all())
        item: dict[str, Any] = {"id": position.position_id, "symbol": position.symbol}
        if len(legs) == 1 and legs[0].side == LegSide.LONG and position.net_debit is None:
            item.update(_leg_json(legs[0], with_side=False), cost_basis=position.cost_basis)
        else:
            item["legs"] = [_leg_json(leg, with_side=True) for leg in legs]
            if position.net_debit is not None:
                item["net_debit"] = position.net_debit
        if position.opened_at:
            item["opened_at"] = position.opened_at.isoformat()
        positions.append(item)
    return {
        "base_currency": settings_row.base_currency,
        "cash": settings_row.cash,
        "risk_profile": settings_row.risk_profile or dict(RISK_PROFILE_DEFAULTS),
        "positions": positions,
    }


def parse_watchlists(data: Any) -> dict[str, list[str]]:
    if not isinstance(data, dict) or not isinstance(data.get("watchlists"), dict):
        raise _fail("file", 'must look like {"watchlists": {"NAME": ["SYM", ...]}}')
    parsed: dict[str, list[str]] = {}
    for name, symbols in data["watchlists"].items():
        where = f"watchlists.{name}"
        if not str(name).strip() or len(str(name)) > 64:
            raise _fail(where, "name must be 1–64 characters")
        if not isinstance(symbols, list):
            raise _fail(where, "must be a list of symbols")
        clean: list[str] = []
        for i, raw in enumerate(symbols):
            try:
                symbol = normalize_symbol(raw)
            except ValueError as exc:
                raise _fail(f"{where}[{i}]", str(exc)) from None
            if symbol not in clean:
                clean.append(symbol)
        parsed[str(name)] = clean
    return parsed


@transaction.atomic
def watchlists_import(*, data: Any) -> dict[str, int]:
    """Create or replace each named watchlist (others are left alone)."""
    parsed = parse_watchlists(data)
    for name, symbols in parsed.items():
        watchlist, _ = Watchlist.objects.get_or_create(name=name)
        watchlist.symbols.all().delete()
        WatchlistSymbol.objects.bulk_create(
            WatchlistSymbol(watchlist=watchlist, symbol=s) for s in symbols
        )
    return {name: len(symbols) for name, symbols in parsed.items()}
