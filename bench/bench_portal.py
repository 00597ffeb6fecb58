"""Portal page timings over a large control plane and a year of warehouse data (prints a table).

Seeds (in a throwaway data dir) N runs, asset events and checks with bulk_create, plus synthetic
warehouse rows for S symbols × D sessions, then requests each page with the Django test client and
prints the median time and query count. Not a test: numbers only.

    python bench/bench_portal.py                      # 50k runs, 500k events, 200k checks, 50 × 252
    python bench/bench_portal.py --runs 5000 --events 50000 --checks 20000 --symbols 10 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=50_000)
    p.add_argument("--events", type=int, default=500_000)
    p.add_argument("--checks", type=int, default=200_000)
    p.add_argument("--symbols", type=int, default=50)
    p.add_argument("--sessions", type=int, default=252)
    p.add_argument("--repeat", type=int, default=5, help="requests per page (median reported)")
    p.add_argument("--batch", type=int, default=5000)
    p.add_argument(
        "--data-dir",
        default=None,
        help="keep the seeded data here and reuse it on the next run (default: a temp dir)",
    )
    p.add_argument("--only", default="", help="time only the pages whose URL contains this text")
    return p.parse_args()


def setup_django(data_dir: Path) -> None:
    os.environ["OPTIONS_HELPER_DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    os.environ["OPTIONS_HELPER_DUCKDB_PATH"] = str(data_dir / "warehouse" / "options.duckdb")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionshelper.settings_test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from apps.market import warehouse_schema

    warehouse_schema.migrate()


def seed_control_plane(args: argparse.Namespace, symbols: list[str]) -> None:
    import random

    from django.utils import timezone

    from apps.core.registry import ASSETS, JOBS
    from apps.ledger.models import AssetCheck, IngestionRun, IngestionRunAsset

    rnd = random.Random(3)
    now = timezone.now()
    jobs = [j.name for j in JOBS]
    run_ids: list[uuid.UUID] = []
    batch: list[IngestionRun] = []
    for i in range(args.runs):
        started = now - dt.timedelta(minutes=15 * (args.runs - i))
        status = rnd.choices(["success", "partial", "failed"], [90, 5, 5])[0]
        run = IngestionRun(
            job_name=jobs[i % len(jobs)],
            triggered_by="schedule",
            status=status,
            started_at=started,
            ended_at=started + dt.timedelta(seconds=30),
            duration_ms=rnd.randint(1000, 60000),
            heartbeat_at=started,
            as_of=started.date(),
            error_type="ProviderError" if status == "failed" else "",
            error_message="boom" if status == "failed" else "",
            error_stack_hash=f"h{rnd.randint(0, 20)}" if status == "failed" else "",
        )
        run_ids.append(run.run_id)
        batch.append(run)
        if len(batch) >= args.batch:
            IngestionRun.objects.bulk_create(batch)
            batch = []
    IngestionRun.objects.bulk_create(batch)
    assets = [a for a in ASSETS]
    events: list[IngestionRunAsset] = []
    for i in range(args.events):
        run_index = i * len(run_ids) // max(args.events, 1)
        asset = assets[i % len(assets)]
        started = now - dt.timedelta(minutes=15 * (len(run_ids) - run_index))
        events.append(
            IngestionRunAsset(
                run_id=run_ids[run_index],
                asset_key=asset.key,
                asset_kind=asset.kind,
                partition_key=f"{symbols[(i // len(assets)) % len(symbols)]}|{i}",
                status=rnd.choices(["success", "failed", "skipped"], [95, 3, 2])[0],
                rows_inserted=rnd.randint(0, 1000),
                started_at=started,
            )
        )
        if len(events) >= args.batch:
            IngestionRunAsset.objects.bulk_create(events)
            events = []
    IngestionRunAsset.objects.bulk_create(events)
    checks: list[AssetCheck] = []
    for i in range(args.checks):
        checks.append(
            AssetCheck(
                run_id=run_ids[i * len(run_ids) // max(args.checks, 1)],
                asset_key=assets[i % len(assets)].key,
                partition_key=symbols[i % len(symbols)],
                check_name=f"check_{i % 10}",
                severity="warn" if i % 3 else "error",
                status="fail" if i % 50 == 0 else "pass",
                checked_at=now - dt.timedelta(minutes=(args.checks - i) * 3),
                message="",
            )
        )
        if len(checks) >= args.batch:
            AssetCheck.objects.bulk_create(checks)
            checks = []
    AssetCheck.objects.bulk_create(checks)


def seed_rest(args: argparse.Namespace, symbols: list[str]) -> dict:
    from apps.core import calendar
    from tests.portal import seed

    days = seed.sessions_until(calendar.last_completed_session(), args.sessions)
    spots = seed.seed_warehouse(symbols, days, snapshots=2)
    seed.seed_flow(symbols, days, partitions=20, rows=60)
    seed.seed_ledger(symbols, days)
    seed.seed_portfolio(symbols[0], days[-1], spots[symbols[0]])
    seed.seed_dashboard(symbols, days[-1], spots)
    return {"days": days}


def time_pages(
    args: argparse.Namespace, symbols: list[str]
) -> list[tuple[str, float, float, int, int]]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user, _ = get_user_model().objects.get_or_create(username="bench")
    client = Client()
    client.force_login(user)
    s = symbols[0]
    pages = [
        "/",
        "/health/",
        "/health/?days=30&rows=200",
        "/health/status.json",
        "/portfolio/",
        f"/symbols/?symbol={s}",
        f"/flow/?symbol={s}&group_by=strike&window=1",
        f"/derived/?symbol={s}&days=365",
        "/data/",
        "/data/?table=warehouse.options_chain&sort=-strike&page=40",
        "/data/?table=warehouse.candles_daily&sort=-date&page=100",
        "/data/?table=meta.ledger_ingestionrunasset&sort=-started_at&page=500",
    ]
    results = []
    for url in [page for page in pages if args.only in page]:
        times, status, queries = [], 0, 0
        for _ in range(args.repeat):
            connection.queries_log.clear()  # the seeding filled the bounded log; counts need room
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            status, queries = response.status_code, len(ctx.captured_queries)
        results.append((url, statistics.median(times), max(times), queries, status))
    return results


def seed(args: argparse.Namespace, symbols: list[str]) -> None:
    t0 = time.perf_counter()
    seed_control_plane(args, symbols)
    t1 = time.perf_counter()
    seed_rest(args, symbols)
    t2 = time.perf_counter()
    print(
        f"seeded control plane ({args.runs} runs, {args.events} events, {args.checks} checks) "
        f"in {t1 - t0:.1f}s; warehouse ({args.symbols} symbols × {args.sessions} sessions, "
        f"2 chain snapshots each) + flow/portfolio in {t2 - t1:.1f}s"
    )


def run(args: argparse.Namespace, data_dir: Path) -> None:
    seeded = (data_dir / "bench.sqlite3").exists()
    setup_django(data_dir)
    symbols = [f"S{i:03d}" for i in range(args.symbols)]
    if seeded:
        print(f"reusing the seeded data in {data_dir}")
    else:
        seed(args, symbols)
    results = time_pages(args, symbols)
    print(f"\n{'page':<66} {'median ms':>10} {'max ms':>9} {'queries':>8} {'status':>7}")
    for url, median, worst, queries, status in results:
        print(f"{url:<66} {median:>10.1f} {worst:>9.1f} {queries:>8} {status:>7}")
    print("\n(queries = metadata-DB queries; warehouse reads are one short DuckDB connection each)")


def main() -> None:
    args = parse()
    if args.data_dir:
        Path(args.data_dir).mkdir(parents=True, exist_ok=True)
        run(args, Path(args.data_dir))
        return
    with tempfile.TemporaryDirectory(prefix="bench-portal-") as tmp:
        run(args, Path(tmp))


if __name__ == "__main__":
    main()
