"""The NYSE trading calendar, in market dates.

Everything that counts sessions (freshness, gap checks, flow gap flags, the demo provider, expiry
rules) goes through this module so that holidays are handled in exactly one place.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from array import array
from bisect import bisect_left, bisect_right
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

MARKET_TZ = ZoneInfo("America/New_York")
_CALENDAR_START = "2000-01-03"
_EPOCH = dt.date(1970, 1, 1)

# Where the built calendar is kept between processes (``None``: no disk cache). Building it with
# exchange-calendars (and importing that and pandas) costs a few tenths of a second; reading the
# cache costs milliseconds. Set by the ledger app to ``<data dir>/cache``; tests share a temp dir.
CACHE_DIR: Path | None = None
_CACHE_GLOB = "xnys-*.bin"


def _build(end: str) -> tuple[array, array]:
    """(session day numbers, session closes as UTC epoch seconds) from exchange-calendars."""
    import exchange_calendars as xcals

    calendar = xcals.get_calendar("XNYS", start=_CALENDAR_START, end=end)
    days = calendar.sessions.values.astype("datetime64[D]").astype("int64")
    closes = calendar.closes.values.astype("datetime64[s]").astype("int64")
    return array("q", days.tolist()), array("q", closes.tolist())


def _calendar_end(today: dt.date) -> str:
    """The last day the calendar covers: the end of the third year ahead. It moves once a year,
    so the cache is rebuilt once a year (and on an exchange-calendars upgrade), not every day."""
    return dt.date(today.year + 3, 12, 31).isoformat()


def _library_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("exchange-calendars")
    except PackageNotFoundError:
        return "unknown"


def _cache_file(end: str) -> Path | None:
    if CACHE_DIR is None:
        return None
    return Path(CACHE_DIR) / f"xnys-{_CALENDAR_START}-{end}-xcals{_library_version()}.bin"


def _current_cache_file() -> tuple[str, Path | None]:
    """The calendar's end today and the file it is cached in."""
    end = _calendar_end(dt.date.today())
    return end, _cache_file(end)


def _read_cache(path: Path) -> tuple[array, array] | None:
    """The cached tables (days then closes, int64 each), or None when absent or damaged."""
    try:
        values = array("q", path.read_bytes())
    except (OSError, ValueError):
        return None
    half = len(values) // 2
    if not half or len(values) % 2:
        return None
    return values[:half], values[half:]


def _write_cache(path: Path, days: array, closes: array) -> None:
    """Write the tables atomically and remove the calendars this one replaces."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write((days + closes).tobytes())
        os.replace(tmp, path)
        for old in path.parent.glob(_CACHE_GLOB):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only data dir only costs the rebuild next time


@lru_cache(maxsize=1)
def _tables() -> tuple[array, array]:
    """Loaded once per process: from the disk cache when present, else built (and cached)."""
    end, path = _current_cache_file()
    cached = _read_cache(path) if path is not None else None
    if cached is not None:
        return cached
    days, closes = _build(end)
    if path is not None:
        _write_cache(path, days, closes)
    return days, closes


def prepare() -> Path | None:
    """Load the calendar now (building and caching it when needed): ``db_init`` does this so the
    first job of a new data dir does not. Returns the cache file (``None``: no disk cache)."""
    _tables()
    path = _current_cache_file()[1]
    return path if path is not None and path.exists() else None


def _days() -> array:
    return _tables()[0]


def _as_date(value: dt.date | dt.datetime | str) -> dt.date:
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _num(day: dt.date | dt.datetime | str) -> int:
    return (_as_date(day) - _EPOCH).days


def _date(number) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(number))


def first_session() -> dt.date:
    """The oldest session the calendar knows."""
    return _date(_days()[0])


def last_session() -> dt.date:
    """The newest session the calendar knows (the end of the third year ahead, or just before)."""
    return _date(_days()[-1])


def is_session(day: dt.date) -> bool:
    """True when NYSE trades on ``day``."""
    days, number = _days(), _num(day)
    pos = bisect_left(days, number)
    return pos < len(days) and days[pos] == number


def sessions_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """All sessions with start <= session <= end (inclusive), oldest first."""
    start, end = _as_date(start), _as_date(end)
    if end < start:
        return []
    days = _days()
    lo, hi = bisect_left(days, _num(start)), bisect_right(days, _num(end))
    return [_EPOCH + dt.timedelta(days=n) for n in days[lo:hi]]


def session_on_or_before(day: dt.date) -> dt.date:
    """The newest session at or before ``day``."""
    days = _days()
    pos = bisect_right(days, _num(day)) - 1
    return _date(days[max(pos, 0)])


def previous_session(day: dt.date) -> dt.date:
    """The newest session strictly before ``day``."""
    return session_on_or_before(_as_date(day) - dt.timedelta(days=1))


def next_session(day: dt.date) -> dt.date:
    """The oldest session strictly after ``day``."""
    days = _days()
    pos = bisect_right(days, _num(day))
    return _date(days[min(pos, len(days) - 1)])


def sessions_strictly_between(earlier: dt.date, later: dt.date) -> list[dt.date]:
    """Sessions after ``earlier`` and before ``later``: the sessions a pair of snapshots skips."""
    return sessions_between(
        _as_date(earlier) + dt.timedelta(days=1), _as_date(later) - dt.timedelta(days=1)
    )


def session_close(day: dt.date) -> dt.datetime:
    """The closing time of a session, timezone-aware (UTC)."""
    days, closes = _tables()
    number = _num(day)
    pos = bisect_left(days, number)
    if pos >= len(days) or days[pos] != number:
        raise ValueError(f"{_as_date(day)} is not an NYSE session")
    return dt.datetime.fromtimestamp(int(closes[pos]), dt.UTC)


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
    if _num(third_friday) > _days()[-1] or is_session(third_friday):
        return third_friday
    return previous_session(third_friday)


def is_monthly_expiry(day: dt.date) -> bool:
    """True for a standard monthly expiry; vendor Saturday dates count as their Friday."""
    day = _as_date(day)
    if day.weekday() == 5:
        day -= dt.timedelta(days=1)
    return monthly_expiry(day.year, day.month) == day
