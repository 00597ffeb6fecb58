"""Data Explorer CSV export of a large warehouse table: streamed (every row) vs one in-memory build.

Seeds ``options_chain`` with N synthetic rows in a throwaway data dir, then times
  * reference: one query for every row, then the whole CSV built in memory (how the export worked
    before it streamed; it also stopped at 100,000 rows);
  * streamed: ``GET /data/?table=warehouse.options_chain&_export=csv`` through the Django test client,
    with time to the first chunk (the warehouse read lock is released by then) and to the last.
Prints rows, MB and seconds, and the ratio streamed / reference. Not a test: numbers only.

    python bench/bench_export.py                 # 133k rows (the size in issue 15)
    python bench/bench_export.py --rows 20000
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup(data_dir: Path) -> None:
    os.environ["OPTIONS_HELPER_DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    os.environ["OPTIONS_HELPER_DUCKDB_PATH"] = str(data_dir / "warehouse" / "options.duckdb")
    os.environ["DJANGO_SETTINGS_MODULE"] = "optionshelper.settings_test"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from optionshelper import warehouse_schema

    warehouse_schema.migrate()


def seed(rows: int) -> int:
    import datetime as dt

    import numpy as np
    import pandas as pd

    from optionshelper import warehouse
    from tests.portal.seed import _insert, chain_frame

    base = chain_frame("AAA", dt.date(2026, 11, 20), 200.0, np.random.default_rng(1))
    copies = -(-rows // len(base))
    frame = pd.concat(
        [base.assign(symbol=f"S{i:04d}") for i in range(copies)], ignore_index=True
    ).iloc[:rows]
    with warehouse.transaction() as connection:
        _insert(connection, "options_chain", frame)
    return warehouse.fetch_all("SELECT count(*) FROM options_chain")[0][0]


def reference() -> tuple[float, int]:
    from apps.portal.selectors import catalog
    from optionshelper import warehouse

    started = time.perf_counter()
    table = catalog.lookup("warehouse.options_chain")
    rows = warehouse.fetch_all(catalog.WarehouseRows(table)._select_sql())
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.column_names)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    size = len(buffer.getvalue().encode())
    return time.perf_counter() - started, size


def streamed() -> tuple[float, float, int, int]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username="bench")
    client = Client()
    client.force_login(user)
    started = time.perf_counter()
    response = client.get("/data/?table=warehouse.options_chain&_export=csv")
    first = time.perf_counter() - started
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    return first, time.perf_counter() - started, size, lines - 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=133_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        setup(Path(tmp))
        total = seed(args.rows)
        ref_s, ref_bytes = reference()
        first_s, stream_s, stream_bytes, stream_rows = streamed()
        print(f"options_chain rows: {total:,}")
        print(
            f"reference (one query, CSV built in memory): {ref_s:6.2f} s  {ref_bytes / 1e6:6.1f} MB"
        )
        print(
            f"streamed export via the view:              {stream_s:6.2f} s  "
            f"{stream_bytes / 1e6:6.1f} MB  {stream_rows:,} rows  (first chunk after {first_s:.2f} s)"
        )
        print(f"ratio streamed / reference: {stream_s / ref_s:.2f}")


if __name__ == "__main__":
    main()
