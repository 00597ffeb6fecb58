"""Reads of market data from the warehouse; each function is one short read-only query."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

import pandas as pd

from apps.core import chain_sets
from apps.core.derived import DERIVED_METRICS_SQL, IV_HISTORY_SQL, SUMMARY_COLUMNS
from optionshelper import warehouse


def _dates(rows: list[tuple]) -> list[dt.date]:
    return [row[0] for row in rows]


def latest_candle_date(symbol: str) -> dt.date | None:
    rows = warehouse.fetch_all("SELECT max(date) FROM candles_daily WHERE symbol = ?", [symbol])
    return rows[0][0] if rows else None


def first_candle_date(symbol: str) -> dt.date | None:
    rows = warehouse.fetch_all("SELECT min(date) FROM candles_daily WHERE symbol = ?", [symbol])
    return rows[0][0] if rows else None


def candles(
    symbol: str, *, start: dt.date | None = None, end: dt.date | None = None
) -> pd.DataFrame:
    return warehouse.fetch_df(
        "SELECT * FROM candles_daily WHERE symbol = ? "
        "AND date >= coalesce(?, DATE '1900-01-01') AND date <= coalesce(?, DATE '2999-12-31') "
        "ORDER BY date",
        [symbol, start, end],
    )


def closes_up_to(symbol: str, day: dt.date, *, limit: int = 400) -> pd.Series:
    """The newest ``limit`` closes dated at or before ``day``, oldest first (no look-ahead)."""
    frame = warehouse.fetch_df(
        "SELECT date, close FROM (SELECT date, close FROM candles_daily "
        "WHERE symbol = ? AND date <= ? ORDER BY date DESC LIMIT ?) ORDER BY date",
        [symbol, day, limit],
    )
    return pd.Series(frame["close"].to_numpy(), index=list(frame["date"]), dtype="float64")


def bar_coverage(underlying: str, provider: str) -> pd.DataFrame:
    """Per contract of an underlying: the bar range already fetched (for resumable ingest)."""
    return warehouse.fetch_df(
        "SELECT c.contract_symbol, c.expiry, m.end_date, m.error_count "
        "FROM option_contracts c LEFT JOIN option_bars_meta m "
        "ON m.contract_symbol = c.contract_symbol AND m.provider = ? "
        "WHERE c.underlying = ?",
        [provider, underlying],
    )


def latest_bar_date(underlying: str, provider: str) -> dt.date | None:
    rows = warehouse.fetch_all(
        "SELECT max(b.date) FROM option_bars b JOIN option_contracts c USING (contract_symbol) "
        "WHERE c.underlying = ? AND b.provider = ?",
        [underlying, provider],
    )
    return rows[0][0] if rows else None


def candle_ranges(symbols: list[str]) -> dict[str, tuple[dt.date, dt.date]]:
    """(first, last) stored candle date per symbol, one query for the whole set."""
    if not symbols:
        return {}
    rows = warehouse.fetch_all(
        "SELECT symbol, min(date), max(date) FROM candles_daily "
        "WHERE symbol IN (SELECT unnest(?::VARCHAR[])) GROUP BY symbol",
        [list(symbols)],
    )
    return {symbol: (first, last) for symbol, first, last in rows}


def bar_coverage_many(underlyings: list[str], provider: str) -> pd.DataFrame:
    """Per stored contract of the underlyings: the bar range already fetched from ``provider``."""
    if not underlyings:
        return pd.DataFrame(columns=["underlying", "contract_symbol", "end_date"])
    return warehouse.fetch_df(
        "SELECT c.underlying, c.contract_symbol, m.end_date "
        "FROM option_contracts c JOIN option_bars_meta m "
        "ON m.contract_symbol = c.contract_symbol AND m.provider = ? "
        "WHERE c.underlying IN (SELECT unnest(?::VARCHAR[]))",
        [provider, list(underlyings)],
    )


def _newest_per_underlying(
    table: str, column: str, underlyings: list[str], provider: str
) -> dict[str, dt.date]:
    """Per underlying: the newest ``column`` of ``table``'s rows from ``provider`` for its
    contracts (one query for the set; an underlying without such rows is absent)."""
    if not underlyings:
        return {}
    rows = warehouse.fetch_all(
        f"SELECT c.underlying, max(x.{column}) FROM option_contracts c "
        f"JOIN {table} x USING (contract_symbol) "
        "WHERE x.provider = ? AND c.underlying IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1",
        [provider, list(underlyings)],
    )
    return {underlying: newest for underlying, newest in rows if newest is not None}


def bar_fetched_through(underlyings: list[str], provider: str) -> dict[str, dt.date]:
    """Per underlying with fetch records: the newest date a fetch from ``provider`` covered (the
    fetch records only: a small read)."""
    return _newest_per_underlying("option_bars_meta", "end_date", underlyings, provider)


def bar_newest(underlyings: list[str], provider: str) -> dict[str, dt.date]:
    """Per underlying with stored bars from ``provider``: the newest bar date (a scan of every
    bar of its contracts)."""
    return _newest_per_underlying("option_bars", "date", underlyings, provider)


def stored_snapshot_symbols(symbols: list[str], day: dt.date, provider: str) -> set[str]:
    """The symbols whose (symbol, ``day``, ``provider``) snapshot is already stored."""
    if not symbols:
        return set()
    rows = warehouse.fetch_all(
        "SELECT symbol FROM options_snapshot_headers WHERE snapshot_date = ? AND provider = ? "
        "AND symbol IN (SELECT unnest(?::VARCHAR[]))",
        [day, provider, list(symbols)],
    )
    return {row[0] for row in rows}


# A (symbol, date) may hold snapshots from several providers; the newest write wins everywhere.
_CURRENT_HEADERS = """
    SELECT * FROM options_snapshot_headers WHERE symbol = ?
    QUALIFY row_number() OVER (PARTITION BY symbol, snapshot_date ORDER BY updated_at DESC) = 1
