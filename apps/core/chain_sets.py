"""Chain metrics (SPEC §6.5) of many snapshots at once: set-based SQL over ``options_chain``.

:func:`summaries_on_connection` computes, for every (symbol, snapshot date) it is given, exactly
what :func:`apps.core.chain.summarize_chain` returns for that stored chain, in one DuckDB pass on
the connection the caller passes (the warehouse for jobs, an in-memory connection over frames for
:func:`summarize_chains`). ``summarize_chain`` stays the straightforward reference.

Ties are broken as the reference breaks them on a stored chain (rows in ``contract_symbol``
order): walls, gamma peak, max pain and ATM strike go to the lower strike; skew picks the first
contract by ``contract_symbol``; the ATM IV of a strike side is its first non-missing one.
Max pain uses cumulative sums over sorted strikes (same tie tolerance as the reference).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator

import duckdb
import pandas as pd
import pyarrow as pa

from apps.core.chain import (  # noqa: F401 (SUMMARY_KEYS re-exported with the SQL)
    _REQUIRED,
    NEAR_MIN_DAYS,
    NEXT_MIN_GAP_DAYS,
    SUMMARY_KEYS,
    TARGET_DELTA,
    _is_monthly,
)
from apps.core.values import date_series, to_date

_DATE_KEYS = ("max_pain_expiry", "near_expiry", "next_expiry")


def _num(column: str) -> str:
    """A numeric column with NaN read as missing (pandas semantics)."""
    return f"CASE WHEN isnan(c.{column}) THEN NULL ELSE c.{column} END"


def _finite(expr: str) -> str:
    return f"CASE WHEN isfinite({expr}) THEN {expr} END"


# Inputs on the connection: ``summary_todo`` (symbol, snapshot_date), ``summary_monthly``
# (expiry, monthly), ``options_snapshot_headers`` and ``options_chain``. A (symbol, date) uses its
# current header (newest write wins across providers), as the per-row reads do.
#
# The chain is read once into ``c``. Totals, walls and gamma are sums per (snapshot, strike); the
# ATM strike of an expiry is the nearer of the nearest paired strikes at/below and above spot,
# which are each side's nearest marked strikes whenever those agree (otherwise the expiry's
# strikes are paired); its values come from the contracts at that strike.
_CHAIN_CTES = f"""
WITH todo AS (
    SELECT h.symbol, h.snapshot_date, h.provider, h.spot,
        CASE WHEN isfinite(h.spot) AND h.spot > 0 THEN h.spot END AS uspot,
        row_number() OVER (ORDER BY h.symbol, h.snapshot_date) AS sid
    FROM options_snapshot_headers h SEMI JOIN summary_todo t
        ON t.symbol = h.symbol AND t.snapshot_date = h.snapshot_date
    QUALIFY row_number() OVER (
        PARTITION BY h.symbol, h.snapshot_date ORDER BY h.updated_at DESC) = 1
),
c AS (
    SELECT t.sid, t.uspot, c.contract_symbol, c.expiry,
        {_num("strike")} AS strike,
        starts_with(lower(CAST(c.option_type AS VARCHAR)), 'c') AS is_call,
        {_num("open_interest")} AS oi, {_num("volume")} AS volume, {_num("mark")} AS mark,
        {_num("implied_vol")} AS iv, {_num("bs_delta")} AS delta, {_num("bs_gamma")} AS gamma
    FROM todo t JOIN options_chain c
        ON c.symbol = t.symbol AND c.snapshot_date = t.snapshot_date AND c.provider = t.provider
    WHERE c.symbol BETWEEN $symbol_lo AND $symbol_hi AND c.snapshot_date BETWEEN $date_lo AND $date_hi
),
by_strike AS (
    SELECT s.*, t.uspot FROM (
        SELECT sid, strike, count(*) AS contracts,
            sum(oi) FILTER (WHERE is_call) AS call_oi,
            sum(oi) FILTER (WHERE NOT is_call) AS put_oi,
            sum(volume) FILTER (WHERE is_call) AS call_volume,
            sum(volume) FILTER (WHERE NOT is_call) AS put_volume,
            sum(gamma * oi * 100.0::DOUBLE * (uspot * uspot) * 0.01::DOUBLE) AS gamma_v
        FROM c GROUP BY sid, strike
    ) s JOIN todo t ON t.sid = s.sid
),
totals AS (
    SELECT sid, CAST(sum(contracts) AS BIGINT) AS contracts,
        coalesce(sum(call_oi), 0.0) AS total_call_oi,
        coalesce(sum(put_oi), 0.0) AS total_put_oi,
        coalesce(sum(call_volume), 0.0) AS total_call_volume,
        coalesce(sum(put_volume), 0.0) AS total_put_volume
    FROM by_strike GROUP BY sid
),
levels AS (
    SELECT sid,
        arg_min(strike, struct_pack(a := -call_oi, b := strike))
            FILTER (WHERE strike >= uspot AND call_oi > 0) AS call_wall,
        arg_min(strike, struct_pack(a := -put_oi, b := strike))
            FILTER (WHERE strike <= uspot AND put_oi > 0) AS put_wall,
        arg_min(strike, struct_pack(a := -gamma_v, b := strike))
            FILTER (WHERE gamma_v > 0) AS gamma_peak_strike
    FROM by_strike WHERE uspot IS NOT NULL AND strike IS NOT NULL
    GROUP BY sid
),
expiries AS (  -- each side's nearest marked strikes at/below and above spot
    SELECT e.*, date_diff('day', t.snapshot_date, e.expiry) AS days, t.uspot FROM (
        SELECT sid, expiry,
            max(strike) FILTER (WHERE is_call AND mark IS NOT NULL AND strike <= uspot) AS call_lo,
            max(strike) FILTER (WHERE NOT is_call AND mark IS NOT NULL AND strike <= uspot)
                AS put_lo,
            min(strike) FILTER (WHERE is_call AND mark IS NOT NULL AND strike > uspot) AS call_hi,
            min(strike) FILTER (WHERE NOT is_call AND mark IS NOT NULL AND strike > uspot)
                AS put_hi
        FROM c WHERE expiry IS NOT NULL GROUP BY sid, expiry
    ) e JOIN todo t ON t.sid = e.sid
),
mp_expiry AS (
    SELECT sid, coalesce(min(e.expiry) FILTER (WHERE m.monthly), min(e.expiry)) AS max_pain_expiry
    FROM expiries e LEFT JOIN summary_monthly m ON m.expiry = e.expiry
    WHERE e.days >= 0
    GROUP BY sid
),
mp_strikes AS (
    SELECT c.sid, c.strike,
        coalesce(sum(coalesce(c.oi, 0.0)) FILTER (WHERE c.is_call), 0.0) AS c_oi,
        coalesce(sum(coalesce(c.oi, 0.0) * c.strike) FILTER (WHERE c.is_call), 0.0) AS c_ois,
        coalesce(sum(coalesce(c.oi, 0.0)) FILTER (WHERE NOT c.is_call), 0.0) AS p_oi,
        coalesce(sum(coalesce(c.oi, 0.0) * c.strike) FILTER (WHERE NOT c.is_call), 0.0) AS p_ois
    FROM c JOIN mp_expiry x ON x.sid = c.sid AND c.expiry = x.max_pain_expiry
    WHERE c.strike IS NOT NULL
    GROUP BY c.sid, c.strike
),
mp_pain AS (
    SELECT sid, strike,
        strike * sum(c_oi) OVER up - sum(c_ois) OVER up
            + sum(p_ois) OVER down - strike * sum(p_oi) OVER down AS pain,
        sum(c_oi + p_oi) OVER whole AS total_oi
    FROM mp_strikes
    WINDOW whole AS (PARTITION BY sid),
        up AS (PARTITION BY sid ORDER BY strike
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
        down AS (PARTITION BY sid ORDER BY strike
            ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
),
max_pain AS (
    SELECT sid,
        min(strike) FILTER (WHERE pain <= low + 1e-9 * greatest(1.0, abs(low))) AS max_pain
    FROM (SELECT *, min(pain) OVER (PARTITION BY sid) AS low FROM mp_pain)
    WHERE total_oi > 0
    GROUP BY sid
),
unpaired AS (  -- the sides disagree: pair the expiry's marked strikes
    SELECT sid, expiry FROM expiries
    WHERE call_lo <> put_lo OR call_hi <> put_hi
),
paired AS (
    SELECT sid, expiry,
        max(strike) FILTER (WHERE strike <= uspot) AS lo,
        min(strike) FILTER (WHERE strike > uspot) AS hi
    FROM (
        SELECT c.sid, c.expiry, c.strike, any_value(c.uspot) AS uspot
        FROM c SEMI JOIN unpaired u ON u.sid = c.sid AND u.expiry = c.expiry
        WHERE c.mark IS NOT NULL AND c.strike IS NOT NULL AND c.uspot IS NOT NULL
        GROUP BY c.sid, c.expiry, c.strike
        HAVING bool_or(c.is_call) AND bool_or(NOT c.is_call)
    )
    GROUP BY sid, expiry
),
atm_strikes AS (  -- the nearer of the two (ties: the lower strike)
    SELECT e.sid, e.expiry, e.days, e.uspot,
        CASE WHEN p.expiry IS NULL THEN
            CASE WHEN e.call_lo = e.put_lo THEN e.call_lo END ELSE p.lo END AS lo,
        CASE WHEN p.expiry IS NULL THEN
            CASE WHEN e.call_hi = e.put_hi THEN e.call_hi END ELSE p.hi END AS hi
    FROM expiries e LEFT JOIN paired p ON p.sid = e.sid AND p.expiry = e.expiry
),
atm_pick AS (
    SELECT sid, expiry, days, uspot,
        CASE WHEN hi IS NULL OR uspot - lo <= hi - uspot THEN lo ELSE hi END AS atm_strike
    FROM atm_strikes WHERE lo IS NOT NULL OR hi IS NOT NULL
),
atm AS (  -- several marked contracts on one side of the strike: the first one's values
    SELECT p.sid, p.expiry, any_value(p.days) AS days, any_value(p.uspot) AS uspot,
        any_value(p.atm_strike) AS atm_strike,
        arg_min(c.mark, c.contract_symbol) FILTER (WHERE c.is_call)
            + arg_min(c.mark, c.contract_symbol) FILTER (WHERE NOT c.is_call) AS straddle,
        arg_min(c.iv, c.contract_symbol) FILTER (WHERE c.is_call AND c.iv IS NOT NULL)
            AS call_iv,
        arg_min(c.iv, c.contract_symbol) FILTER (WHERE NOT c.is_call AND c.iv IS NOT NULL)
            AS put_iv,
        CASE WHEN call_iv IS NOT NULL AND put_iv IS NOT NULL THEN (call_iv + put_iv) / 2.0
            ELSE coalesce(call_iv, put_iv) END AS atm_iv
    FROM atm_pick p JOIN c
        ON c.sid = p.sid AND c.expiry = p.expiry AND c.strike = p.atm_strike
    WHERE c.mark IS NOT NULL
    GROUP BY p.sid, p.expiry
),
near AS (
    SELECT sid, min(expiry) AS near_expiry,
        arg_min(atm_strike, expiry) AS atm_strike_near,
        arg_min_null(atm_iv, expiry) AS atm_iv_near,
        arg_min(straddle, expiry) AS straddle, any_value(uspot) AS uspot
    FROM atm WHERE days >= {NEAR_MIN_DAYS}
    GROUP BY sid
),
nxt AS (
    SELECT a.sid, min(a.expiry) AS next_expiry, arg_min_null(a.atm_iv, a.expiry) AS next_iv
    FROM atm a JOIN near n ON n.sid = a.sid
    WHERE a.expiry >= n.near_expiry + INTERVAL {NEXT_MIN_GAP_DAYS} DAY
    GROUP BY a.sid
),
skew AS (
    SELECT c.sid,
        (arg_min(c.iv, struct_pack(a := abs(c.delta + {TARGET_DELTA}), b := c.contract_symbol))
            FILTER (WHERE NOT c.is_call)
        - arg_min(c.iv, struct_pack(a := abs(c.delta - {TARGET_DELTA}), b := c.contract_symbol))
            FILTER (WHERE c.is_call)) * 100.0::DOUBLE AS skew_near_pp
    FROM c JOIN near n ON n.sid = c.sid AND c.expiry = n.near_expiry
    WHERE c.delta IS NOT NULL AND c.iv IS NOT NULL
    GROUP BY c.sid
)
"""
SUMMARIES_SQL = (
    _CHAIN_CTES
    + f"""
SELECT t.symbol, t.snapshot_date AS date,
    {_finite("t.spot")} AS spot,
    coalesce(tt.contracts, 0) AS contracts,
    coalesce(tt.total_call_oi, 0.0) AS total_call_oi,
    coalesce(tt.total_put_oi, 0.0) AS total_put_oi,
    coalesce(tt.total_call_volume, 0.0) AS total_call_volume,
    coalesce(tt.total_put_volume, 0.0) AS total_put_volume,
    CASE WHEN tt.total_call_oi > 0 THEN {_finite("tt.total_put_oi / tt.total_call_oi")} END
        AS pc_oi,
    CASE WHEN tt.total_call_volume > 0
        THEN {_finite("tt.total_put_volume / tt.total_call_volume")} END AS pc_vol,
    x.max_pain_expiry, mp.max_pain,
    l.call_wall, l.put_wall, l.gamma_peak_strike,
    n.near_expiry, n.atm_strike_near, {_finite("n.atm_iv_near")} AS atm_iv_near,
    {_finite("n.straddle / n.uspot")} AS em_near_pct,
    {_finite("s.skew_near_pp")} AS skew_near_pp,
    {_finite("nx.next_iv - n.atm_iv_near")} AS iv_term_slope,
    nx.next_expiry
FROM todo t
LEFT JOIN totals tt ON tt.sid = t.sid
LEFT JOIN mp_expiry x ON x.sid = t.sid
LEFT JOIN max_pain mp ON mp.sid = t.sid
LEFT JOIN levels l ON l.sid = t.sid
LEFT JOIN near n ON n.sid = t.sid
LEFT JOIN nxt nx ON nx.sid = t.sid
LEFT JOIN skew s ON s.sid = t.sid
ORDER BY t.symbol, t.snapshot_date
"""
)

# The chain rows of each (symbol, date) to do, as its current header's writer counted them.
_SIZES_SQL = """
SELECT h.symbol, h.snapshot_date, coalesce(h.contracts, 0) AS contracts
FROM options_snapshot_headers h SEMI JOIN summary_todo t
    ON t.symbol = h.symbol AND t.snapshot_date = h.snapshot_date
QUALIFY row_number() OVER (
    PARTITION BY h.symbol, h.snapshot_date ORDER BY h.updated_at DESC) = 1
ORDER BY h.symbol, h.snapshot_date
"""

_EXPIRIES_SQL = """
SELECT DISTINCT c.expiry FROM options_chain c SEMI JOIN summary_todo t
    ON t.symbol = c.symbol AND t.snapshot_date = c.snapshot_date
WHERE c.expiry IS NOT NULL
"""


# The ATM of every live expiry (days > 0) of each (symbol, date): what ``chain.term_structure``
# returns per snapshot (NULL ATM values where an expiry has no call/put pair with marks).
TERM_STRUCTURE_SQL = (
    _CHAIN_CTES
    + """
SELECT t.symbol, t.snapshot_date AS date, e.expiry, e.days, a.atm_strike, a.atm_iv, a.straddle,
    CASE WHEN isfinite(a.straddle / a.uspot) THEN a.straddle / a.uspot END AS em_pct
FROM todo t
JOIN expiries e ON e.sid = t.sid AND e.days > 0
LEFT JOIN atm a ON a.sid = e.sid AND a.expiry = e.expiry
ORDER BY t.symbol, t.snapshot_date, e.expiry
"""
)


@contextlib.contextmanager
def _inputs(con: duckdb.DuckDBPyConnection, todo: dict[str, list[dt.date]]) -> Iterator[None]:
    """``summary_todo`` and ``summary_monthly`` registered on ``con`` for the duration."""
    keys = pa.table(
        {
            "symbol": pa.array([s for s, days in todo.items() for _ in days], pa.string()),
            "snapshot_date": pa.array(
                [to_date(d) for days in todo.values() for d in days], pa.date32()
            ),
        }
    )
    con.register("summary_todo", keys)
    try:
        expiries = [row[0] for row in con.execute(_EXPIRIES_SQL).fetchall()]
        monthly = pa.table(
            {
                "expiry": pa.array(expiries, pa.date32()),
                "monthly": pa.array([_is_monthly(e) for e in expiries], pa.bool_()),
            }
        )
        con.register("summary_monthly", monthly)
        try:
            yield
        finally:
            con.unregister("summary_monthly")
    finally:
        con.unregister("summary_todo")


SUMMARY_CHUNK_ROWS = 1_000_000  # chain rows per statement: it holds them in memory (~130 B each)
# The database's memory limit while the statements of more than one slice run: past it, DuckDB
# drops the chain blocks it has read and cached (a warehouse stored date by date puts every symbol
# in every block, so even one symbol's read touches most of the file).
SUMMARY_MEMORY_LIMIT = "512MB"


def _run_bounded(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """``sql`` over ``summary_todo`` in consecutive slices of at most SUMMARY_CHUNK_ROWS chain rows
    (a snapshot with more is a slice of its own), results concatenated in order. Each statement
    gets its slice's symbol and date ranges as constants, which the chain scan filters on."""
    sizes = con.execute(_SIZES_SQL).fetchall()
    slices: list[list[tuple]] = []
    rows = 0
    for size in sizes:
        if not slices or rows + size[2] > SUMMARY_CHUNK_ROWS:
            slices.append([])
            rows = 0
        slices[-1].append(size)
        rows += size[2]
    # One slice (a page's few snapshots) leaves the shared instance's setting alone.
    bounded = (
        _memory_limit(con, SUMMARY_MEMORY_LIMIT) if len(slices) > 1 else contextlib.nullcontext()
    )
    with bounded:
        return _run_slices(con, sql, slices)


_limit_guard = threading.Lock()
_limit_holders = 0
_limit_previous = ""


@contextlib.contextmanager
def _memory_limit(con: duckdb.DuckDBPyConnection, limit: str) -> Iterator[None]:
    """The database's memory limit set to ``limit`` while any thread of this process runs
    summaries, then back to the default (or, when it was not the default, to what it was as DuckDB
    prints it). The setting belongs to the DuckDB instance, which a process's accesses share, so
    the first holder sets it and the last restores it."""
    global _limit_holders, _limit_previous
    setting = "SELECT current_setting('memory_limit')"
    with _limit_guard:
        if _limit_holders == 0:
            _limit_previous = con.execute(setting).fetchone()[0]
            con.execute(f"SET memory_limit = '{limit}'")
        _limit_holders += 1
    try:
        yield
    finally:
        with _limit_guard:
            _limit_holders -= 1
            if _limit_holders == 0:
                con.execute("RESET memory_limit")
                if con.execute(setting).fetchone()[0] != _limit_previous:
                    con.execute(f"SET memory_limit = '{_limit_previous}'")


def _run_slices(con: duckdb.DuckDBPyConnection, sql: str, slices: list[list[tuple]]) -> pa.Table:
    tables = []
    for part in slices:
        if len(slices) > 1:
            keys = pa.table(
                {
                    "symbol": pa.array([p[0] for p in part], pa.string()),
                    "snapshot_date": pa.array([p[1] for p in part], pa.date32()),
                }
            )
            con.register("summary_todo", keys)
        ranges = {
            "symbol_lo": part[0][0],
            "symbol_hi": part[-1][0],
            "date_lo": min(p[1] for p in part),
            "date_hi": max(p[1] for p in part),
        }
        tables.append(con.execute(sql, ranges).to_arrow_table())
    if not tables:  # nothing to do: the empty result, typed
        nothing = dict.fromkeys(("symbol_lo", "symbol_hi", "date_lo", "date_hi"))
        return con.execute(sql, nothing).to_arrow_table()
    return pa.concat_tables(tables)


def summaries_on_connection(
    con: duckdb.DuckDBPyConnection, *, todo: dict[str, list[dt.date]]
) -> pa.Table:
    """Chain metrics of every (symbol, date) in ``todo`` from the relations visible on ``con``.

    One row per (symbol, date) that has a snapshot header: ``symbol``, ``date`` and
    :data:`SUMMARY_KEYS` (NULL where summarize_chain gives None), ordered by symbol and date.
    On one connection: the chain sizes and distinct expiries (their monthly flag comes from the
    exchange calendar), then the summaries, one statement per SUMMARY_CHUNK_ROWS chain rows.
    """
    with _inputs(con, todo):
        return _run_bounded(con, SUMMARIES_SQL)


def term_structures_on_connection(
    con: duckdb.DuckDBPyConnection, *, todo: dict[str, list[dt.date]]
) -> pa.Table:
    """ATM strike, IV, straddle and expected move (fraction of spot) of every live expiry of each
    (symbol, date) in ``todo``: ``symbol``, ``date``, ``expiry``, ``days``, ``atm_strike``,
    ``atm_iv``, ``straddle``, ``em_pct`` (``chain.term_structure`` per snapshot, set-based)."""
    with _inputs(con, todo):
        return _run_bounded(con, TERM_STRUCTURE_SQL)


_FRAME_COLUMNS = ("contract_symbol", *_REQUIRED)  # the chain columns the metrics read


@contextlib.contextmanager
def _frame_connection(
    chains: pd.DataFrame, spots: dict[dt.date, float | None]
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB whose ``options_chain`` and ``options_snapshot_headers`` are ONE
    symbol's enriched chains (a ``snapshot_date`` column) and each date's header spot."""
    if "contract_symbol" not in chains:
        chains = chains.assign(contract_symbol=[f"R{i:09d}" for i in range(len(chains))])
    frame = pd.DataFrame(
        {
            "symbol": "X",
            "snapshot_date": date_series(chains["snapshot_date"]),
            "provider": "frame",
            **{c: chains[c] for c in _FRAME_COLUMNS},
        }
    )
    frame["expiry"] = date_series(frame["expiry"])
    for c in _FRAME_COLUMNS[3:]:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    frame["option_type"] = frame["option_type"].astype(str)
    sizes = frame["snapshot_date"].value_counts()
    headers = pd.DataFrame(
        {
            "symbol": "X",
            "snapshot_date": list(spots),
            "provider": "frame",
            "spot": pd.array([_float(s) for s in spots.values()], dtype="Float64"),
            "contracts": [int(sizes.get(day, 0)) for day in spots],
            "updated_at": pd.Timestamp("2000-01-01"),
        }
    )
    con = duckdb.connect()
    try:
        con.register("chain_frame", frame)
        con.register("header_frame", headers)
        con.execute(
            "CREATE TEMP VIEW options_chain AS SELECT * REPLACE (CAST(snapshot_date AS DATE) "
            "AS snapshot_date, CAST(expiry AS DATE) AS expiry) FROM chain_frame"
        )
        con.execute(
            "CREATE TEMP VIEW options_snapshot_headers AS SELECT * REPLACE (CAST(snapshot_date "
            "AS DATE) AS snapshot_date, CAST(spot AS DOUBLE) AS spot) FROM header_frame"
        )
        yield con
    finally:
        con.close()


def summarize_chains(chains: pd.DataFrame, spots: dict[dt.date, float | None]) -> pd.DataFrame:
    """Chain metrics of ONE symbol's enriched chains (a ``snapshot_date`` column, several dates)
    through the same SQL the job runs on the warehouse; ``spots`` gives each date's header spot.

    One row per date of ``spots`` (index: the date; columns :data:`SUMMARY_KEYS`, python dates
    in the date columns, None where unknown).
    """
    with _frame_connection(chains, spots) as con:
        table = summaries_on_connection(con, todo={"X": list(spots)})
    return summary_frame(table).drop(columns="symbol").set_index("date")


def term_structures(chains: pd.DataFrame, spots: dict[dt.date, float | None]) -> pd.DataFrame:
    """The term structure of ONE symbol's chains per date (columns ``date`` and those of
    ``chain.term_structure``; NaN where an expiry has no ATM pair) through the warehouse SQL."""
    with _frame_connection(chains, spots) as con:
        table = term_structures_on_connection(con, todo={"X": list(spots)})
    return table.drop(["symbol"]).to_pandas(date_as_object=True)


def summary_frame(table: pa.Table) -> pd.DataFrame:
    """A summaries table as a frame: python dates, None (not NaN) where unknown."""
    frame = table.to_pandas(date_as_object=True)
    return frame.astype(object).where(frame.notna(), None)


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
