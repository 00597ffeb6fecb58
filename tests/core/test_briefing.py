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


def test_a_spread_gets_a_position_row_with_its_own_cost_and_pnl():
    leg = {"position_id": "s", "symbol": "NVDA", "expiry": "2027-02-19", "contracts": 1}
    portfolio = {
        "positions": [
            {**leg, "side": "long", "option_type": "call", "strike": 75.0, "mark": 8.0},
            {**leg, "side": "short", "option_type": "call", "strike": 85.0, "mark": 3.8},
            {
                "position_id": "p",
                "symbol": "SPY",
                "option_type": "put",
                "expiry": "2027-02-19",
                "strike": 395.0,
                "contracts": 3,
                "cost": 4.98,
                "pnl": 1273.5,
            },
        ],
        "position_totals": [
            {"position_id": "s", "cost": 69.0, "pnl": 351.0, "pnl_pct": 508.7, "spread_pct": 5.3},
            {"position_id": "p", "cost": 1494.0, "pnl": 1273.5, "pnl_pct": 85.2},
        ],
        "greeks": {},
        "stress": [],
    }
    lines = _portfolio_section(portfolio)
    table = lines[: next(i for i, line in enumerate(lines) if line.startswith("**Greeks"))]
    rows = [line for line in table if line.startswith("| ")][1:]
    assert rows == [
        "| s | NVDA | long call | 2027-02-19 | 75 | 1 | — | 8.00 | — | — | — |",
        "| s | NVDA | short call | 2027-02-19 | 85 | 1 | — | 3.80 | — | — | — |",
        "| s | NVDA | position (2 legs) |  |  |  | 69.00 | — | 351.00 | 508.7% | 5.3% |",
        "| p | SPY | long put | 2027-02-19 | 395 | 3 | 4.98 | — | 1,273.50 | — | — |",
    ]
