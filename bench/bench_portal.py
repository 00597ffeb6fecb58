"""Portal page timings over a large control plane and a year of warehouse data (prints a table).

Seeds (in a throwaway data dir) N runs, asset events and checks with bulk_create, plus synthetic
warehouse rows for S symbols × D sessions, then requests each page with the Django test client and
prints median and p95, cold (the first view after a write moved the data generation) and warm.
``--concurrent`` instead serves the pages with gunicorn on 127.0.0.1 (the documented command) and
runs one writer (a ledger run + warehouse transaction per second) against N reader threads for a
bounded time, printing p50/p95 per page and the count of 5xx answers. Not a test: numbers only.

    python bench/bench_portal.py                      # 50k runs, 500k events, 200k checks, 50 × 252
    python bench/bench_portal.py --runs 5000 --events 50000 --checks 20000 --symbols 10 --repeat 3
    python bench/bench_portal.py --data-dir /tmp/bp --concurrent --readers 8 --duration 30
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
BENCH_SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789abcdef"  # noqa: S105


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
    p.add_argument(
        "--concurrent",
        action="store_true",
        help="real HTTP against gunicorn on 127.0.0.1: one writer and --readers readers",
    )
    p.add_argument("--readers", type=int, default=8)
    p.add_argument("--write-interval", type=float, default=1.0, help="seconds between writer runs")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of load (concurrent)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (concurrent)")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    return p.parse_args()


def setup_django(data_dir: Path) -> None:
    os.environ["OPTIONS_HELPER_DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    os.environ["OPTIONS_HELPER_DUCKDB_PATH"] = str(data_dir / "warehouse" / "options.duckdb")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionshelper.settings_test")
    os.environ["DJANGO_SECRET_KEY"] = BENCH_SECRET_KEY  # the gunicorn server must read our session
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from optionshelper import warehouse_schema

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


PAGES = [
    "/",
    "/health/",
    "/health/?days=30&rows=200",
    "/health/status.json",
    "/portfolio/",
    "/symbols/?symbol={s}",
    "/flow/?symbol={s}&group_by=strike&window=1",
    "/derived/?symbol={s}&days=365",
    "/data/",
    "/data/?table=warehouse.options_chain&sort=-strike&page=40",
    "/data/?table=warehouse.candles_daily&sort=-date&page=100",
    "/data/?table=meta.ledger_ingestionrunasset&sort=-started_at&page=500",
]


def page_urls(args: argparse.Namespace, symbols: list[str]) -> list[str]:
    return [p.format(s=symbols[0]) for p in PAGES if args.only in p.format(s=symbols[0])]


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (the maximum for fewer than 20 samples)."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 95 // 100) - 1)]


def _bump_generation() -> None:
    """What a committed write does to the cache (the generation moves on); imported lazily so the
    same bench runs against a checkout without the cache (the "before" column)."""
    try:
        from optionshelper import generation
    except ImportError:
        return
    generation.bump()


def time_pages(args: argparse.Namespace, symbols: list[str]) -> list[tuple]:
    """Per page: cold (first view after a write) and warm (repeat views) median and p95."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user, _ = get_user_model().objects.get_or_create(username="bench")
    client = Client()
    client.force_login(user)

    def timed(url: str) -> tuple[float, int, int]:
        connection.queries_log.clear()  # the seeding filled the bounded log; counts need room
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
        return elapsed, response.status_code, len(ctx.captured_queries)

    results = []
    for url in page_urls(args, symbols):
        cold, warm, statuses = [], [], set()
        for _ in range(args.repeat):
            _bump_generation()
            elapsed, status, cold_queries = timed(url)
            cold.append(elapsed)
            statuses.add(status)
        for _ in range(args.repeat):
            elapsed, status, warm_queries = timed(url)
            warm.append(elapsed)
            statuses.add(status)
        results.append(
            (
                url,
                statistics.median(cold),
                p95(cold),
                statistics.median(warm),
                p95(warm),
                cold_queries,
                warm_queries,
                ",".join(str(s) for s in sorted(statuses)),
            )
        )
    return results


# --- concurrent mode: real HTTP against gunicorn, one writer and N readers -------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": BENCH_SECRET_KEY,
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_STATIC_ROOT": str(data_dir / "static"),
        "OPTIONS_HELPER_DATA_DIR": str(data_dir),
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "OPTIONS_HELPER_DUCKDB_PATH": os.environ["OPTIONS_HELPER_DUCKDB_PATH"],
    }


