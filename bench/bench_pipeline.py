"""run_daily at issue size: N demo symbols over a range of sessions, twice (prints numbers; not a test).

The first pass builds everything; the second must change no data (same row counts and checksums)
and only add a new set of success runs. Runs ``manage.py`` in child processes, exactly as a user
would, against a throwaway data dir (or ``--data-dir``).

    python bench/bench_pipeline.py                       # 10 symbols, 2026-10-09 → 2026-11-20
    python bench/bench_pipeline.py --symbols AAPL,MSFT --start 2026-11-02 --end 2026-11-20

``--baseline DIR`` runs the same passes with another checkout of this repository too (e.g. made by
``git worktree add /tmp/base <rev>``), interleaved (baseline first pass, this first pass, baseline
second pass, this second pass) so both see the same machine load, and prints the ratios. Each pass
prints wall seconds and the CPU seconds (user + sys) of its process tree.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SYMBOLS = "AAPL,MSFT,SPY,QQQ,NVDA,AMZN,TSLA,META,GOOGL,IWM"
TABLES = (
    "candles_daily",
    "option_bars",
    "options_chain",
    "options_snapshot_headers",
    "derived_daily",
)


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--symbols", default=DEFAULT_SYMBOLS)
    p.add_argument("--start", default="2026-10-09")
    p.add_argument("--end", default="2026-11-20")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--baseline", default=None, help="another checkout to run interleaved")
    return p.parse_args()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def manage(data_dir: Path, *args: str, root: Path = ROOT) -> tuple[float, float]:
    """Run ``manage.py`` of the checkout ``root``; (wall seconds, CPU seconds)."""
    env = {**os.environ, "OPTIONS_HELPER_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    env.pop("OPTIONS_HELPER_DUCKDB_PATH", None)
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(root / "manage.py"), *args],
        env=env,
        cwd=root,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started, _children_cpu() - cpu


WRITE_TIME_COLUMNS = {"updated_at", "last_success_at", "last_attempt_at", "computed_at"}


def _table_hash(wh: duckdb.DuckDBPyConnection, table: str) -> tuple[int, str]:
    """Row count and an order-independent hash of every column but the write times."""
    columns = [
        r[0]
        for r in wh.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
        if r[0] not in WRITE_TIME_COLUMNS
    ]
    count, total = wh.execute(
        f"SELECT count(*), sum(hash({', '.join(columns)})::HUGEINT) FROM {table}"
    ).fetchone()
    return int(count), format(int(total or 0) % 2**64, "016x")


def fingerprint(data_dir: Path) -> dict[str, object]:
    """Row counts and content hashes of what the pipeline wrote (write times excluded)."""
    wh = duckdb.connect(str(data_dir / "warehouse" / "options.duckdb"), read_only=True)
    try:
        facts: dict[str, object] = {t: _table_hash(wh, t) for t in TABLES}
        # Summed as decimals: a parallel float sum's last bits depend on the order it adds in.
        facts["chain_checksum"] = wh.execute(
            "SELECT sum(CAST(coalesce(bs_delta, 0) + coalesce(implied_vol, 0) "
            "+ coalesce(open_interest, 0) AS DECIMAL(38, 6))) FROM options_chain"
        ).fetchone()[0]
        facts["derived_checksum"] = wh.execute(
            "SELECT sum(CAST(coalesce(atm_iv_near, 0) + coalesce(max_pain, 0) "
            "+ coalesce(atm_iv_rank, 0) AS DECIMAL(38, 6))) FROM derived_daily"
        ).fetchone()[0]
    finally:
        wh.close()
    meta = sqlite3.connect(data_dir / "optionshelper.sqlite3")
    try:
        facts["flow_rows"] = meta.execute(
            "SELECT count(*), round(sum(delta_oi_notional), 2) FROM analytics_optionsflow"
        ).fetchone()
        facts["runs_by_status"] = dict(
            meta.execute("SELECT status, count(*) FROM ledger_ingestionrun GROUP BY 1").fetchall()
        )
    finally:
        meta.close()
    facts["briefing_files"] = len(list((data_dir / "reports" / "daily").glob("*")))
    return facts


def _report(label: str, passes: list[tuple[float, float]], facts: list[dict]) -> None:
    (first, first_cpu), (second, second_cpu) = passes
    print(f"{label}")
    print(f"  first pass   {first:8.1f} s wall  {first_cpu:8.1f} s CPU")
    print(
        f"  second pass  {second:8.1f} s wall  {second_cpu:8.1f} s CPU"
        f"  ({second / first:.1%} of the first; CPU {second_cpu / first_cpu:.1%})"
    )
    after_first, after_second = facts
    for key, value in after_first.items():
        same = "same" if after_second[key] == value else f"CHANGED → {after_second[key]}"
        if key == "runs_by_status":
            same = f"→ {after_second[key]}"
        print(f"    {key:<26} {value}  {same}")


def run(args: argparse.Namespace, data_dir: Path) -> None:
    checkouts = {"this checkout": (ROOT, data_dir / "this")}
    if args.baseline:
        checkouts = {
            "baseline": (Path(args.baseline).resolve(), data_dir / "baseline"),
            **checkouts,
        }
    span = ["--symbol", args.symbols, "--from", args.start, "--to", args.end]
    passes: dict[str, list[tuple[float, float]]] = {label: [] for label in checkouts}
    facts: dict[str, list[dict]] = {label: [] for label in checkouts}
    for root, path in checkouts.values():
        path.mkdir(parents=True, exist_ok=True)
        manage(path, "db_init", root=root)
    for _ in range(2):
        for label, (root, path) in checkouts.items():
            passes[label].append(manage(path, "run_daily", *span, root=root))
            facts[label].append(fingerprint(path))
    print(f"symbols {args.symbols}  sessions {args.start} → {args.end}")
    for label in checkouts:
        _report(f"{label} ({checkouts[label][0]})", passes[label], facts[label])
    if args.baseline:
        for index, name in enumerate(("first", "second")):
            (base, base_cpu), (this, this_cpu) = (
                passes["baseline"][index],
                passes["this checkout"][index],
            )
            print(
                f"{name} pass: baseline / this = {base / this:.2f}× wall, "
                f"{base_cpu / this_cpu:.2f}× CPU"
            )


def main() -> None:
    args = parse()
    if args.data_dir:
        run(args, Path(args.data_dir))
        return
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        run(args, Path(tmp))


if __name__ == "__main__":
    main()
