"""Finding 1 of issue 14: impossible vendor values are refused at the door, row by row."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from apps.market.providers.base import ProviderError
from apps.market.providers.validation import clean_chain, validate_spot

DAY = dt.date(2024, 6, 14)


def _chain(n: int = 20) -> pd.DataFrame:
    strikes = np.linspace(80, 120, n)
    return pd.DataFrame(
        {
            "contract_symbol": [f"X240719C{int(k * 1000):08d}" for k in strikes],
            "option_type": ["call"] * n,
            "expiry": ["2024-07-19"] * n,
            "strike": strikes,
            "bid": [1.0] * n,
            "ask": [1.2] * n,
            "last": [1.1] * n,
            "volume": ["10"] * n,
            "open_interest": [100.0] * n,
            "implied_vol": [0.3] * n,
        }
    )


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("strike", float("inf"), "bad_strike"),
        ("strike", 1e300, "bad_strike"),
        ("strike", 0.0, "bad_strike"),
        ("strike", float("nan"), "bad_strike"),
        ("expiry", "2019-01-18", "expired"),
        ("volume", "lots", "bad_volume"),
        ("volume", "-3", "bad_volume"),
        ("open_interest", -1.0, "bad_open_interest"),
        ("ask", 0.5, "crossed_quote"),
        ("last", -2.0, "negative_price"),
    ],
)
def test_bad_row_is_dropped_and_counted(column, value, reason):
    chain = _chain()
    chain[column] = chain[column].astype(object)
    chain.loc[3, column] = value
    cleaned = clean_chain("X", chain, snapshot_date=DAY, spot=100.0)
    assert cleaned.rows_received == 20 and len(cleaned.chain) == 19
    assert cleaned.dropped == {reason: 1}
    assert chain.loc[3, "contract_symbol"] not in set(cleaned.chain["contract_symbol"])


@pytest.mark.parametrize("iv", [float("inf"), 1e12, 0.0, 0.01, -0.2, float("nan")])
def test_out_of_range_iv_is_cleared_for_re_solving(iv):
    chain = _chain()
    chain.loc[2, "implied_vol"] = iv
    cleaned = clean_chain("X", chain, snapshot_date=DAY, spot=100.0)
    assert len(cleaned.chain) == 20 and cleaned.dropped == {}
    assert cleaned.chain["implied_vol"].isna().sum() == 1
    assert cleaned.chain["implied_vol"].dropna().eq(0.3).all()


@pytest.mark.parametrize("spot", [0, -5.0, float("nan"), float("inf"), None, "abc"])
def test_bad_spot_fails_the_symbol_day_with_one_line(spot):
    with pytest.raises(ProviderError) as info:
        validate_spot("X", spot)
    assert str(info.value).startswith("X: chain: spot") and "\n" not in str(info.value)


def test_mostly_bad_chain_fails_the_symbol_day():
    chain = _chain()
    chain["expiry"] = "2019-01-18"
    with pytest.raises(ProviderError, match=r"X: chain: 20 of 20 rows are bad \(expired 20\)"):
        clean_chain("X", chain, snapshot_date=DAY, spot=100.0)
