"""The briefing's Markdown (apps/core/briefing.py): pure, a dict in, text out."""

from __future__ import annotations

from apps.core.briefing import _portfolio_section


def test_delta_is_shown_per_underlying_and_never_summed():
    position = {"position_id": "p", "option_type": "call", "expiry": "2027-01-15", "strike": 1.0}
    portfolio = {
        "positions": [{**position, "symbol": "AAPL"}, {**position, "symbol": "SPY"}],
        "greeks": {
            "delta_shares_by_underlying": {"SPY": -91.5, "AAPL": 70.9},
            "theta_per_day": -72.37,
            "vega_per_vol_point": 256.61,
        },
        "stress": [],
    }
    (greeks,) = [line for line in _portfolio_section(portfolio) if line.startswith("**Greeks:**")]
    assert greeks == (
        "**Greeks:** delta in shares of each underlying: AAPL 71, SPY -92 · theta -72.37 $/day · "
        "vega 256.61 $ per vol point (model figures)"
    )
