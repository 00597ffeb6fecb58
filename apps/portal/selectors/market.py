"""Warehouse reads for the Symbol Explorer, Derived History and Portfolio pages.

Every function is one parameterised query through :mod:`optionshelper.warehouse`; a page view model
runs its queries inside one ``warehouse.read()`` block, so they share one connection. Symbols and dates
arrive already validated by the page's form.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from apps.core import chain_sets
from apps.core.derived import IV_HISTORY_SQL
from apps.core.values import to_date
from apps.market import selectors as market_selectors
from optionshelper import warehouse

CHAIN_COLUMNS = (
    "contract_symbol, expiry, option_type, strike, bid, ask, last, mark, volume, open_interest, "
    "implied_vol, iv_source, bs_price, bs_delta, bs_gamma, bs_theta_per_day, bs_vega"
)


def known_symbols() -> list[str]:
    """Symbols with candles or snapshots: the choices of the explorer's symbol field."""
    rows = warehouse.fetch_all(
        "SELECT symbol FROM candles_daily UNION SELECT symbol FROM options_snapshot_headers "
        "ORDER BY 1"
    )
    return [row[0] for row in rows]


def derived_symbols() -> list[str]:
    return [
        r[0] for r in warehouse.fetch_all("SELECT DISTINCT symbol FROM derived_daily ORDER BY 1")
    ]


def candles(symbol: str, *, sessions: int) -> pd.DataFrame:
    """The last ``sessions`` daily candles, oldest first."""
    return warehouse.fetch_df(
        "SELECT date, open, high, low, close, volume FROM ("
        " SELECT * FROM candles_daily WHERE symbol = ? ORDER BY date DESC LIMIT ?"
        ") ORDER BY date",
        [symbol, sessions],
    )


def latest_snapshot(symbol: str) -> dict[str, Any] | None:
    """Newest snapshot header of a symbol (newest date; among providers the latest written)."""
    rows = latest_snapshots([symbol])
    return rows.get(symbol)


def latest_snapshots(symbols: list[str]) -> dict[str, dict[str, Any]]:
    """Newest snapshot header per symbol, one query for all of them."""
    return market_selectors.latest_snapshot_headers(symbols)


def chain(symbol: str, snapshot_date: dt.date, provider: str) -> pd.DataFrame:
    """One stored (enriched) chain snapshot."""
    return warehouse.fetch_df(
        f"SELECT {CHAIN_COLUMNS} FROM options_chain "
        "WHERE symbol = ? AND snapshot_date = ? AND provider = ? ORDER BY expiry, strike",
        [symbol, snapshot_date, provider],
    )


def snapshot_metrics(symbol: str, snapshot_date: dt.date) -> tuple[dict[str, Any], pd.DataFrame]:
    """The chain metrics (``summarize_chain``'s keys) and term structure of one stored snapshot,
    computed in the warehouse (the set-based SQL of ``compute_derived``)."""
    todo = {symbol: [snapshot_date]}
    with warehouse.read() as con:
        summary = chain_sets.summaries_on_connection(con, todo=todo)
        term = chain_sets.term_structures_on_connection(con, todo=todo)
    rows = chain_sets.summary_frame(summary).drop(columns=["symbol", "date"]).to_dict("records")
    return (rows[0] if rows else {}), term.drop(["symbol", "date"]).to_pandas(date_as_object=True)


def chains(headers: dict[str, dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """The chains behind a set of snapshot headers (one query per symbol, each short)."""
    return {
        symbol: chain(symbol, to_date(h["snapshot_date"]), h["provider"])
        for symbol, h in headers.items()
    }


# The rows with ``iv_history`` (counted over the symbol's whole history, then filtered by date).
_DERIVED_ROWS = (
    f"SELECT * EXCLUDE (updated_at), {IV_HISTORY_SQL} AS iv_history FROM derived_daily "
    "WHERE symbol = ? QUALIFY date >= ?"
)


def derived_history(symbol: str, *, since: dt.date) -> pd.DataFrame:
    """derived_daily rows of a symbol from ``since`` on, oldest first, with ``iv_history``."""
    return warehouse.fetch_df(f"{_DERIVED_ROWS} ORDER BY date", [symbol, since])


def derived_recent(symbol: str, *, since: dt.date, limit: int) -> pd.DataFrame:
    """The newest ``limit`` derived_daily rows of a symbol from ``since`` on, newest first, with
    ``iv_history``."""
    return warehouse.fetch_df(f"{_DERIVED_ROWS} ORDER BY date DESC LIMIT ?", [symbol, since, limit])


def latest_date(table: str, symbol: str) -> dt.date | None:
    """Newest market date of a symbol in candles_daily or derived_daily (fixed table names only)."""
    column = {"candles_daily": "date", "derived_daily": "date"}[table]
    rows = warehouse.fetch_all(f"SELECT max({column}) FROM {table} WHERE symbol = ?", [symbol])
    return rows[0][0] if rows else None
