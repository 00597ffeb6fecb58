"""Portfolio valuation: sign conventions, greeks in $ and consistent stress revaluation."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from apps.core.greeks import bs_greeks, bs_price
from apps.core.portfolio import portfolio_greeks, stress_table, value_legs
from tests.core.handchain import (
    AS_OF,
    MONTHLY,
    NEAR,
    SPOT,
    build_hand_chain,
    smile_iv,
)

LEGS = pd.DataFrame([
    {"position_id": 1, "symbol": "test", "side": "long", "option_type": "call", "expiry": NEAR,
     "strike": 100.0, "contracts": 2, "cost_basis": 2.0},
    {"position_id": 2, "symbol": "TEST", "side": "short", "option_type": "put",
     "expiry": pd.Timestamp(MONTHLY), "strike": 95.0, "contracts": 3, "cost_basis": 1.5},
    {"position_id": 3, "symbol": "TEST", "side": "short", "option_type": "call", "expiry": NEAR,
     "strike": 110.0, "contracts": 1, "cost_basis": None},
    {"position_id": 4, "symbol": "TEST", "side": "long", "option_type": "call", "expiry": NEAR,
     "strike": 102.5, "contracts": 1, "cost_basis": 1.0},  # not listed in the chain
])


@pytest.fixture
def valued(hand_chain: pd.DataFrame) -> pd.DataFrame:
    return value_legs(LEGS, {"TEST": hand_chain}, {"TEST": SPOT}, AS_OF)


def _quote(chain: pd.DataFrame, expiry: dt.date, kind: str, strike: float) -> pd.Series:
    hit = chain[(chain["expiry"] == expiry) & (chain["option_type"] == kind)
                & (chain["strike"] == strike)]
    return hit.iloc[0]


def test_marks_pnl_and_spread(valued: pd.DataFrame, hand_chain: pd.DataFrame) -> None:
    long_call, short_put = valued.iloc[0], valued.iloc[1]
    q = _quote(hand_chain, NEAR, "call", 100.0)
    assert long_call["mark"] == pytest.approx(q["mark"])
    assert long_call["pnl"] == pytest.approx((q["mark"] - 2.0) * 100 * 2)
    assert long_call["pnl_pct"] == pytest.approx((q["mark"] - 2.0) / 2.0 * 100)
    assert long_call["spread_pct"] == pytest.approx((q["ask"] - q["bid"]) / q["mark"] * 100)
    qp = _quote(hand_chain, MONTHLY, "put", 95.0)
    assert short_put["market_value"] == pytest.approx(-qp["mark"] * 300)
    assert short_put["pnl"] == pytest.approx((1.5 - qp["mark"]) * 300)
    assert np.isnan(valued.iloc[2]["pnl"])  # no cost basis
    assert not valued.iloc[3]["matched"] and np.isnan(valued.iloc[3]["mark"])
    assert valued["matched"].tolist() == [True, True, True, False]


def test_greek_signs(valued: pd.DataFrame) -> None:
    long_call, short_put, short_call = valued.iloc[0], valued.iloc[1], valued.iloc[2]
    assert long_call["position_delta"] > 0 and long_call["position_theta"] < 0
    assert long_call["position_gamma"] > 0 and long_call["position_vega"] > 0
    assert short_put["position_delta"] > 0 and short_put["position_theta"] > 0
    assert short_put["position_gamma"] < 0 and short_put["position_vega"] < 0
    assert short_call["position_delta"] < 0
    t = (NEAR - AS_OF).days / 365
    g = bs_greeks(SPOT, 100.0, t, smile_iv(NEAR, 100.0, "call"), 0.0, True)
    assert long_call["position_delta"] == pytest.approx(float(g["delta"]) * 200)
    assert long_call["position_vega"] == pytest.approx(float(g["vega"]) * 0.01 * 100 * 2)
    assert long_call["position_theta"] == pytest.approx(float(g["theta_per_day"]) * 200)
    totals = portfolio_greeks(valued)
    by_symbol = valued.groupby("symbol")["position_delta"].sum()
    assert totals["delta_shares_by_underlying"] == pytest.approx(by_symbol.to_dict())
    assert "delta_shares" not in totals  # share-deltas of different underlyings never summed
    assert totals["vega_per_vol_point"] == pytest.approx(valued["position_vega"].sum())
    assert totals["legs"] == 4 and totals["legs_without_greeks"] == 1


def test_stress_is_full_revaluation(valued: pd.DataFrame) -> None:
    table = stress_table(valued, {"TEST": SPOT}, as_of=AS_OF).set_index("scenario")
    assert list(table.index) == ["spot -5%", "spot +5%", "iv -5 pts", "iv +5 pts", "+7 days"]
    priced = valued[valued["matched"]]
    sign = np.where(priced["side"] == "long", 1.0, -1.0) * priced["contracts"] * 100
    t = np.array([(e - AS_OF).days / 365 for e in priced["expiry"]])
    k, iv = priced["strike"].to_numpy(), priced["iv"].to_numpy()
    call = (priced["option_type"] == "call").to_numpy()
    now = (bs_price(SPOT, k, t, iv, 0.0, call) * sign).sum()
    up = (bs_price(SPOT * 1.05, k, t, iv, 0.0, call) * sign).sum()
    vol_dn = (bs_price(SPOT, k, t, iv - 0.05, 0.0, call) * sign).sum()
    later = (bs_price(SPOT, k, t - 7 / 365, iv, 0.0, call) * sign).sum()
    assert table.loc["spot +5%", "pnl"] == pytest.approx(up - now)
    assert table.loc["iv -5 pts", "pnl"] == pytest.approx(vol_dn - now)
    assert table.loc["+7 days", "pnl"] == pytest.approx(later - now)
    assert table.loc["spot +5%", "legs_excluded"] == 1
    assert table.loc["spot -5%", "current_value"] == pytest.approx(now)
    # the IV scenario moves the book in the direction its vega says
    assert np.sign(table.loc["iv +5 pts", "pnl"]) == np.sign(valued["position_vega"].sum())


def test_stress_past_expiry_uses_intrinsic() -> None:
    chain = build_hand_chain()
    legs = pd.DataFrame([{"position_id": 9, "symbol": "TEST", "side": "long",
                          "option_type": "put", "expiry": NEAR, "strike": 110.0,
                          "contracts": 1, "cost_basis": 9.0}])
    as_of = NEAR - dt.timedelta(days=3)
    valued = value_legs(legs, {"TEST": chain}, {"TEST": SPOT}, as_of)  # raw chain: enriched here
    table = stress_table(valued, {"TEST": SPOT}, as_of=as_of).set_index("scenario")
    now = float(bs_price(SPOT, 110.0, 3 / 365, valued.loc[0, "iv"], 0.0, False)) * 100
    assert table.loc["+7 days", "pnl"] == pytest.approx((110.0 - SPOT) * 100 - now)


def test_bad_side_rejected(hand_chain: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="side"):
        value_legs(LEGS.assign(side="sideways"), {"TEST": hand_chain}, {"TEST": SPOT}, AS_OF)
