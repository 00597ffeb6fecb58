"""The cost of one short warehouse access (prints numbers; not a test).

Each round times, alternating, ``--reads`` accesses of three kinds on the same warehouse file, each
running the same one-row query:

* ``warehouse.read()`` — the product's door (side-file lock, the file attached to this process's
  in-memory DuckDB, detached on exit);
* ``warehouse.write()`` — the same for the writer (its detach checkpoints);
* the plain reference: ``duckdb.connect(path, read_only=True)`` … ``close()``, nothing around it.

and prints the median milliseconds per access of each and their ratio to the reference.

    python bench/bench_warehouse_open.py --data-dir /tmp/bp/this     # a pipeline bench's data
    python bench/bench_warehouse_open.py                             # a fresh, empty warehouse
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
QUERY = "SELECT count(*) FROM options_snapshot_headers"


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", default=None, help="a data dir with a warehouse (default: new)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--reads", type=int, default=50, help="accesses per kind per round")
    return p.parse_args()


def main() -> None:
    args = parse()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-open-"))
    os.environ["OPTIONS_HELPER_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionshelper.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret-" + "x" * 40)
    import django

    django.setup()
    import duckdb

    from optionshelper import warehouse, warehouse_schema

    if not warehouse.exists():
        warehouse_schema.migrate()
    path = str(warehouse.warehouse_path())

    def door_read() -> None:
        with warehouse.read() as con:
            con.execute(QUERY).fetchall()

    def door_write() -> None:
        with warehouse.write() as con:
            con.execute(QUERY).fetchall()

    def plain() -> None:
        con = duckdb.connect(path, read_only=True)
        try:
            con.execute(QUERY).fetchall()
        finally:
            con.close()

    kinds = {"warehouse.read()": door_read, "warehouse.write()": door_write, "plain connect": plain}
    times: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(args.rounds):
        for name, access in kinds.items():
            started = time.perf_counter()
            for _ in range(args.reads):
                access()
            times[name].append((time.perf_counter() - started) / args.reads * 1000)
    reference = statistics.median(times["plain connect"])
    print(f"warehouse {path} ({os.path.getsize(path) / 2**20:.0f} MiB)")
    print(f"{args.rounds} rounds × {args.reads} accesses each, alternating; median ms per access")
    for name in kinds:
        ms = statistics.median(times[name])
        print(f"  {name:18s} {ms:6.2f} ms   {ms / reference:5.2f}× the plain connect")


if __name__ == "__main__":
    main()
