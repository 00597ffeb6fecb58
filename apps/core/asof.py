"""The one meaning of "as-of": a requested ``latest|YYYY-MM-DD`` resolved once to a market date.

Every door (job commands, ``run_daily``, django-q2 tasks, the admin) calls :func:`resolve_as_of` once
and passes the frozen :class:`AsOf` down; nothing below re-resolves "latest". The market date is the
last completed NYSE session at or before the requested day; "future" means after the last completed
session (a Monday before the close is in the future), not after the host's date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from apps.core import calendar

LATEST = "latest"


class AsOfError(ValueError):
    """A requested as-of that cannot be resolved (one line, fit for a usage error)."""


@dataclass(frozen=True)
class AsOf:
    requested: str  # "latest" or the ISO date as asked
    market_date: dt.date

    @property
    def is_latest(self) -> bool:
        return self.requested == LATEST

    def __str__(self) -> str:
        return self.market_date.isoformat()

    def to_json(self) -> dict[str, str]:
        return {"requested": self.requested, "market_date": self.market_date.isoformat()}


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _requested_day(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        if not _ISO_DAY.fullmatch(value.strip()):  # fromisoformat also takes 20261130, 2026-W48-1
            raise ValueError(value)
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise AsOfError(f"--as-of must be 'latest' or YYYY-MM-DD, got {value!r}") from None


def resolve_as_of(
    value: str | dt.date | AsOf | None = LATEST, *, now: dt.datetime | None = None
) -> AsOf:
    """``latest`` (or None/empty) or a date → :class:`AsOf`; raises :class:`AsOfError`."""
    if isinstance(value, AsOf):
        return value
    latest = calendar.last_completed_session(now)
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", LATEST)):
        return AsOf(LATEST, latest)
    day = _requested_day(value)
    first = calendar.first_session()
    if day < first:
        raise AsOfError(f"--as-of {day.isoformat()} is before the calendar's first session ({first})")
    market_date = calendar.session_on_or_before(day)
    if market_date > latest:
        raise AsOfError(
            f"--as-of {day.isoformat()} is in the future (last completed session: {latest})"
        )
    return AsOf(day.isoformat(), market_date)


def as_of_for_market_date(market_date: dt.date) -> AsOf:
    """An already-resolved session (backfills, the gap planner) as an :class:`AsOf`."""
    return AsOf(market_date.isoformat(), market_date)
