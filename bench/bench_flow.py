"""compute_flow over a demo universe × window N (prints numbers; not a test).

Makes sure the warehouse holds the last N+1 sessions of snapshots for S0001..SNNNN (seeding only
the missing ones with snapshot_options; reuse a warehouse with --data-dir), then times
``execute_job('compute_flow', window=N)``: seconds, flow rows written per second, peak memory.
The flow rows land in the metadata DB: SQLite by default, PostgreSQL with --database-url
(run ``manage.py db_init`` against it first, or let this script do it).

``--reference`` (default on) also measures, in the same process on the same warehouse, with
alternating runs and the median of ``--repeat``:
  * compute: the product's flow read (apps.analytics.selectors.flow_batch, Arrow out) vs one plain
    hand-written DuckDB query (connect, query, Arrow out);
  * persist: stores.flow_partitions_replace of those rows vs a raw bulk load of the same rows into
    the same table (COPY on PostgreSQL, one executemany of prepared tuples on SQLite), rolled back.
``--derived`` also times compute_derived --all-dates over ``--sessions`` (default 252) sessions per
symbol. Sessions beyond the snapshot_options-seeded ones are seeded by copying a seeded session of
the same weekday (chain rows and headers, expiries shifted by the same whole weeks) with one
INSERT ... SELECT per table in DuckDB. Printed: the full run, and on ``--derived-subset`` symbols ×
all sessions the set-based job against the previous per-(symbol, date) path (one chain read per
symbol, summarize_chain per date, then the same RV/percentile SQL and write), alternating, median.

    python bench/bench_flow.py --symbols 500 --window 5
    python bench/bench_flow.py --symbols 500 --data-dir /tmp/flowbench \\
        --database-url postgres://postgres@127.0.0.1:5432/optionshelper_bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_ingest import max_rss_mb, setup_django  # noqa: E402


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--symbols", type=int, default=500)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--group-by", default="contract")
    p.add_argument("--as-of", default="2026-11-20", help="a past session (default 2026-11-20)")
    p.add_argument("--data-dir", default=None, help="reuse this data dir (default: a temp dir)")
    p.add_argument("--database-url", default=None, help="metadata DB (default: SQLite in data dir)")
    p.add_argument("--no-reference", dest="reference", action="store_false")
    p.add_argument("--repeat", type=int, default=3, help="alternating runs per side (median)")
    p.add_argument("--derived", action="store_true", help="also time compute_derived --all-dates")
    p.add_argument("--sessions", type=int, default=252, help="--derived: sessions per symbol")
    p.add_argument(
        "--derived-subset",
        type=int,
        default=2,
        help="--derived: symbols timed against the old path (0: none)",
    )
    p.add_argument("--no-flow", dest="flow", action="store_false", help="skip the flow timings")
    p.add_argument(
        "--old", action="store_true", help="also time the previous per-symbol pandas compute"
    )
    p.add_argument(
        "--seed-only",
        action="store_true",
        help="seed the warehouse (and --derived sessions), time nothing",
    )
    return p.parse_args()


# The reference: the same flow (group-by contract) as one plain DuckDB query.
REFERENCE_SQL = """
WITH h AS (
    SELECT symbol, snapshot_date, provider, spot FROM options_snapshot_headers
    WHERE snapshot_date <= $as_of AND list_contains($symbols, symbol)
    QUALIFY row_number() OVER (PARTITION BY symbol, snapshot_date ORDER BY updated_at DESC) = 1
),
u AS (
    SELECT *, row_number() OVER (PARTITION BY symbol ORDER BY snapshot_date DESC) AS rn FROM h
    QUALIFY rn <= $window + 1
),
c AS (
    SELECT u.symbol, u.rn, u.spot, c.contract_symbol, c.option_type, c.expiry, c.strike,
        c.volume, c.open_interest, c.mark, c.bs_delta
    FROM options_chain c JOIN u USING (symbol, snapshot_date, provider)
)
SELECT t.symbol, t.contract_symbol, t.expiry, t.option_type, t.strike,
    sum(t.open_interest - b.open_interest) AS delta_oi,
    sum((t.open_interest - b.open_interest) * t.mark * 100) AS delta_oi_notional,
    sum(t.volume * t.mark * 100) AS volume_notional,
    sum((t.open_interest - b.open_interest) * t.bs_delta * t.spot * 100) AS delta_notional,
    sum(t.volume) AS volume, sum(b.open_interest) AS prior_oi, count(*) AS n_pairs