"""


def _headers(symbol: str, provider: str | None) -> tuple[str, list[Any]]:
    """(SQL, params) of one symbol's current headers, or (``provider`` given) that provider's."""
    if provider is None:
        return _CURRENT_HEADERS, [symbol]
    sql = "SELECT * FROM options_snapshot_headers WHERE symbol = ? AND provider = ?"
    return sql, [symbol, provider]


def snapshot_dates(
    symbol: str, *, up_to: dt.date | None = None, provider: str | None = None
) -> list[dt.date]:
    """Stored snapshot dates of a symbol (of one provider if given) at or before ``up_to``,
    oldest first."""
    headers, params = _headers(symbol, provider)
    return _dates(
        warehouse.fetch_all(
            f"SELECT snapshot_date FROM ({headers}) "
            "WHERE snapshot_date <= coalesce(?, DATE '2999-12-31') ORDER BY snapshot_date",
            [*params, up_to],
        )
    )


def latest_snapshot_headers(symbols: list[str], *, up_to: dt.date | None = None) -> dict[str, dict]:
    """The newest snapshot header per symbol at or before ``up_to``, one query for all of them."""
    if not symbols:
        return {}
    frame = warehouse.fetch_df(
        "SELECT * FROM options_snapshot_headers WHERE list_contains(?::VARCHAR[], symbol) "
        "AND snapshot_date <= coalesce(?, DATE '2999-12-31') "
        "QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY snapshot_date DESC, "
        "updated_at DESC) = 1",
        [list(symbols), up_to],
    )
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    return {row["symbol"]: row for row in frame.to_dict("records")}


class StoredSnapshot(NamedTuple):
    """What the current header of one stored (symbol, date) says, without the chain."""

    snapshot_date: dt.date
    spot: float | None
    contracts: int  # chain rows as the writer counted them (0 if it did not)
    provider: str


def stored_snapshots(
    symbols: list[str], *, up_to: dt.date | None = None
) -> dict[str, list[StoredSnapshot]]:
    """Per symbol: its current header (the newest write) of every stored date at or before
    ``up_to``, oldest first; one query for all of them."""
    rows = warehouse.fetch_all(
        "SELECT symbol, snapshot_date, spot, coalesce(contracts, 0), provider "
        "FROM options_snapshot_headers WHERE list_contains(?::VARCHAR[], symbol) "
        "AND snapshot_date <= coalesce(?, DATE '2999-12-31') "
        "QUALIFY row_number() OVER (PARTITION BY symbol, snapshot_date ORDER BY updated_at DESC) = 1 "
        "ORDER BY symbol, snapshot_date",
        [list(symbols), up_to],
    )
    out: dict[str, list[StoredSnapshot]] = {}
    for symbol, day, spot, contracts, provider in rows:
        out.setdefault(symbol, []).append(StoredSnapshot(day, spot, int(contracts), provider))
    return out


def _derived_on_connection(con, summaries) -> pd.DataFrame:
    """DERIVED_METRICS_SQL over ``summaries`` (a frame or Arrow table registered as is)."""
    con.register("derived_raw", summaries)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP VIEW derived_new AS SELECT * REPLACE ("
            "CAST(date AS DATE) AS date, CAST(max_pain_expiry AS DATE) AS max_pain_expiry, "
            "CAST(near_expiry AS DATE) AS near_expiry, "
            "CAST(next_expiry AS DATE) AS next_expiry) FROM derived_raw"
        )
        return con.execute(DERIVED_METRICS_SQL).df()
    finally:
        con.execute("DROP VIEW IF EXISTS derived_new")
        con.unregister("derived_raw")


def derived_metrics(summaries: pd.DataFrame) -> pd.DataFrame:
    """derived_daily rows for ``summaries`` (symbol, date, spot and the chain-summary columns of
    the rows being computed): RV from stored closes and IV percentile/rank from the rows dated
    before each one (stored rows not being recomputed, plus ``summaries``), in one query."""
    frame = summaries.copy()
    frame["date"] = pd.to_datetime(frame["date"])
    for column in ("max_pain_expiry", "near_expiry", "next_expiry"):
        frame[column] = pd.to_datetime(frame[column])
    for column in ("spot", *SUMMARY_COLUMNS):
        if column not in ("max_pain_expiry", "near_expiry", "next_expiry"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    with warehouse.read() as con:
        return _derived_on_connection(con, frame)


def derived_batch(todo: dict[str, list[dt.date]]) -> pd.DataFrame:
    """derived_daily rows of every (symbol, date) in ``todo`` that has a stored snapshot, in one
    warehouse read: chain metrics of every snapshot set-based (apps.core.chain_sets), then RV and
    IV percentile/rank as :func:`derived_metrics`."""
    with warehouse.read() as con:
        summaries = chain_sets.summaries_on_connection(con, todo=todo)
        return _derived_on_connection(
            con, summaries.select(["symbol", "date", "spot", *SUMMARY_COLUMNS])
        )


def derived_up_to_date(newest: dict[str, dt.date]) -> set[str]:
    """The symbols whose derived_daily row for ``newest[symbol]`` (its newest snapshot date) was
    computed after everything it is computed from was stored: the current snapshot header of that
    date, the symbol's candles up to it and its earlier derived rows (the IV history its
    percentile and rank rank against; a backfill rewrites them), by ``updated_at`` of each. One
    query for the set."""
    if not newest:
        return set()
    rows = warehouse.fetch_all(
        "WITH k AS (SELECT unnest(?::VARCHAR[]) AS symbol, unnest(?::DATE[]) AS date), "
        "h AS (SELECT h.symbol, h.snapshot_date AS date, h.updated_at FROM "
        "options_snapshot_headers h SEMI JOIN k ON k.symbol = h.symbol AND k.date = h.snapshot_date "
        "QUALIFY row_number() OVER (PARTITION BY h.symbol, h.snapshot_date "
        "ORDER BY h.updated_at DESC) = 1) "
        "SELECT d.symbol FROM derived_daily d JOIN h ON h.symbol = d.symbol AND h.date = d.date "
        "WHERE d.updated_at >= h.updated_at AND NOT EXISTS (SELECT 1 FROM candles_daily c "
        "WHERE c.symbol = d.symbol AND c.date <= d.date AND c.updated_at > d.updated_at) "
        "AND NOT EXISTS (SELECT 1 FROM derived_daily p "
        "WHERE p.symbol = d.symbol AND p.date < d.date AND p.updated_at > d.updated_at)",
        [list(newest), list(newest.values())],
    )
    return {row[0] for row in rows}


def snapshot_header(symbol: str, snapshot_date: dt.date) -> dict | None:
    frame = warehouse.fetch_df(
        f"SELECT * FROM ({_CURRENT_HEADERS}) WHERE snapshot_date = ?", [symbol, snapshot_date]
    )
    return None if frame.empty else frame.iloc[0].to_dict()


def snapshot_chains(
    symbol: str, dates: list[dt.date], *, provider: str | None = None
) -> pd.DataFrame:
    """The chains of the given dates (of one provider if given) in one frame, with
    ``snapshot_date`` and ``spot`` columns."""
    if not dates:
        return pd.DataFrame()
    headers, params = _headers(symbol, provider)
    return warehouse.fetch_df(
        f"SELECT c.*, h.spot FROM ({headers}) h JOIN options_chain c "
        "ON c.symbol = h.symbol AND c.snapshot_date = h.snapshot_date AND c.provider = h.provider "
        "WHERE h.snapshot_date IN (SELECT unnest(?::DATE[])) ORDER BY c.snapshot_date",
        [*params, list(dates)],
    )


def derived_history(symbol: str, *, before: dt.date, limit: int = 252) -> pd.Series:
    """atm_iv_near of the ``limit`` newest derived rows dated strictly before ``before``."""
    frame = warehouse.fetch_df(
        "SELECT date, atm_iv_near FROM (SELECT date, atm_iv_near FROM derived_daily "
        "WHERE symbol = ? AND date < ? AND atm_iv_near IS NOT NULL ORDER BY date DESC LIMIT ?) "
        "ORDER BY date",
        [symbol, before, limit],
    )
    return pd.Series(frame["atm_iv_near"].to_numpy(), index=list(frame["date"]), dtype="float64")


def derived_recent_many(
    symbols: list[str], *, up_to: dt.date, limit: int = 2
) -> dict[str, list[dict[str, Any]]]:
    """Per symbol, its newest ``limit`` derived rows at or before ``up_to`` as plain records, newest
    first (one query for the set, read as Arrow; a symbol without rows is absent). Each row also
    carries ``iv_history`` (apps.core.derived.IV_HISTORY_SQL)."""
    if not symbols:
        return {}
    records = warehouse.fetch_records(
        f"SELECT *, {IV_HISTORY_SQL} AS iv_history FROM derived_daily WHERE symbol IN (SELECT unnest(?::VARCHAR[])) AND date <= ? "
        "QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY date DESC) <= ? "
        "ORDER BY symbol, date DESC",
        [list(symbols), up_to, limit],
    )
    recent: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        recent.setdefault(record["symbol"], []).append(record)
    return recent


def chains_for_headers(headers: dict[str, dict]) -> dict[str, pd.DataFrame]:
    """The stored chains behind a set of snapshot headers (symbol → frame), in one query."""
    if not headers:
        return {}
    keys = [(s, h["snapshot_date"], h["provider"]) for s, h in headers.items()]
    frame = warehouse.fetch_df(
        "SELECT c.* FROM options_chain c JOIN (SELECT unnest(?::VARCHAR[]) AS symbol, "
        "unnest(?::DATE[]) AS snapshot_date, unnest(?::VARCHAR[]) AS provider) k "
        "USING (symbol, snapshot_date, provider) ORDER BY c.symbol, c.expiry, c.strike",
        [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]],
    )
    return {
        symbol: group.reset_index(drop=True)
        for symbol, group in frame.groupby("symbol", sort=False)
    }
