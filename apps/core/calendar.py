"""The NYSE trading calendar, in market dates.

Everything that counts sessions (freshness, gap checks, flow gap flags, the demo provider, expiry
rules) goes through this module so that holidays are handled in exactly one place.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd

MARKET_TZ = ZoneInfo("America/New_York")
_CALENDAR_START = "2000-01-03"


@lru_cache(maxsize=1)
def _calendar() -> xcals.ExchangeCalendar:
    end = (dt.date.today() + dt.timedelta(days=3 * 366)).isoformat()
    return xcals.get_calendar("XNYS", start=_CALENDAR_START, end=end)


@lru_cache(maxsize=1)
def _session_index() -> pd.DatetimeIndex:
    return _calendar().sessions


def _as_date(value: dt.date | dt.datetime | str) -> dt.date:
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def first_session() -> dt.date:
    """The oldest session the calendar knows."""
    return _session_index()[0].date()


def is_session(day: dt.date) -> bool:
    """True when NYSE trades on ``day``."""
    return _calendar().is_session(pd.Timestamp(_as_date(day)))


def sessions_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """All sessions with start <= session <= end (inclusive), oldest first."""
    start, end = _as_date(start), _as_date(end)
    if end < start:
        return []
    index = _session_index()
    lo = index.searchsorted(pd.Timestamp(start), side="left")
    hi = index.searchsorted(pd.Timestamp(end), side="right")
    return [ts.date() for ts in index[lo:hi]]


def session_on_or_before(day: dt.date) -> dt.date:
    """The newest session at or before ``day``."""
    index = _session_index()
    pos = index.searchsorted(pd.Timestamp(_as_date(day)), side="right") - 1
    return index[max(pos, 0)].date()


def previous_session(day: dt.date) -> dt.date:
    """The newest session strictly before ``day``."""
    return session_on_or_before(_as_date(day) - dt.timedelta(days=1))


def next_session(day: dt.date) -> dt.date:
    """The oldest session strictly after ``day``."""
    index = _session_index()
    pos = index.searchsorted(pd.Timestamp(_as_date(day)), side="right")
    return index[min(pos, len(index) - 1)].date()


def sessions_strictly_between(earlier: dt.date, later: dt.date) -> list[dt.date]:
    """Sessions after ``earlier`` and before ``later``: the sessions a pair of snapshots skips."""
    return sessions_between(
        _as_date(earlier) + dt.timedelta(days=1), _as_date(later) - dt.timedelta(days=1)
    )


def session_close(day: dt.date) -> dt.datetime:
    """The closing time of a session, timezone-aware (UTC)."""
    return _calendar().session_close(pd.Timestamp(_as_date(day))).to_pydatetime()


def last_completed_session(now: dt.datetime | None = None) -> dt.date:
    """The newest session whose close is at or before ``now`` (defaults to the wall clock)."""
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    candidate = session_on_or_before(now.astimezone(MARKET_TZ).date())
    if session_close(candidate) <= now:
        return candidate
    return previous_session(candidate)


def market_date_for(as_of: dt.date | None, *, now: dt.datetime | None = None) -> dt.date:
    """The market date a job run describes: the last completed session at or before ``as_of``.

    ``None`` means "latest": the last session whose close has passed.
    """
    latest = last_completed_session(now)
    if as_of is None:
        return latest
    return min(session_on_or_before(as_of), latest)


def sessions_behind(watermark: dt.date, expected: dt.date) -> int:
    """How many sessions ``watermark`` lags ``expected`` (0 when it holds ``expected`` or newer)."""
    if watermark >= expected:
        return 0
    return len(sessions_between(watermark + dt.timedelta(days=1), expected))


def monthly_expiry(year: int, month: int) -> dt.date:
    """The standard monthly expiry: the third Friday, or the session before it on a holiday."""
    first = dt.date(year, month, 1)
    first_friday = first + dt.timedelta(days=(4 - first.weekday()) % 7)
    third_friday = first_friday + dt.timedelta(days=14)
    if third_friday > _session_index()[-1].date() or is_session(third_friday):
        return third_friday
    return previous_session(third_friday)


def is_monthly_expiry(day: dt.date) -> bool:
    """True for a standard monthly expiry; vendor Saturday dates count as their Friday."""
    day = _as_date(day)
    if day.weekday() == 5:
        day -= dt.timedelta(days=1)
    return monthly_expiry(day.year, day.month) == day
