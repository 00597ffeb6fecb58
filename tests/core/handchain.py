"""A hand-built enriched-chain scenario with known answers, shared by the analytics tests."""

import datetime as dt

import numpy as np
import pandas as pd

from apps.core.greeks import bs_price, enrich_chain
from apps.core.osi import format_osi

AS_OF = dt.date(2025, 1, 2)  # Thursday
SPOT = 101.0
NEAR, MONTHLY, NEXT = dt.date(2025, 1, 10), dt.date(2025, 1, 17), dt.date(2025, 2, 21)
STRIKES = [90.0, 95.0, 100.0, 105.0, 110.0]

# (expiry, type, strike) -> open interest; everything else gets 1
OI = {
    (NEAR, "call", 105.0): 500, (NEAR, "call", 110.0): 300, (MONTHLY, "call", 100.0): 900,
    (NEAR, "put", 95.0): 800, (NEAR, "put", 100.0): 200, (MONTHLY, "put", 105.0): 950,
    (NEXT, "call", 110.0): 700, (NEXT, "put", 90.0): 600,
}


def smile_iv(expiry: dt.date, strike: float, kind: str) -> float:
    """Put skew, upward term structure and a small call/put gap at the money."""
    base = {NEAR: 0.30, MONTHLY: 0.32, NEXT: 0.35}[expiry]
    return base + 0.004 * (100.0 - strike) + (0.01 if kind == "put" else 0.0)


def build_hand_chain() -> pd.DataFrame:
    rows = []
    for expiry in (NEAR, MONTHLY, NEXT):
        t = (expiry - AS_OF).days / 365.0
        for kind in ("call", "put"):
            for strike in STRIKES:
                iv = smile_iv(expiry, strike, kind)
                px = float(bs_price(SPOT, strike, t, iv, 0.0, kind == "call"))
                rows.append({
                    "contract_symbol": format_osi("TEST", expiry, kind, strike),
                    "option_type": kind, "expiry": expiry, "strike": strike,
                    "bid": round(px * 0.98, 6), "ask": round(px * 1.02, 6), "last": np.nan,
                    "last_trade_at": None, "volume": 10 if kind == "call" else 5,
                    "open_interest": OI.get((expiry, kind, strike), 1), "implied_vol": iv,
                })
    return pd.DataFrame(rows)


def hand_chain_enriched() -> pd.DataFrame:
    return enrich_chain(build_hand_chain(), spot=SPOT, as_of=AS_OF)
