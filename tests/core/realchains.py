"""Every real vendor chain of ``REALDATA_DIR`` as enriched (symbol, date) chains with a spot, for
tests that compare a computation against :func:`apps.core.chain.summarize_chain`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd

from apps.core.greeks import enrich_chain
from apps.core.osi import format_osi
from tests.core.realdata import COLUMNS
from tests.support import REALDATA_DIR

CHAIN_COLS = ["contract_symbol", "option_type", "expiry", "strike", "bid", "ask", "last",
              "volume", "open_interest", "implied_vol"]


def _deltaneutral(name: str) -> Iterator[tuple[str, dt.date, float | None, pd.DataFrame]]:
    raw = pd.read_csv(REALDATA_DIR / name, skipinitialspace=True).rename(columns=COLUMNS)
    raw["snapshot_date"] = pd.to_datetime(raw["snapshot_date"], format="%m/%d/%Y").dt.date
    raw["expiry"] = pd.to_datetime(raw["expiry"], format="%m/%d/%Y").dt.date  # Saturdays kept
    symbol = str(raw["underlying"].iloc[0])
    for day, chain in raw.groupby("snapshot_date"):
        yield symbol, day, float(chain["spot"].iloc[0]), chain[CHAIN_COLS]


def _deltaneutral_a() -> Iterator[tuple[str, dt.date, float | None, pd.DataFrame]]:
    raw = pd.read_csv(REALDATA_DIR / "deltaneutral_A_2016-01-05_with_T1OI.csv",
                      skipinitialspace=True)
    chain = pd.DataFrame({
        "contract_symbol": raw["OptionSymbol"], "option_type": raw["Type"],
        "expiry": pd.to_datetime(raw["Expiration"], format="%m/%d/%Y").dt.date,
        "strike": raw["Strike"], "bid": raw["Bid"], "ask": raw["Ask"], "last": raw["Last"],
        "volume": raw["Volume"], "open_interest": raw["OpenInterest"],
        "implied_vol": raw["IVMean"],
    })
    yield "A", dt.date(2016, 1, 5), float(raw["UnderlyingPrice"].iloc[0]), chain


def _cboe_vix() -> Iterator[tuple[str, dt.date, float | None, pd.DataFrame]]:
    raw = pd.read_csv(REALDATA_DIR / "cboe_datashop_VIX_2016-06-01.csv")
    expiry = pd.to_datetime(raw["expiration"]).dt.date
    chain = pd.DataFrame({
        "contract_symbol": [format_osi("VIX", e, t, k) for e, t, k in
                            zip(expiry, raw["option_type"], raw["strike"], strict=True)],
        "option_type": raw["option_type"], "expiry": expiry, "strike": raw["strike"],
        "bid": raw["bid_eod"], "ask": raw["ask_eod"], "last": raw["close"],
        "volume": raw["trade_volume"], "open_interest": raw["open_interest"],
        "implied_vol": np.nan,  # no IV in the file: solved where a mark allows
    })
    spot = float((raw["underlying_bid_eod"].iloc[0] + raw["underlying_ask_eod"].iloc[0]) / 2)
    yield "VIX", dt.date(2016, 6, 1), spot, chain  # includes an expiry on the as-of date


def _yahoo_aapl() -> Iterator[tuple[str, dt.date, float | None, pd.DataFrame]]:
    raw = pd.read_csv(REALDATA_DIR / "yahoo_AAPL_chain_2025-10-06.csv")
    chain = pd.DataFrame({
        "contract_symbol": raw["contract_symbol"], "option_type": raw["type"],
        "expiry": pd.to_datetime(raw["expiration"]).dt.date, "strike": raw["strike"],
        "bid": raw["bid"], "ask": raw["ask"], "last": raw["last_price"],
        "volume": raw["volume"], "open_interest": raw["open_interest"],
        "implied_vol": raw["implied_volatility"],
    })
    # no underlying price in the file: a plausible close, and the no-usable-spot case
    yield "AAPL", dt.date(2025, 10, 6), 256.5, chain
    yield "AAPLNOSPOT", dt.date(2025, 10, 6), None, chain


def _lean_goog() -> Iterator[tuple[str, dt.date, float | None, pd.DataFrame]]:
    for path in sorted((REALDATA_DIR / "lean_goog_universes").glob("*.csv")):
        raw = pd.read_csv(path)
        spot = float(raw["close"].iloc[0])
        raw = raw.iloc[1:]
        expiry = pd.to_datetime(raw["#expiry"].astype(int).astype(str), format="%Y%m%d").dt.date
        right = raw["right"].map({"C": "call", "P": "put"})
        chain = pd.DataFrame({
            "contract_symbol": [format_osi("GOOG", e, t, float(k)) for e, t, k in
                                zip(expiry, right, raw["strike"], strict=True)],
            "option_type": right, "expiry": expiry, "strike": raw["strike"].astype(float),
            "bid": np.nan, "ask": np.nan, "last": raw["close"], "volume": raw["volume"],
            "open_interest": raw["open_interest"], "implied_vol": raw["implied_volatility"],
        })
        yield "GOOG", dt.datetime.strptime(path.stem, "%Y%m%d").date(), spot, chain


def real_chains() -> Iterator[tuple[str, dt.date, float | None, pd.DataFrame]]:
    """(symbol, date, spot, enriched chain in contract_symbol order) for every real session."""
    sources = (
        lambda: _deltaneutral("deltaneutral_VXX_2016-12.csv"),
        lambda: _deltaneutral("deltaneutral_SPXW_2018-01-02_2018-02-28.csv"),
        _deltaneutral_a, _cboe_vix, _yahoo_aapl, _lean_goog,
    )
    for source in sources:
        for symbol, day, spot, chain in source():
            enriched = enrich_chain(chain.reset_index(drop=True), spot=spot or np.nan,
                                    as_of=day, risk_free_rate=0.01)
            ordered = enriched.sort_values("contract_symbol", kind="mergesort")
            yield symbol, day, spot, ordered.reset_index(drop=True)
