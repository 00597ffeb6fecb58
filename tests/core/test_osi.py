"""OSI symbol formatting and parsing (SPEC §3)."""

import datetime as dt

import pandas as pd
import pytest

from apps.core.osi import OsiContract, format_osi, format_osi_series, parse_osi, parse_osi_series


def test_format_example() -> None:
    assert format_osi("AAPL", dt.date(2026, 4, 17), "call", 100) == "AAPL260417C00100000"
    assert format_osi("spxw", "2018-01-31", "put", 2700.5) == "SPXW180131P02700500"


@pytest.mark.parametrize(
    "root,expiry,kind,strike",
    [
        ("AAPL", dt.date(2026, 4, 17), "call", 100.0),
        ("VXX", dt.date(2016, 12, 16), "put", 22.5),
        ("BRKB", dt.date(2030, 1, 18), "put", 0.5),
        ("X", dt.date(2025, 4, 17), "call", 99999.999),
    ],
)
def test_round_trip(root: str, expiry: dt.date, kind: str, strike: float) -> None:
    sym = format_osi(root, expiry, kind, strike)
    assert parse_osi(sym) == OsiContract(root, expiry, kind, strike)


def test_padded_form() -> None:
    padded = "AAPL  260417C00100000"
    assert len(padded) == 21
    assert parse_osi(padded) == OsiContract("AAPL", dt.date(2026, 4, 17), "call", 100.0)


@pytest.mark.parametrize(
    "bad",
    ["", "AAPL", "AAPL261399C00100000", "AAPL260417X00100000", "AAPL260417C0010000", None, 42],
)
def test_unparseable(bad: object) -> None:
    assert parse_osi(bad) is None


def test_invalid_format_args() -> None:
    with pytest.raises(ValueError):
        format_osi("AAPL", dt.date(2026, 4, 17), "straddle", 100)


def test_series() -> None:
    series = pd.Series(
        ["AAPL260417C00100000", "VXX   161216P00022500", "junk", None, "AAPL261399C00100000"]
    )
    out = parse_osi_series(series)
    assert list(out.columns) == ["root", "expiry", "option_type", "strike", "valid"]
    assert out["valid"].tolist() == [True, True, False, False, False]
    assert out.loc[0, "root"] == "AAPL" and out.loc[1, "root"] == "VXX"
    assert out.loc[1, "expiry"] == dt.date(2016, 12, 16)
    assert out["option_type"].tolist()[:2] == ["call", "put"]
    assert out["strike"].tolist()[:2] == [100.0, 22.5]
    assert out.loc[2:, "strike"].isna().all()
    assert out.loc[2:, "expiry"].isna().all()


def test_series_rejects_days_that_do_not_exist() -> None:
    series = pd.Series(["AAPL260230C00100000", "aapl280229p00100000", "AAPL270229C00100000"])
    out = parse_osi_series(series)
    assert out["valid"].tolist() == [False, True, False]
    assert out.loc[1, "expiry"] == dt.date(2028, 2, 29)
    assert [parse_osi(s) is not None for s in series] == out["valid"].tolist()


def test_format_series_matches_format_osi_row_by_row() -> None:
    rows = [
        (" vxx ", dt.date(2016, 12, 16), "put", 22.5),
        ("AAPL", dt.date(2026, 4, 17), "C", 100.0),
        ("AAPL", dt.date(2026, 4, 17), "call", 100.001),
        ("SPXW", dt.date(2027, 1, 4), "P", 5875.0),
        ("BRK.B", dt.date(2030, 2, 28), "put", 0.5),
    ]
    roots, expiries, kinds, strikes = (pd.Series(column) for column in zip(*rows, strict=True))
    out = format_osi_series(roots, expiries, kinds, strikes)
    expected = [format_osi(r.strip(), e, k, s) for r, e, k, s in rows]
    assert out.tolist() == expected
    assert out.tolist()[0] == "VXX161216P00022500"
    one_root = format_osi_series("spy", expiries, kinds, strikes)
    assert one_root.tolist() == [format_osi("SPY", e, k, s) for _, e, k, s in rows]
    assert format_osi_series("SPY", pd.Series([], dtype=object), pd.Series([]), pd.Series([])).empty
