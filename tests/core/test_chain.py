"""Chain metrics on a hand-built chain with known answers (SPEC §6.5)."""

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest

from apps.core.chain import (
    iv_smile,
    max_pain,
    max_pain_expiry,
    oi_by_strike,
    summarize_chain,
    term_structure,
)
from apps.core.greeks import bs_greeks
from tests.core.handchain import (
    AS_OF,
    MONTHLY,
    NEAR,
    NEXT,
    OI,
    SPOT,
    STRIKES,
    smile_iv,
)


def _mini(rows: list[tuple[str, float, float]], expiry: dt.date) -> pd.DataFrame:
    return pd.DataFrame([
        {"option_type": k, "expiry": expiry, "strike": s, "open_interest": oi, "volume": 0.0,
         "mark": 1.0, "implied_vol": 0.3, "bs_delta": 0.5, "bs_gamma": 0.01}
        for k, s, oi in rows
    ])


def test_summary_known_answers(hand_chain: pd.DataFrame) -> None:
    s = summarize_chain(hand_chain, spot=SPOT, as_of=AS_OF)
    total_call = sum(OI.get((e, "call", k), 1) for e in (NEAR, MONTHLY, NEXT) for k in STRIKES)
    total_put = sum(OI.get((e, "put", k), 1) for e in (NEAR, MONTHLY, NEXT) for k in STRIKES)
    assert s["contracts"] == 30
    assert s["pc_oi"] == pytest.approx(total_put / total_call)
    assert s["pc_vol"] == pytest.approx(0.5)
    # calls at/above 101: 105 (500+1+1), 110 (300+1+700) -> 110; puts at/below: 95 (802) wins
    assert s["call_wall"] == 110.0
    assert s["put_wall"] == 95.0
    assert s["max_pain_expiry"] == MONTHLY
    # Jan-17: call 900 @100, put 950 @105, 1 elsewhere -> brute force below
    assert s["max_pain"] == _brute_max_pain(hand_chain, MONTHLY)
    assert s["max_pain"] in (100.0, 105.0)
    assert s["near_expiry"] == NEAR and s["next_expiry"] == NEXT
    assert s["atm_strike_near"] == 100.0
    atm = (smile_iv(NEAR, 100.0, "call") + smile_iv(NEAR, 100.0, "put")) / 2
    assert s["atm_iv_near"] == pytest.approx(atm)
    next_atm = (smile_iv(NEXT, 100.0, "call") + smile_iv(NEXT, 100.0, "put")) / 2
    assert s["iv_term_slope"] == pytest.approx(next_atm - atm)
    near = hand_chain[(hand_chain["expiry"] == NEAR) & (hand_chain["strike"] == 100.0)]
    assert s["em_near_pct"] == pytest.approx(near["mark"].sum() / SPOT)
    json.dumps(s, default=str)
    assert not any(isinstance(v, float) and math.isnan(v) for v in s.values())


def _brute_max_pain(chain: pd.DataFrame, expiry: dt.date) -> float:
    sub = chain[chain["expiry"] == expiry]
    best = None
    for k_star in sorted(sub["strike"].unique()):
        pain = 0.0
        for row in sub.itertuples():
            if row.option_type == "call":
                pain += row.open_interest * max(0.0, k_star - row.strike)
            else:
                pain += row.open_interest * max(0.0, row.strike - k_star)
        if best is None or pain < best[0]:
            best = (pain, k_star)
    return best[1]


def test_skew_and_gamma_peak(hand_chain: pd.DataFrame) -> None:
    s = summarize_chain(hand_chain, spot=SPOT, as_of=AS_OF)
    t = (NEAR - AS_OF).days / 365.0
    k = np.array(STRIKES)
    put_d = bs_greeks(SPOT, k, t, [smile_iv(NEAR, x, "put") for x in k], 0.0, False)["delta"]
    call_d = bs_greeks(SPOT, k, t, [smile_iv(NEAR, x, "call") for x in k], 0.0, True)["delta"]
    kp, kc = k[np.argmin(np.abs(put_d + 0.25))], k[np.argmin(np.abs(call_d - 0.25))]
    expected = (smile_iv(NEAR, kp, "put") - smile_iv(NEAR, kc, "call")) * 100
    assert s["skew_near_pp"] == pytest.approx(expected)
    exposure = hand_chain["bs_gamma"] * hand_chain["open_interest"] * 100 * SPOT**2 * 0.01
    assert s["gamma_peak_strike"] == exposure.groupby(hand_chain["strike"]).sum().idxmax()
    assert s["gamma_peak_strike"] == 105.0  # 500 near calls + 950 monthly puts near spot


