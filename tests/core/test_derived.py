"""Realised vol, IV percentile/rank (no look-ahead) and the derived_daily row (SPEC §6.5)."""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from apps.core.chain import summarize_chain
from apps.core.derived import (
    DERIVED_COLUMNS,
    derived_row,
    iv_percentile_and_rank,
    realized_vol,
)
from tests.core.handchain import AS_OF, NEAR, SPOT


def test_realized_vol_known_series() -> None:
    # alternating +1% / -1% log returns: stdev (ddof=1) of n returns is known in closed form
    returns = np.array([0.01, -0.01] * 40)
    closes = pd.Series(100.0 * np.exp(np.concatenate([[0.0], np.cumsum(returns)])))
    n = 20
    expected = np.std(returns[-n:], ddof=1) * math.sqrt(252)
    assert realized_vol(closes, n) == pytest.approx(expected)
    assert realized_vol(closes, n) == pytest.approx(0.01 * math.sqrt(n / (n - 1)) * math.sqrt(252))
    # constant growth -> zero vol; too few closes -> None
    assert realized_vol(pd.Series(100 * 1.01 ** np.arange(30)), 20) == pytest.approx(0.0)
    assert realized_vol(closes.iloc[:20], 20) is None
    assert realized_vol(closes.iloc[:21], 20) is not None


def test_percentile_and_rank_definitions() -> None:
    hist = pd.Series([0.2, 0.3, 0.4, 0.5])
    assert iv_percentile_and_rank(0.35, hist) == (50.0, pytest.approx(50.0))
    assert iv_percentile_and_rank(0.2, hist) == (0.0, 0.0)
    assert iv_percentile_and_rank(0.6, hist) == (100.0, 100.0)  # a new high ranks 100
    assert iv_percentile_and_rank(0.1, hist) == (0.0, 0.0)  # a new low ranks 0
    assert iv_percentile_and_rank(0.3, pd.Series([], dtype=float)) == (None, None)
    assert iv_percentile_and_rank(0.3, pd.Series([0.3, 0.3])) == (0.0, None)
    assert iv_percentile_and_rank(None, hist) == (None, None)
    # only the newest 252 values count
    long = pd.Series([10.0] * 10 + [0.1] * 252)
    assert iv_percentile_and_rank(0.2, long) == (100.0, 100.0)
    assert iv_percentile_and_rank(0.1, long) == (0.0, None)


def _iv_history(days: int) -> pd.Series:
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2023-01-02", periods=days).date
    return pd.Series(0.2 + 0.1 * rng.random(days), index=dates)


def _rows(iv: pd.Series, closes: pd.Series, upto: int) -> list[dict]:
    out = []
    for day in iv.index[:upto]:
        summary = {"spot": float(closes[day]), "atm_iv_near": float(iv[day])}
        out.append(derived_row(symbol="abc", date=day, chain_summary=summary, closes=closes,
                               prior_atm_iv=iv))
    return out


def test_no_look_ahead() -> None:
    iv = _iv_history(320)
    closes = pd.Series(100 * np.exp(np.cumsum(np.full(320, 0.001) * (-1) ** np.arange(320))),
                       index=iv.index)
    short_iv, short_closes = iv.iloc[:200], closes.iloc[:200]
    early = _rows(short_iv, short_closes, 200)
    full = _rows(iv, closes, 200)  # same dates, but inputs now extend 120 days into the future
    assert early == full
    # a changed *future* value must not move earlier rows either
    bumped = iv.copy()
    bumped.iloc[250:] = 5.0
    assert _rows(bumped, closes, 200) == full
    row = full[150]
    prior = iv.iloc[:150]
    assert row["atm_iv_percentile"] == pytest.approx((prior < iv.iloc[150]).mean() * 100)
    assert row["atm_iv_rank"] == pytest.approx(
        (iv.iloc[150] - prior.min()) / (prior.max() - prior.min()) * 100)
    assert full[0]["atm_iv_percentile"] is None and full[0]["rv_20d"] is None
    assert full[20]["rv_20d"] is not None and full[59]["rv_60d"] is None
    assert full[60]["rv_60d"] is not None


def test_derived_row_on_hand_chain(hand_chain: pd.DataFrame) -> None:
    summary = summarize_chain(hand_chain, spot=SPOT, as_of=AS_OF)
    dates = pd.bdate_range(end=AS_OF, periods=70).date
    closes = pd.Series(SPOT * np.exp(0.01 * (-1) ** np.arange(70)), index=dates)
    later = pd.Series([999.0], index=[AS_OF + dt.timedelta(days=1)])
    closes_with_future = pd.concat([closes, later])
    prior = pd.Series([0.25, 0.35, 0.45], index=[AS_OF - dt.timedelta(days=d) for d in (3, 2, 1)])
    prior_with_today = pd.concat([prior, pd.Series([0.99], index=[AS_OF])])
    row = derived_row(symbol="test", date=AS_OF, chain_summary=summary,
                      closes=closes_with_future, prior_atm_iv=prior_with_today)
    assert list(row) == DERIVED_COLUMNS
    assert row["symbol"] == "TEST" and row["date"] == AS_OF and row["spot"] == SPOT
    for key in ("pc_oi", "call_wall", "put_wall", "max_pain", "max_pain_expiry",
                "gamma_peak_strike", "atm_iv_near", "em_near_pct", "skew_near_pp",
                "iv_term_slope"):
        assert row[key] == summary[key]
    assert row["near_expiry"] == NEAR
    assert row["rv_20d"] == pytest.approx(realized_vol(closes, 20))
    assert row["rv_60d"] == pytest.approx(realized_vol(closes, 60))
    assert row["iv_rv_20d"] == pytest.approx(summary["atm_iv_near"] / row["rv_20d"])
    atm = summary["atm_iv_near"]
    expected_pct = sum(v < atm for v in (0.25, 0.35, 0.45)) / 3 * 100
    assert row["atm_iv_percentile"] == pytest.approx(expected_pct)
    assert row["atm_iv_rank"] == pytest.approx((atm - 0.25) / 0.2 * 100)
