"""snapshot_options + compute_flow fanned out over django-q2 workers into a DuckLake (prints numbers).

For N symbols (S0001.., demo provider) the work is: snapshot_options for two sessions, then
compute_flow (window 1) for the second. Configurations, each on a fresh warehouse:

* ``file, 1 process``   — the embedded DuckDB file, all symbols in this process (the reference);
* ``lake, 1 process``   — the same in this process, warehouse in a DuckLake;
* ``lake, W workers``   — one ``qcluster`` with W workers; one shard task per symbol
  (``apps.pipeline.daily.fan_out_job``, exactly what ``run_daily --fan-out`` does per job).

Workers are warmed up with 2·W throw-away shards before the clock starts (a fresh worker spends a
few seconds importing). Needs PostgreSQL (metadata DB and lake catalog) and Redis:

    python bench/bench_fanout.py --symbols 40 --workers 1,2,4 \\
        --database-url postgres://postgres@127.0.0.1:5432/oh_bench_meta \\
        --catalog-prefix oh_bench_lake --redis-url redis://127.0.0.1:6379/3

Databases ``<catalog-prefix>_<n>`` are created and dropped; the metadata DB is migrated (db_init).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAYS = ("2026-11-19", "2026-11-20")


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--symbols", type=int, default=40)
    p.add_argument("--workers", default="1,2,4")
    p.add_argument(
        "--database-url", required=True, help="PostgreSQL metadata DB (created if absent)"
    )
    p.add_argument("--catalog-prefix", required=True, help="name prefix for lake catalog DBs")
    p.add_argument("--redis-url", required=True)
    p.add_argument("--pg", default="host=127.0.0.1 port=5432 user=postgres", help="libpq server")
    return p.parse_args()


def main() -> None:
    args = parse()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="optionshelper.settings",
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        OPTIONS_HELPER_DATA_DIR=str(data_dir),
    )
    os.environ.pop("OPTIONS_HELPER_WAREHOUSE_URL", None)
    sys.path.insert(0, str(ROOT))
    import psycopg

    meta_name = args.database_url.rsplit("/", 1)[-1]
    with psycopg.connect(f"{args.pg} dbname=postgres", autocommit=True) as pg:
        if not pg.execute("SELECT 1 FROM pg_database WHERE datname = %s", [meta_name]).fetchone():
            pg.execute(f'CREATE DATABASE "{meta_name}"')

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from apps.pipeline.daily import FanOut, fan_out_job
    from apps.pipeline.jobs import execute_job
    from apps.pipeline.requests import job_params
    from optionshelper import warehouse

    call_command("db_init", verbosity=0)
    symbols = [f"S{i:04d}" for i in range(1, args.symbols + 1)]
    counter = iter(range(1000))

    def fresh_warehouse(lake: bool) -> dict[str, str]:
        warehouse.reset_lake_connections()
        n = next(counter)
        if not lake:
            settings.WAREHOUSE_URL = str(data_dir / f"file{n}.duckdb")
            from django.db import connections

            connections["warehouse"].settings_dict["NAME"] = settings.WAREHOUSE_URL
            call_command("db_init", verbosity=0)
            return {"OPTIONS_HELPER_WAREHOUSE_URL": settings.WAREHOUSE_URL}
        name = f"{args.catalog_prefix}_{n}"
        with psycopg.connect(f"{args.pg} dbname=postgres", autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            pg.execute(f'CREATE DATABASE "{name}"')
        settings.WAREHOUSE_URL = f"ducklake:postgres:dbname={name} {args.pg}"
        settings.LAKE_DATA_PATH = str(data_dir / f"lake{n}")
        call_command("db_init", verbosity=0)
        return {
            "OPTIONS_HELPER_WAREHOUSE_URL": settings.WAREHOUSE_URL,
            "OPTIONS_HELPER_LAKE_DATA_PATH": settings.LAKE_DATA_PATH,
        }

    def chain_rows() -> int:
        return warehouse.fetch_all(
            "SELECT count(*) FROM options_chain WHERE symbol LIKE 'S%'"
        )[0][0]

    def work(run) -> float:
        started = time.perf_counter()
        run("snapshot_options", DAYS[0])
        run("snapshot_options", DAYS[1])
        run("compute_flow", DAYS[1])
        return time.perf_counter() - started

    def in_process(job: str, day: str, names=symbols) -> None:
        status = execute_job(job, job_params(as_of=day, symbols=names, provider="demo"))
        assert status.outcome.status == "success", (job, status.outcome)

    results = []
    for label, lake in (("file, 1 process", False), ("lake, 1 process", True)):
        fresh_warehouse(lake)
        in_process("snapshot_options", "2026-11-18", ["WARM"])  # imports, caches
        seconds = work(in_process)
        results.append((label, seconds, chain_rows()))
        print(f"{label:<18} {seconds:8.1f} s  {results[-1][2]:,} chain rows", flush=True)

    for workers in [int(w) for w in args.workers.split(",") if w]:
        env = fresh_warehouse(True)
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        log = (data_dir / f"qcluster-{workers}.log").open("w")
        cluster = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            env={**os.environ, **env, "Q_CLUSTER_NAME": queue, "Q_WORKERS": str(workers)},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            fan = FanOut(wait_s=1800, q_options={"cluster": queue})

            def fanned(job: str, day: str, names=symbols, fan=fan) -> None:
                params = job_params(as_of=day, symbols=names, provider="demo")
                execution, statuses = fan_out_job(
                    job, params, skipped={}, triggered_by="cli", parent_run_id="bench", fan_out=fan
                )
                assert set(statuses) == {"success"}, (job, statuses)

            fanned("snapshot_options", "2026-11-18", [f"W{i:03d}" for i in range(2 * workers)])
            seconds = work(fanned)
            label = f"lake, {workers} worker{'s' if workers > 1 else ''}"
            results.append((label, seconds, chain_rows()))
            print(f"{label:<18} {seconds:8.1f} s  {results[-1][2]:,} chain rows", flush=True)
        finally:
            cluster.terminate()
            try:
                cluster.wait(timeout=60)
            except subprocess.TimeoutExpired:
                cluster.kill()
                cluster.wait()
            log.close()

    warehouse.reset_lake_connections()
    with psycopg.connect(f"{args.pg} dbname=postgres", autocommit=True) as pg:
        for n in range(next(counter)):
            pg.execute(f'DROP DATABASE IF EXISTS "{args.catalog_prefix}_{n}" WITH (FORCE)')
    shutil.rmtree(data_dir, ignore_errors=True)

    reference = results[0][1]
    print(
        f"\n{len(symbols)} symbols; snapshot_options × 2 sessions + compute_flow; cpus {os.cpu_count()}"
    )
    print("| configuration | seconds | chain rows | chain rows/s | vs file, 1 process |")
    print("|---|---|---|---|---|")
    for label, seconds, rows in results:
        print(
            f"| {label} | {seconds:.1f} | {rows:,} | {rows / seconds:,.0f} | {reference / seconds:.2f}× |"
        )


if __name__ == "__main__":
    main()