def test_max_pain_tie_goes_to_lower_strike() -> None:
    expiry = dt.date(2025, 1, 17)
    chain = _mini([("call", 100.0, 10), ("put", 110.0, 10), ("call", 105.0, 0),
                   ("put", 95.0, 0)], expiry)
    # pain(95)=150, pain(100)=pain(105)=pain(110)=100
    assert max_pain(chain, expiry) == 100.0


def test_max_pain_expiry_rules() -> None:
    # Good Friday 2025-04-18: the April monthly expiry is Thursday 2025-04-17
    apr = [dt.date(2025, 4, 11), dt.date(2025, 4, 17), dt.date(2025, 4, 25)]
    assert max_pain_expiry(apr, dt.date(2025, 4, 7)) == dt.date(2025, 4, 17)
    assert max_pain_expiry(apr, dt.date(2025, 4, 17)) == dt.date(2025, 4, 17)
    assert max_pain_expiry(apr, dt.date(2025, 4, 18)) == dt.date(2025, 4, 25)  # no monthly left
    # vendor Saturday dates count as their Friday (Dec 2016: 17th is a Saturday)
    dec = [dt.date(2016, 12, 9), dt.date(2016, 12, 17), dt.date(2016, 12, 23)]
    assert max_pain_expiry(dec, dt.date(2016, 12, 5)) == dt.date(2016, 12, 17)
    # a Saturday after the Good Friday holiday still counts as the monthly
    assert max_pain_expiry([dt.date(2025, 4, 11), dt.date(2025, 4, 19)],
                           dt.date(2025, 4, 7)) == dt.date(2025, 4, 19)
    assert max_pain_expiry([], dt.date(2025, 4, 7)) is None


def test_holiday_monthly_in_summary() -> None:
    as_of = dt.date(2025, 4, 7)
    weekly, monthly = dt.date(2025, 4, 11), dt.date(2025, 4, 17)
    chain = pd.concat([
        _mini([("call", 100.0, 10), ("put", 100.0, 10)], weekly),
        _mini([("call", 100.0, 5), ("put", 100.0, 0), ("put", 110.0, 50), ("put", 95.0, 1)],
              monthly),
    ], ignore_index=True)
    s = summarize_chain(chain, spot=100.0, as_of=as_of)
    assert s["max_pain_expiry"] == monthly
    assert s["max_pain"] == 110.0  # pain: 95 -> 750, 100 -> 500, 110 -> 50
    assert s["near_expiry"] == dt.date(2025, 4, 17)  # weekly has only 4 days to run


def test_unknowns_are_none() -> None:
    chain = _mini([("put", 90.0, 0)], dt.date(2025, 1, 3)).assign(mark=np.nan)
    s = summarize_chain(chain, spot=100.0, as_of=dt.date(2025, 1, 2))
    assert s["pc_oi"] is None and s["pc_vol"] is None
    assert s["call_wall"] is None and s["put_wall"] is None and s["max_pain"] is None
    assert s["atm_iv_near"] is None and s["near_expiry"] is None and s["iv_term_slope"] is None
    with pytest.raises(ValueError, match="enrich"):
        summarize_chain(chain.drop(columns=["mark"]), spot=100.0, as_of=dt.date(2025, 1, 2))


def test_chart_frames(hand_chain: pd.DataFrame) -> None:
    oi = oi_by_strike(hand_chain)
    assert oi["strike"].tolist() == STRIKES
    assert oi.set_index("strike").loc[110.0, "call_oi"] == 1001
    near = oi_by_strike(hand_chain, NEAR).set_index("strike")
    assert near.loc[95.0, "put_oi"] == 800 and near.loc[95.0, "net_oi"] == 1 - 800
    smile = iv_smile(hand_chain, NEAR)
    assert list(smile.columns) == ["strike", "call_iv", "put_iv", "call_delta", "put_delta",
                                   "call_mark", "put_mark"]
    assert smile.loc[0, "put_iv"] == pytest.approx(smile_iv(NEAR, 90.0, "put"))
    ts = term_structure(hand_chain, spot=SPOT, as_of=AS_OF)
    assert ts["expiry"].tolist() == [NEAR, MONTHLY, NEXT]
    assert ts["days"].tolist() == [8, 15, 50]
    assert (ts["atm_strike"] == 100.0).all()
    assert ts["atm_iv"].is_monotonic_increasing
