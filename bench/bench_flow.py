"""compute_flow over a demo universe × window N (prints numbers; not a test).

Makes sure the warehouse holds the last N+1 sessions of snapshots for S0001..SNNNN (seeding only
the missing ones with snapshot_options; reuse a warehouse with --data-dir), then times
``execute_job('compute_flow', window=N)``: seconds, flow rows written per second, peak memory.
The flow rows land in the metadata DB: SQLite by default, PostgreSQL with --database-url
(run ``manage.py db_init`` against it first, or let this script do it).

    python bench/bench_flow.py --symbols 500 --window 5
    python bench/bench_flow.py --symbols 500 --data-dir /tmp/flowbench \\
        --database-url postgres://postgres@127.0.0.1:5432/optionshelper_bench
"""

from __future__ import annotations

import argparse
import datetime as dt
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
    return p.parse_args()


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
    print(f"data dir              {data_dir}")
    print(f"metadata DB           {connection.vendor}")
    print(f"symbols × window      {len(symbols)} × {args.window} ({sessions[0]} → {sessions[-1]})")
    print(f"chain rows read       {chain_rows:,}  (seeding took {seed_seconds:,.0f} s)")
    print(f"run                   {execution.outcome.status}")
    print(f"flow rows written     {rows:,}")
    print(f"seconds               {seconds:,.1f}  ({seconds / len(symbols):.3f} s/symbol)")
    print(f"rows written/s        {rows / seconds:,.0f}")
    print(f"peak RSS (ru_maxrss)  {max_rss_mb():,.0f} MiB  (before the run: {rss_before:,.0f} MiB)")


if __name__ == "__main__":
    main()
