"""The shared normalisers: dates of mixed vendor columns, Arrow-backed text columns."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from apps.core.values import date_series, text_series


def test_date_series_normalises_every_spelling_and_keeps_the_index() -> None:
    values = pd.Series(
        [
            dt.date(2026, 1, 1),
            None,
            dt.datetime(2026, 1, 2, 5),
            pd.Timestamp("2026-01-03"),
            "2026-01-04",
            np.nan,
            "junk",
            dt.date(2026, 1, 1),
        ],
        index=range(10, 18),
        dtype=object,
    )
    out = date_series(values)
    assert out.dtype == object
    assert list(out.index) == list(range(10, 18))
    assert out.tolist() == [
        dt.date(2026, 1, 1),
        None,
        dt.date(2026, 1, 2),
        dt.date(2026, 1, 3),
        dt.date(2026, 1, 4),
        None,
        None,
        dt.date(2026, 1, 1),
    ]


def test_date_series_of_zoned_stamps_keeps_the_wall_date() -> None:
    stamps = pd.Series(pd.to_datetime(["2026-01-01 23:30", None]).tz_localize("America/New_York"))
    assert date_series(stamps).tolist() == [dt.date(2026, 1, 1), None]
    assert date_series(pd.Series([], dtype=object)).tolist() == []


def test_text_series_is_pandas_default_string_column() -> None:
    out = text_series(pa.array(["call", None, "put"]))
    assert out.dtype == pd.Series(["x"]).dtype
    assert out.isna().tolist() == [False, True, False]