def _session_cookie() -> str:
    """A logged-in session for the bench user (sent as a header: the cookie is Secure-only)."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    user, _ = get_user_model().objects.get_or_create(username="bench")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"sessionid={session.session_key}"


def _writer(stop, symbols: list[str], counts: dict[str, int], interval_s: float) -> None:
    """One writer: a ledger run per second that rewrites a symbol's year of candles (one
    transaction) and logs an asset event, like a producer job of run_daily."""
    from apps.core import calendar, registry
    from apps.ledger.services.runs import job_run
    from optionshelper import warehouse

    job = registry.JOB_NAMES[0]
    as_of = calendar.last_completed_session()
    i = 0
    while not stop.is_set():
        symbol = symbols[i % len(symbols)]
        with (
            job_run(job_name=job, triggered_by="cli", as_of=as_of) as run,
            warehouse.transaction() as con,
        ):
            con.execute(
                "UPDATE candles_daily SET volume = volume + 1, updated_at = now() WHERE symbol = ?",
                [symbol],
            )
            run.asset_succeeded("candles_daily", symbol)
        counts["writes"] += 1
        i += 1
        stop.wait(interval_s)


def concurrent(args: argparse.Namespace, data_dir: Path, symbols: list[str]) -> None:
    """gunicorn (the documented command) on localhost, 1 writer + ``--readers`` readers, bounded."""
    import http.client
    import subprocess
    import threading

    env = _server_env(data_dir)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    port = _free_port()
    cookie = _session_cookie()
    command = [
        sys.executable, "-m", "gunicorn", "optionshelper.wsgi",
        "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
        "--threads", str(args.threads), "--timeout", "120",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    stop = threading.Event()
    latencies: dict[str, list[float]] = {}
    statuses: dict[int | str, int] = {}
    lock = threading.Lock()
    counts = {"writes": 0}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/accounts/login/")
                conn.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.3)
        urls = page_urls(args, symbols)

        def reader(index: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            # The session, plus csrftoken once a response sets it, like a browser.
            cookies = {"sessionid": cookie.split("=", 1)[1]}
            n = index
            while not stop.is_set():
                url = urls[n % len(urls)]
                n += 1
                started = time.perf_counter()
                try:
                    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
                    conn.request("GET", url, headers={"Cookie": header})
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                    for set_cookie in response.msg.get_all("Set-Cookie") or []:
                        name, _, rest = set_cookie.partition("=")
                        cookies[name.strip()] = rest.split(";", 1)[0]
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    status = 599
                elapsed = (time.perf_counter() - started) * 1000
                if status == 503 and url.endswith("status.json"):
                    status = "status.json 503"  # the seeded ledger is degraded: 503 by design
                with lock:
                    latencies.setdefault(url, []).append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(args.readers)]
        writer = threading.Thread(target=_writer, args=(stop, symbols, counts, args.write_interval))
        writer.start()
        for t in threads:
            t.start()
        time.sleep(args.duration)
        stop.set()
        for t in [*threads, writer]:
            t.join(timeout=120)
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    if not counts["writes"]:
        raise SystemExit("the writer wrote nothing: the numbers above would be a read-only load")
    every = [v for values in latencies.values() for v in values]
    degraded = statuses.pop("status.json 503", 0)
    errors = sum(n for status, n in statuses.items() if status >= 500)
    print(
        f"\nconcurrent: gunicorn --workers {args.workers} --threads {args.threads}, "
        f"{args.readers} readers + 1 writer ({counts['writes']} write runs) for {args.duration}s"
    )
    print(f"{'page':<66} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for url in urls:
        values = latencies.get(url, [])
        if values:
            print(
                f"{url:<66} {len(values):>8} {statistics.median(values):>8.1f} {p95(values):>8.1f}"
            )
    if every:
        print(
            f"{'all pages':<66} {len(every):>8} {statistics.median(every):>8.1f} {p95(every):>8.1f}"
        )
    print(
        f"status counts: {dict(sorted(statuses.items()))}; 5xx: {errors} "
        f"(+{degraded} status.json 503 = degraded by design, not counted)"
    )


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
    if args.concurrent:
        concurrent(args, data_dir, symbols)
        return
    results = time_pages(args, symbols)
    print(f"\n{'page':<66} {'cold med':>9} {'cold p95':>9} {'warm med':>9} {'warm p95':>9} "
          f"{'queries':>8} {'status':>7}")  # fmt: skip
    for url, c_med, c_p95, w_med, w_p95, c_q, w_q, status in results:
        print(
            f"{url:<66} {c_med:>9.1f} {c_p95:>9.1f} {w_med:>9.1f} {w_p95:>9.1f} "
            f"{f'{c_q}/{w_q}':>8} {status:>7}"
        )
    print(
        "\n(ms; cold = first view after a write, i.e. after the generation moved; warm = repeat "
        "views; queries = metadata-DB queries cold/warm)"
    )


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
