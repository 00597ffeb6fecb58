"""The portal's one presentation layer: numbers, money, percentages and dates (pure functions)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from apps.portal import tables
from apps.portal.templatetags import portal as fmt


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234.5, "$1,234.50"),
        (-1234.5, "−$1,234.50"),
        (0, "$0.00"),
        (1_000_000, "$1,000,000.00"),
        (None, "—"),
        (float("nan"), "—"),
        ("x", "—"),
    ],
)
def test_money(value, expected):
    assert fmt.money(value) == expected


def test_money_decimals_and_compact():
    assert fmt.money(1234.567, 0) == "$1,235"
    assert fmt.compact_money(1_234_567) == "$1.23M"
    assert fmt.compact_money(-2500) == "−$2.50k"
    assert fmt.compact_money(999) == "$999"
    assert fmt.compact(-12) == "−12"
    assert fmt.compact_money(None) == "—"


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [(0.291, 1, "29.1%"), (0.0327, 2, "3.27%"), (-0.05, 1, "−5.0%"), (None, 1, "—")],
)
def test_fraction_as_percent(value, decimals, expected):
    assert fmt.frac_pct(value, decimals) == expected


def test_percent_already_in_percent():
    assert fmt.pct(29.1) == "29.1%"
    assert fmt.pct(5, 2) == "5.00%"
    assert fmt.pct(float("inf")) == "—"


def test_sign_class_and_signed_html():
    assert fmt.sign_class(3) == "pos" and fmt.sign_class(-3) == "neg" and fmt.sign_class(0) == ""
    assert str(fmt.signed_money(-5)) == '<span class="neg">−$5.00</span>'
    assert str(fmt.signed_money(5)) == '<span class="pos">$5.00</span>'
    assert str(fmt.signed_money(None)) == "—"
    assert str(fmt.signed_pct(1.25, 2)) == '<span class="pos">1.25%</span>'


@pytest.mark.parametrize(
    "value",
    [
        dt.date(2026, 12, 4),
        dt.datetime(2026, 12, 4, 15, 30),
        pd.Timestamp("2026-12-04"),
        "2026-12-04",
        "2026-12-04T10:00:00",
    ],
)
def test_dates_are_iso_with_weekday(value):
    assert fmt.as_date(value) == dt.date(2026, 12, 4)
    assert fmt.weekday(value) == "Friday"
    html = str(fmt.isodate_html(value))
    assert 'datetime="2026-12-04"' in html and 'title="Friday"' in html
    assert ">2026-12-04" in html


def test_isodate_keeps_time_and_dashes_missing():
    assert fmt.isodate(dt.datetime(2026, 12, 4, 15, 30, 59)) == "2026-12-04 15:30"
    assert fmt.isodate(dt.date(2026, 12, 4)) == "2026-12-04"
    assert fmt.isodate(None) == "—" and fmt.isodate("not a date") == "—"
    assert str(fmt.isodate_html(None)) == "—"


def test_columns_render_units_and_export_plain_values():
    pct = tables.PctColumn(fraction=True)
    assert pct.render(0.291) == "29.1%"
    assert pct.value(0.291) == pytest.approx(29.1)
    money = tables.MoneyColumn(signed=True)
    assert "neg" in money.render(-10) and "−$10.00" in money.render(-10)
    assert money.value(-10) == -10 and money.value(float("nan")) == ""
    day = tables.DayColumn()
    assert 'title="Friday"' in day.render(dt.date(2026, 12, 4))
    assert day.value(dt.date(2026, 12, 4)) == "2026-12-04"
    badge = tables.BadgeColumn(kind="run")
    assert "<span" in badge.render("success") and badge.value("success") == "success"


def test_per_underlying_greeks_do_not_mix_underlyings():
    rows = [
        {
            "symbol": "AAA",
            "market_value": 100.0,
            "pnl": 5.0,
            "delta": 10.0,
            "theta": -1.0,
            "vega": 2.0,
        },
        {
            "symbol": "AAA",
            "market_value": 50.0,
            "pnl": None,
            "delta": -4.0,
            "theta": -0.5,
            "vega": 1.0,
        },
        {
            "symbol": "BBB",
            "market_value": None,
            "pnl": None,
            "delta": 7.0,
            "theta": None,
            "vega": None,
        },
    ]
    out = {r["symbol"]: r for r in tables.per_underlying(rows)}
    assert out["AAA"]["positions"] == 2 and out["AAA"]["delta"] == 6.0
    assert out["AAA"]["market_value"] == 150.0 and out["AAA"]["pnl"] == 5.0
    assert out["BBB"]["delta"] == 7.0 and out["BBB"]["theta"] is None


def test_percentage_points_column():
    column = tables.PctColumn(fraction=True, points=True)
    assert column.render(-0.013) == "−1.3 pp"
    assert column.value(-0.013) == pytest.approx(-1.3)


def test_numbers_use_one_minus_sign():
    assert fmt.num(-1234.5, 1) == "−1,234.5"
    assert fmt.num(2, 0) == "2" and fmt.num(None) == "—"


def test_data_file_names_stored_files_without_server_paths(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    assert fmt.data_file(str(tmp_path / "reports" / "daily" / "2026-11-30.md")) == (
        "reports/daily/2026-11-30.md"
    )
    assert fmt.data_file("/srv/elsewhere/briefing.json") == "briefing.json"
    assert fmt.data_file(None) == "—"
