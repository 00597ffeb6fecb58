"""Recorded-payload loaders and alpaca-py shape mirrors for provider tests."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

PAYLOADS = Path(__file__).parent / "payloads"


def load_payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text())


_BAR_KEYS = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume",
             "n": "trade_count", "vw": "vwap"}


def barset_from_raw(raw: dict[str, list[dict]]) -> SimpleNamespace:
    """What alpaca-py's BarSet(raw).df looks like: MultiIndex (symbol, timestamp UTC)."""
    rows = [{"symbol": sym, "timestamp": pd.Timestamp(b["t"]),
             **{v: b[k] for k, v in _BAR_KEYS.items()}}
            for sym, bars in raw.items() for b in bars]
    df = pd.DataFrame(rows).set_index(["symbol", "timestamp"])
    return SimpleNamespace(df=df)


def snapshot_from_raw(sym: str, raw: dict) -> SimpleNamespace:
    """Mirror of alpaca-py's OptionsSnapshot field mapping (bp→bid_price, p→price, …)."""
    q, t = raw.get("latestQuote"), raw.get("latestTrade")
    quote = q and SimpleNamespace(bid_price=q["bp"], ask_price=q["ap"],
                                  timestamp=pd.Timestamp(q["t"]).to_pydatetime())
    trade = t and SimpleNamespace(price=t["p"], size=t["s"],
                                  timestamp=pd.Timestamp(t["t"]).to_pydatetime())
    return SimpleNamespace(symbol=sym, latest_quote=quote, latest_trade=trade,
                           implied_volatility=raw.get("impliedVolatility"),
                           greeks=raw.get("greeks"))


def contracts_page_from_raw(raw: dict) -> SimpleNamespace:
    rows = [SimpleNamespace(**{**c, "strike_price": float(c["strike_price"]),
                               "expiration_date": pd.Timestamp(c["expiration_date"]).date()})
            for c in raw["option_contracts"]]
    return SimpleNamespace(option_contracts=rows, next_page_token=raw["next_page_token"])
