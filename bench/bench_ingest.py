"""snapshot_options throughput over a large demo universe (prints numbers; not a test).

Generates symbols S0001..SNNNN (the demo provider serves any valid ticker), runs
``execute_job('snapshot_options', ...)`` for one fixed past session in a throwaway data dir (or
``--data-dir``), and prints chain rows written, rows/s and peak memory. It also prints, measured in
the same run, the job's write step (time inside ``stores.snapshots_write``) next to a raw Arrow
insert of the same rows (``INSERT INTO <empty copy of options_chain> SELECT * FROM arrow_table`` in
one transaction), the time of a second run that finds everything stored (up_to_date skips), and
an order-independent hash of the chain and header tables (equal hashes: the same rows written).

    python bench/bench_ingest.py --symbols 100
    python bench/bench_ingest.py --symbols 100 --no-second-run   # e.g. alternating with c280b0f
    python bench/bench_ingest.py --symbols 50 --tracemalloc
    python bench/bench_ingest.py --symbols 100 --cold-calendar   # the job builds the calendar

``db_init`` (run before the clock, as a user runs it first) caches the NYSE calendar in the data
dir; ``--cold-calendar`` removes that cache so the job builds it, as the first job of a data dir
did before ``db_init`` built it (trees older than d19aa3e always do).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--symbols", type=int, default=500)
    p.add_argument("--as-of", default="2026-11-20", help="a past session (default 2026-11-20)")
    p.add_argument("--data-dir", default=None, help="reuse this data dir (default: a temp dir)")
    p.add_argument("--database-url", default=None, help="metadata DB (default: SQLite in data dir)")
    p.add_argument("--tracemalloc", action="store_true", help="also report Python peak allocations")
    p.add_argument("--no-second-run", action="store_true", help="skip the second (up_to_date) run")
    p.add_argument(
        "--cold-calendar", action="store_true", help="the job builds the calendar (no cache)"
    )
    return p.parse_args()


def setup_django(data_dir: Path, database_url: str | None) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["OPTIONS_HELPER_DATA_DIR"] = str(data_dir)
    os.environ["OPTIONS_HELPER_DUCKDB_PATH"] = str(data_dir / "warehouse" / "options.duckdb")
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{data_dir / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "optionshelper.settings_test"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("db_init", verbosity=0, stdout=open(os.devnull, "w"))


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    args = parse()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-ingest-"))
    setup_django(data_dir, args.database_url)
    from apps.core.asof import resolve_as_of
    from apps.core.jobs import JobParams
    from apps.market import stores
    from apps.pipeline.jobs import execute_job
    from optionshelper import warehouse

    # The write step: the batched writer, or the per-symbol writer of older trees (for "before").
    writer = "snapshots_write" if hasattr(stores, "snapshots_write") else "snapshot_write"
    write_seconds = [0.0]
    original_write = getattr(stores, writer)

    def timed_write(**kwargs):
        t0 = time.perf_counter()
        try:
            return original_write(**kwargs)
        finally:
            write_seconds[0] += time.perf_counter() - t0

    setattr(stores, writer, timed_write)
    # The job module's imports (scipy.special via greeks) are process start-up, not ingest work:
    # load them before the clock starts, in every tree alike.
    import_module("apps.market.jobs")
    if args.cold_calendar:
        from apps.core import calendar

        for cached in (data_dir / "cache").glob("xnys-*.bin"):
            cached.unlink()
        calendar._tables.cache_clear()
    symbols = tuple(f"S{i:04d}" for i in range(1, args.symbols + 1))
    as_of = dt.date.fromisoformat(args.as_of)
    rss_before = max_rss_mb()
    if args.tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    execution = execute_job(
        "snapshot_options", JobParams(as_of=resolve_as_of(as_of), symbols=symbols)
    )
    seconds = time.perf_counter() - started
    peak_py = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
    rows = sum(p.rows for p in execution.result.partitions) if execution.result else 0
    stored = warehouse.fetch_all("SELECT count(*) FROM options_chain")[0][0]
    checksums = {table: table_checksum(warehouse, table) for table in CHECKED_TABLES}
    raw_seconds = raw_arrow_insert(warehouse)
    first_write = write_seconds[0]
    rerun_seconds, skipped = float("nan"), 0
    if not args.no_second_run:
        started = time.perf_counter()
        params = JobParams(as_of=resolve_as_of(as_of), symbols=symbols)
        again = execute_job("snapshot_options", params)
        rerun_seconds = time.perf_counter() - started
        skipped = len(again.result.symbols_with("skipped")) if again.result else 0
    size = (data_dir / "warehouse" / "options.duckdb").stat().st_size / 2**20
    print(f"data dir              {data_dir}")
    print(f"symbols               {len(symbols)}  as-of {as_of}  run {execution.outcome.status}")
    print(f"chain rows written    {rows:,}  (stored in options_chain: {stored:,})")
    print(f"seconds               {seconds:,.1f}  ({seconds / len(symbols):.3f} s/symbol)")
    print(f"rows/s                {rows / seconds:,.0f}")
    print(
        f"write step            {first_write:,.2f} s  (raw Arrow insert of the same rows: "
        f"{raw_seconds:,.2f} s; ratio {first_write / raw_seconds:,.2f}x)"
    )
    print(f"second run            {rerun_seconds:,.2f} s  ({skipped} symbols skipped up_to_date)")
    for table, (count, digest) in checksums.items():
        print(f"checksum {table:<24} {count:,} rows  {digest}")
    print(f"peak RSS (ru_maxrss)  {max_rss_mb():,.0f} MiB  (after setup: {rss_before:,.0f} MiB)")
    if peak_py is not None:
        print(f"tracemalloc peak      {peak_py:,.0f} MiB")
    print(f"warehouse file        {size:,.0f} MiB")


CHECKED_TABLES = ("options_chain", "options_snapshot_headers")


def table_checksum(warehouse, table: str) -> tuple[int, str]:
    """Row count and an order-independent hash of every column but ``updated_at`` (so two runs
    that wrote the same rows print the same digest)."""
    columns = [
        r[0]
        for r in warehouse.fetch_all(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        )
        if r[0] != "updated_at"
    ]
    row = warehouse.fetch_all(
        f"SELECT count(*), sum(hash({', '.join(columns)})::HUGEINT) FROM {table}"
    )[0]
    return int(row[0]), format(int(row[1] or 0) % 2**64, "016x")


def raw_arrow_insert(warehouse) -> float:
    """Seconds to insert every stored chain row again, from Arrow, into an empty copy of the table
    (the same definition: columns, constraints)."""
    with warehouse.write() as con:
        ddl = con.execute(
            "SELECT sql FROM duckdb_tables() WHERE table_name = 'options_chain'"
        ).fetchone()[0]
        con.execute("DROP TABLE IF EXISTS bench_chain_copy")
        con.execute(ddl.replace("options_chain", "bench_chain_copy", 1))
        table = con.execute("SELECT * FROM options_chain").to_arrow_table()
        con.register("bench_rows", table)
        started = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        con.execute("INSERT INTO bench_chain_copy SELECT * FROM bench_rows")
        con.execute("COMMIT")
        seconds = time.perf_counter() - started
        con.unregister("bench_rows")
        con.execute("DROP TABLE bench_chain_copy")
    return seconds


if __name__ == "__main__":
    main()