FROM c t LEFT JOIN c b
    ON b.symbol = t.symbol AND b.rn = t.rn + 1 AND b.contract_symbol = t.contract_symbol
WHERE t.rn <= $window
GROUP BY ALL
"""


def median(values: list[float]) -> float:
    return statistics.median(values)


def reference_compute(path: str, symbols: list[str], as_of, window: int):
    import duckdb

    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(
            REFERENCE_SQL, {"as_of": as_of, "symbols": symbols, "window": window}
        ).to_arrow_table()
    finally:
        con.close()


def raw_bulk_load(table) -> None:
    """The rows (already in the table's column order) loaded with nothing else around them."""
    from django.db import connection

    from apps.analytics.models import OptionsFlow
    from apps.analytics.stores import ROW_TABLE_COLUMNS

    name = connection.ops.quote_name(OptionsFlow._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in ROW_TABLE_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            import io

            import pyarrow.csv as pa_csv

            buffer = io.BytesIO()
            pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
            with cursor.cursor.copy(f"COPY {name} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
        else:
            values = table  # prepared tuples
            marks = ", ".join(["%s"] * len(ROW_TABLE_COLUMNS))
            cursor.executemany(f"INSERT INTO {name} ({columns}) VALUES ({marks})", values)


class Rollback(Exception):
    pass


def timed_in_rollback(fn) -> float:
    from django.db import transaction

    started = time.perf_counter()
    try:
        with transaction.atomic():
            fn()
            elapsed = time.perf_counter() - started
            raise Rollback
    except Rollback:
        return elapsed


def main() -> None:
    args = parse()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-flow-"))
    setup_django(data_dir, args.database_url)
    from django.db import connection

    from apps.core import calendar
    from apps.core.asof import resolve_as_of
    from apps.core.jobs import JobParams
    from apps.pipeline.jobs import execute_job
    from optionshelper import warehouse

    symbols = tuple(f"S{i:04d}" for i in range(1, args.symbols + 1))
    as_of = dt.date.fromisoformat(args.as_of)
    sessions = calendar.sessions_between(as_of - dt.timedelta(days=60), as_of)[-(args.window + 1) :]
    stored = {
        (s, d)
        for s, d in warehouse.fetch_all(
            "SELECT symbol, snapshot_date FROM options_snapshot_headers WHERE provider = 'demo'"
        )
    }
    seed_started = time.perf_counter()
    for day in sessions:
        todo = tuple(s for s in symbols if (s, day) not in stored)
        if todo:
            print(f"seeding {day}: snapshot_options for {len(todo)} symbols ...", flush=True)
            execute_job("snapshot_options", JobParams(as_of=resolve_as_of(day), symbols=todo))
    seed_seconds = time.perf_counter() - seed_started
    print(f"data dir              {data_dir}")
    print(f"metadata DB           {connection.vendor}")
    if args.seed_only:
        if args.derived:
            derived_seed(args, symbols, as_of)
        return
    if args.flow:
        flow_run(args, symbols, as_of, sessions, seed_seconds)
    if args.derived:
        derived_bench(args, symbols, as_of)


def flow_run(args, symbols: tuple[str, ...], as_of: dt.date, sessions, seed_seconds) -> None:
    from apps.core.asof import resolve_as_of
    from apps.core.jobs import JobParams
    from apps.pipeline.jobs import execute_job
    from optionshelper import warehouse

    chain_rows = warehouse.fetch_all(
        "SELECT count(*) FROM options_chain WHERE snapshot_date BETWEEN ? AND ?",
        [sessions[0], sessions[-1]],
    )[0][0]
    rss_before = max_rss_mb()
    started = time.perf_counter()
    execution = execute_job(
        "compute_flow",
        JobParams(
            as_of=resolve_as_of(as_of),
            symbols=symbols,
            options={"window": args.window, "group_by": args.group_by, "persist": True},
        ),
    )
    seconds = time.perf_counter() - started
    rows = sum(p.rows for p in execution.result.partitions) if execution.result else 0
    print(f"symbols × window      {len(symbols)} × {args.window} ({sessions[0]} → {sessions[-1]})")
    print(f"chain rows read       {chain_rows:,}  (seeding took {seed_seconds:,.0f} s)")
    print(f"run                   {execution.outcome.status}")
    print(f"flow rows written     {rows:,}")
    print(f"seconds               {seconds:,.1f}  ({seconds / len(symbols):.3f} s/symbol)")
    print(f"rows written/s        {rows / seconds:,.0f}")
    print(f"peak RSS (ru_maxrss)  {max_rss_mb():,.0f} MiB  (before the run: {rss_before:,.0f} MiB)")
    if args.reference:
        compare(args, symbols, as_of)
    if args.old:
        old_compute(args, symbols, as_of)


def seed_copies(symbols: tuple[str, ...], as_of: dt.date, n: int) -> list[dt.date]:
    """The last ``n`` sessions up to ``as_of`` stored for every symbol: each missing session is a
    copy of a stored session of the same weekday (expiries shifted by the same whole weeks), one
    INSERT ... SELECT per table."""
    import pyarrow as pa

    from apps.core import calendar
    from optionshelper import warehouse

    targets = calendar.sessions_between(as_of - dt.timedelta(days=2 * n), as_of)[-n:]
    stored = sorted(
        {
            d
            for (d,) in warehouse.fetch_all(
                "SELECT DISTINCT snapshot_date FROM options_snapshot_headers "
                "WHERE symbol = ? AND provider = 'demo'",
                [symbols[0]],
            )
        }
    )
    missing = [d for d in targets if d not in stored]
    if not missing:
        return targets
    pairs = []
    for day in missing:
        same = [s for s in stored if s.weekday() == day.weekday()] or stored
        source = min(same, key=lambda s: abs((s - day).days))
        pairs.append((day, source, (day - source).days))
    mapping = pa.table(
        {
            "target": pa.array([p[0] for p in pairs], pa.date32()),
            "source": pa.array([p[1] for p in pairs], pa.date32()),
            "shift": pa.array([p[2] for p in pairs], pa.int32()),
        }
    )
    started = time.perf_counter()
    with warehouse.transaction() as con:
        con.register("copy_map", mapping)
        con.execute(
            "INSERT INTO options_snapshot_headers SELECT h.* REPLACE (m.target AS snapshot_date, "
            "now() AS updated_at) FROM options_snapshot_headers h JOIN copy_map m "
            "ON h.snapshot_date = m.source WHERE list_contains(?::VARCHAR[], h.symbol) "
            "AND h.provider = 'demo'",
            [list(symbols)],
        )
        con.execute(
            "INSERT INTO options_chain SELECT c.* REPLACE (m.target AS snapshot_date, "
            "c.expiry + m.shift AS expiry) FROM options_chain c JOIN copy_map m "
            "ON c.snapshot_date = m.source WHERE list_contains(?::VARCHAR[], c.symbol) "
            "AND c.provider = 'demo'",
            [list(symbols)],
        )
        con.unregister("copy_map")
    print(
        f"seeded {len(missing)} sessions × {len(symbols)} symbols by copying stored sessions "
        f"in {time.perf_counter() - started:,.1f} s"
    )
    return targets


def derived_seed(args, symbols: tuple[str, ...], as_of: dt.date) -> list[dt.date]:
    """The ``--sessions`` sessions of every symbol (copies where missing) and their candles."""
    from apps.core.asof import resolve_as_of
    from apps.core.jobs import JobParams
    from apps.pipeline.jobs import execute_job
    from optionshelper import warehouse

    sessions = seed_copies(symbols, as_of, args.sessions)
    if not warehouse.fetch_all(
        "SELECT 1 FROM candles_daily WHERE symbol = ? LIMIT 1", [symbols[0]]
    ):
        execute_job("ingest_candles", JobParams(as_of=resolve_as_of(as_of), symbols=symbols))
    return sessions


def derived_bench(args, symbols: tuple[str, ...], as_of: dt.date) -> None:
    from apps.core.asof import resolve_as_of
    from apps.core.jobs import JobParams
    from apps.pipeline.jobs import execute_job
    from optionshelper import warehouse

    sessions = derived_seed(args, symbols, as_of)
    chain_rows = warehouse.fetch_all(
        "SELECT count(*) FROM options_chain WHERE snapshot_date BETWEEN ? AND ? "
        "AND list_contains(?::VARCHAR[], symbol)",
        [sessions[0], sessions[-1], list(symbols)],
    )[0][0]
    print(
        f"derived: {len(symbols)} symbols × {len(sessions)} sessions ({sessions[0]} → "
        f"{sessions[-1]}), {chain_rows:,} chain rows"
    )

    def new_job(subset: tuple[str, ...]) -> tuple[float, int]:
        started = time.perf_counter()
        execution = execute_job(
            "compute_derived",
            JobParams(as_of=resolve_as_of(as_of), symbols=subset, options={"all_dates": True}),
        )
        seconds = time.perf_counter() - started
        assert execution.outcome.status == "success", execution.outcome
        return seconds, sum(p.rows for p in execution.result.partitions)

    def plain_scan() -> float:
        """The reference: one plain DuckDB aggregate over the same chain rows per (symbol, date),
        reading the columns the derived metrics read (no metric logic)."""
        started = time.perf_counter()
        warehouse.fetch_all(
            "SELECT symbol, snapshot_date, count(*), sum(strike * open_interest), sum(volume), "
            "avg(implied_vol), sum(bs_gamma * open_interest), min(expiry), max(mark) "
            "FROM options_chain WHERE snapshot_date BETWEEN ? AND ? "
            "AND list_contains(?::VARCHAR[], symbol) GROUP BY ALL",
            [sessions[0], sessions[-1], list(symbols)],
        )
        return time.perf_counter() - started

    # The full runs first, so the peak RSS printed is the job's (the old path below holds whole
    # chains in pandas); each alternates with the plain reference.
    rss_before = max_rss_mb()
    full, plain = [], []
    for _ in range(args.repeat):
        seconds, rows = new_job(symbols)
        full.append(seconds)
        plain.append(plain_scan())
    print(
        f"compute_derived --all-dates on {len(symbols)} × {len(sessions)}: {rows:,} rows in "
        f"{median(full):,.1f} s (median of {args.repeat}: {', '.join(f'{s:.1f}' for s in full)})"
    )
    print(
        f"  plain DuckDB aggregate of the same chain rows per (symbol, date), alternating: "
        f"{median(plain):,.1f} s (ratio {median(full) / median(plain):.2f}x)"
    )
    print(f"peak RSS (ru_maxrss)  {max_rss_mb():,.0f} MiB  (before: {rss_before:,.0f} MiB)")
    subset = symbols[: args.derived_subset]
    if not subset:
        return
    mine, old = [], []
    for _ in range(args.repeat):
        seconds, sub_rows = new_job(subset)
        mine.append(seconds)
        started = time.perf_counter()
        old_rows = old_derived(subset, as_of)
        old.append(time.perf_counter() - started)
    print(
        f"compute_derived --all-dates on {len(subset)} symbols × {len(sessions)} sessions "
        f"(median of {args.repeat}, alternating)"
    )
    print(f"  set-based job                {median(mine):8.2f} s  ({sub_rows:,} rows)")
    print(f"  previous per-date path       {median(old):8.2f} s  ({old_rows:,} rows)")
    print(f"  ratio                        {median(old) / median(mine):8.1f}x faster")
    print(
        f"previous path extrapolated to {len(symbols)} symbols: "
        f"{median(old) * len(symbols) / len(subset):,.0f} s"
    )


def old_derived(symbols: tuple[str, ...], as_of: dt.date) -> int:
    """The previous compute_derived: per symbol one chain read, summarize_chain per date, then
    the same RV/percentile SQL and one write."""
    import pandas as pd

    from apps.core import chain as chain_metrics
    from apps.core import derived
    from apps.market import selectors
    from apps.market import stores as warehouse_stores

    stored = selectors.stored_snapshots(list(symbols), up_to=as_of)
    summaries = []
    for symbol in symbols:
        todo = [(snap.snapshot_date, snap.spot) for snap in stored.get(symbol, [])]
        chains = selectors.snapshot_chains(symbol, [day for day, _ in todo])
        chains["snapshot_date"] = pd.to_datetime(chains["snapshot_date"]).dt.date
        by_date = dict(tuple(chains.groupby("snapshot_date")))
        for day, spot in todo:
            chain = by_date.get(day, chains.iloc[0:0])
            summary = chain_metrics.summarize_chain(chain, spot=float(spot), as_of=day)
            row = {"symbol": symbol.upper(), "date": day, "spot": summary.get("spot")}
            row.update({key: summary.get(key) for key in derived.SUMMARY_COLUMNS})
            summaries.append(row)
    columns = ["symbol", "date", "spot", *derived.SUMMARY_COLUMNS]
    rows = selectors.derived_metrics(pd.DataFrame(summaries, columns=columns))
    warehouse_stores.derived_write(rows=rows, provider="derived")
    return len(rows)


def old_compute(args, symbols: tuple[str, ...], as_of: dt.date) -> None:
    """The previous implementation's compute (tests/analytics/flow_reference.py), per symbol."""
    from apps.market import selectors
    from tests.analytics import flow_reference

    started = time.perf_counter()
    rows = 0
    for symbol in symbols:
        dates = selectors.snapshot_dates(symbol, up_to=as_of)[-(args.window + 1) :]
        chains = selectors.snapshot_chains(symbol, dates)
        result = flow_reference.compute_flow(
            chains, as_of_date=dates[-1], window=args.window, group_by=args.group_by
        )
        rows += len(result.rows)
    seconds = time.perf_counter() - started
    print(f"previous per-symbol pandas compute  {rows:,} rows in {seconds:,.2f} s")


def compare(args, symbols: tuple[str, ...], as_of: dt.date) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    from apps.analytics import selectors, stores
    from apps.analytics.models import OptionsFlowPartition
    from apps.core.flow import ROW_COLUMNS
    from optionshelper import warehouse

    path = str(warehouse.warehouse_path())
    mine, ref = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        batch = selectors.flow_batch(
            symbols=list(symbols), as_of=as_of, window=args.window, group_by=args.group_by
        )
        mine.append(time.perf_counter() - started)
        started = time.perf_counter()
        reference = reference_compute(path, list(symbols), as_of, args.window)
        ref.append(time.perf_counter() - started)
    print(f"compute (median of {args.repeat}, alternating)")
    print(f"  flow_batch          {median(mine):8.2f} s  ({batch.rows.num_rows:,} rows)")
    print(f"  plain DuckDB query  {median(ref):8.2f} s  ({reference.num_rows:,} rows)")
    print(f"  ratio               {median(mine) / median(ref):8.2f}x")

    ok = batch.ok()
    existing = dict(
        OptionsFlowPartition.objects.filter(
            window=args.window, group_by=args.group_by, to_date=as_of
        ).values_list("symbol", "pk")
    )
    index = pc.index_in(batch.rows["symbol"], value_set=pa.array(list(existing)))
    n = batch.rows.num_rows
    by_symbol = {p.symbol: p for p in ok}
    raw = pa.table(
        {
            "partition_id": pc.take(pa.array(list(existing.values()), pa.int64()), index),
            "symbol": batch.rows["symbol"],
            "from_date": pc.take(
                pa.array([by_symbol[s].from_date for s in existing], pa.date32()), index
            ),
            "to_date": pa.array([as_of] * n, pa.date32()),
            "window": pa.array([args.window] * n, pa.int64()),
            "group_by": pa.array([args.group_by] * n, pa.string()),
            **{
                c: pc.fill_null(batch.rows[c], "")
                if c in ("contract_symbol", "option_type")
                else batch.rows[c]
                for c in ROW_COLUMNS
            },
        }
    )
    from django.db import connection

    if connection.vendor != "postgresql":
        for c in ("from_date", "to_date", "expiry"):
            raw = raw.set_column(raw.schema.get_field_index(c), c, pc.cast(raw[c], pa.string()))
        raw = list(zip(*(raw[c].to_pylist() for c in raw.column_names), strict=True))
    persist, load, delete = [], [], []
    for _ in range(args.repeat):
        persist.append(
            timed_in_rollback(
                lambda: stores.flow_partitions_replace(
                    partitions=ok,
                    rows=batch.rows,
                    window=args.window,
                    group_by=args.group_by,
                    run_id=None,
                )
            )
        )

        def bulk() -> None:
            from django.db import connection

            from apps.analytics.models import OptionsFlow

            table = connection.ops.quote_name(OptionsFlow._meta.db_table)
            ids = list(existing.values())
            started = time.perf_counter()
            with connection.cursor() as cursor:  # the rows being replaced, by their keys
                cursor.execute(
                    f"DELETE FROM {table} WHERE partition_id IN ({', '.join(['%s'] * len(ids))})",
                    ids,
                )
            deleted = time.perf_counter() - started
            raw_bulk_load(raw)
            load.append(time.perf_counter() - started)
            delete.append(deleted)

        timed_in_rollback(bulk)
    print(f"persist (median of {args.repeat}, alternating, each rolled back; {n:,} rows)")
    print(
        f"  flow_partitions_replace  {median(persist):8.2f} s  (keyed delete + partitions + rows)"
    )
    print(
        f"  raw delete + bulk load   {median(load):8.2f} s  (of which the delete "
        f"{median(delete):.2f} s; prepared values)"
    )
    print(f"  ratio                    {median(persist) / median(load):8.2f}x")


if __name__ == "__main__":
    main()
