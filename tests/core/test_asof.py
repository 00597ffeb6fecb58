"""One as-of: ``latest`` or a date resolved once to the last completed NYSE session at or before it."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.core.asof import AsOf, AsOfError, resolve_as_of

ET = dt.timezone(dt.timedelta(hours=-5))  # EST (November–March)
MONDAY_BEFORE_CLOSE = dt.datetime(2024, 3, 4, 15, 0, tzinfo=ET)  # close is 16:00 ET


def test_latest_before_the_close_is_the_previous_session():
    as_of = resolve_as_of("latest", now=MONDAY_BEFORE_CLOSE)
    assert as_of == AsOf("latest", dt.date(2024, 3, 1))
    assert as_of.is_latest and str(as_of) == "2024-03-01"


def test_latest_after_the_close_is_that_session():
    after = MONDAY_BEFORE_CLOSE + dt.timedelta(hours=2)
    assert resolve_as_of(None, now=after).market_date == dt.date(2024, 3, 4)


def test_a_weekend_or_holiday_date_resolves_to_the_session_before():
    assert resolve_as_of("2024-03-03", now=MONDAY_BEFORE_CLOSE).market_date == dt.date(2024, 3, 1)
    good_friday = resolve_as_of("2024-03-29", now=dt.datetime(2024, 4, 2, tzinfo=dt.UTC))
    assert good_friday == AsOf("2024-03-29", dt.date(2024, 3, 28))


def test_future_means_after_the_last_completed_session_not_the_host_date():
    with pytest.raises(AsOfError, match="in the future"):
        resolve_as_of("2024-03-04", now=MONDAY_BEFORE_CLOSE)


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", "0001-01-01"])
def test_bad_values_are_one_line_errors(value):
    with pytest.raises(AsOfError) as info:
        resolve_as_of(value, now=MONDAY_BEFORE_CLOSE)
    assert "\n" not in str(info.value)


def test_an_as_of_passes_through_unchanged():
    as_of = AsOf("2024-03-01", dt.date(2024, 3, 1))
    assert resolve_as_of(as_of) is as_of
