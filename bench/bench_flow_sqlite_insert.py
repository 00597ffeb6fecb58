"""How fast can SQLite take issue 11's 500-symbol flow rows at all? (prints numbers; not a test)

Issue 11 asks for 500 symbols × window 5 end to end in ≤ 15 s on SQLite; the plain reference (the
DuckDB query plus one ``executemany`` of the rows) already takes ~17 s there, most of it the insert.
This bench takes the flow rows table exactly as the migrations define it (a throwaway metadata DB
made by ``db_init``), generates rows of the same shape (``--partitions`` × ``--rows-per-partition``,
one partition per symbol, rows in random key order as a flow query returns them), and times ways
of loading them with the stdlib ``sqlite3`` module, each in one transaction into an empty table, in
alternating rounds (median of ``--rounds``). Every variant prints its seconds beside the plain
reference's (``executemany`` of the rows as they come) from the same round:

* sorted: the rows in (partition, row_key) order, the unique index's order;
* cache 256 MiB: ``PRAGMA cache_size`` large enough for the whole index;
* multi-row VALUES: 1,000 rows per INSERT statement;
* 14 columns: without the five partition-key columns the rows repeat (a schema change, measured
  only to bound what it could win);
* no size index: without ``flow_rows_by_size_idx`` (the Flow page's drill-down reads it).

    python bench/bench_flow_sqlite_insert.py                     # 500 × 3,442 rows (1.72M), 3 rounds
    python bench/bench_flow_sqlite_insert.py --partitions 100 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TABLE = "analytics_optionsflow"
PARTITIONS = "analytics_optionsflowpartition"
KEY_COLUMNS = ("symbol", "from_date", "to_date", "window", "group_by")


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--partitions", type=int, default=500)
    p.add_argument("--rows-per-partition", type=int, default=3442)
    p.add_argument("--rounds", type=int, default=3)
    return p.parse_args()


def schema(data_dir: Path) -> tuple[list[str], list[str]]:
    """(CREATE statements of the partition and rows tables with their indexes, row columns)."""
    os.environ["OPTIONS_HELPER_DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir / 'meta.sqlite3'}"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")
    os.environ["DJANGO_SETTINGS_MODULE"] = "optionshelper.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("db_init", verbosity=0, stdout=open(os.devnull, "w"))
    con = sqlite3.connect(data_dir / "meta.sqlite3")
    ddl = [
        sql
        for (sql,) in con.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN (?, ?) AND sql IS NOT NULL "
            "ORDER BY type DESC",  # tables before their indexes
            (PARTITIONS, TABLE),
        )
    ]
    columns = [r[1] for r in con.execute(f"PRAGMA table_info({TABLE})") if r[1] != "id"]
    con.close()
    return ddl, columns


def make_rows(columns: list[str], partitions: int, per: int) -> list[tuple]:
    """Rows shaped like group-by-contract flow rows, each partition's in random key order."""
    rng = random.Random(11)
    rows = []
    for p in range(1, partitions + 1):
        symbol = f"S{p:04d}"
        keys = [
            f"{symbol}{261218 + i % 20:06d}{'CP'[i % 2]}{i * 7919 % 10**8:08d}" for i in range(per)
        ]
        rng.shuffle(keys)
        for key in keys:
            value = {
                "symbol": symbol,
                "from_date": "2026-11-13",
                "to_date": "2026-11-20",
                "window": 5,
                "group_by": "contract",
                "row_key": key,
                "contract_symbol": key,
                "option_type": "call",
                "expiry": "2026-12-18",
                "strike": 100.0,
                "delta_oi": rng.gauss(0, 100),
                "delta_oi_notional": rng.gauss(0, 1e5),
                "volume_notional": rng.random() * 1e5,
                "delta_notional": rng.gauss(0, 1e5),
                "volume": 10.0,
                "prior_oi": 100.0,
                "n_pairs": 5,
                "flow_class": "building",
                "partition_id": p,
            }
            rows.append(tuple(value[c] for c in columns))
    return rows


def fresh(
    path: Path, ddl: list[str], *, partitions: int, drop: tuple[str, ...] = ()
) -> sqlite3.Connection:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    con = sqlite3.connect(path, isolation_level=None)
    # The product's connection settings (optionshelper/settings.py); Django's foreign keys are
    # turned on once the partitions are in (their run table is not part of this bench).
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=OFF"):
        con.execute(f"PRAGMA {pragma}")
    for sql in ddl:
        if any(name in sql for name in drop):
            continue
        con.execute(sql)
    con.execute("BEGIN IMMEDIATE")
    con.executemany(
        f"INSERT INTO {PARTITIONS} (symbol, from_date, to_date, window, group_by, snapshot_dates, "
        "gap_sessions, rows, net_delta_oi_notional, net_volume_notional, provider, computed_at) "
        "VALUES (?, '2026-11-13', '2026-11-20', 5, 'contract', '[]', '[]', 0, 0, 0, 'demo', "
        "'2026-11-20')",
        [(f"S{p:04d}",) for p in range(1, partitions + 1)],
    )
    con.execute("COMMIT")
    con.execute("PRAGMA foreign_keys=ON")
    return con


def timed(con: sqlite3.Connection, load: Callable[[sqlite3.Connection], None]) -> float:
    started = time.perf_counter()
    con.execute("BEGIN IMMEDIATE")
    load(con)
    con.execute("COMMIT")
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def main() -> None:
    args = parse()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-flow-insert-"))
    ddl, columns = schema(data_dir)
    rows = make_rows(columns, args.partitions, args.rows_per_partition)
    key = (columns.index("partition_id"), columns.index("row_key"))
    sorted_rows = sorted(rows, key=lambda r: (r[key[0]], r[key[1]]))
    short_columns = [c for c in columns if c not in KEY_COLUMNS]
    keep = [columns.index(c) for c in short_columns]
    short_rows = [tuple(r[i] for i in keep) for r in rows]
    short_ddl = [_without_key_columns(sql) for sql in ddl]
    path = data_dir / "load.sqlite3"

    def insert(cols: list[str], values: list[tuple]) -> Callable[[sqlite3.Connection], None]:
        marks = ", ".join("?" * len(cols))
        names = ", ".join(f'"{c}"' for c in cols)
        return lambda con: con.executemany(
            f"INSERT INTO {TABLE} ({names}) VALUES ({marks})", values
        )

    def multi_row(con: sqlite3.Connection, per_statement: int = 1000) -> None:
        one = "(" + ", ".join("?" * len(columns)) + ")"
        names = ", ".join(f'"{c}"' for c in columns)
        full = len(rows) - len(rows) % per_statement
        statement = f"INSERT INTO {TABLE} ({names}) VALUES " + ", ".join([one] * per_statement)
        con.executemany(
            statement,
            (
                [v for r in rows[i : i + per_statement] for v in r]
                for i in range(0, full, per_statement)
            ),
        )
        con.executemany(f"INSERT INTO {TABLE} ({names}) VALUES {one}", rows[full:])

    def cached(con: sqlite3.Connection) -> None:
        con.execute("PRAGMA cache_size = -262144")
        insert(columns, rows)(con)

    variants: dict[str, tuple[list[str], Callable[[sqlite3.Connection], None], tuple[str, ...]]] = {
        "reference: executemany": (ddl, insert(columns, rows), ()),
        "sorted by (partition, row_key)": (ddl, insert(columns, sorted_rows), ()),
        "cache_size 256 MiB": (ddl, cached, ()),
        "multi-row VALUES (1,000 rows)": (ddl, multi_row, ()),
        "14 columns (no partition keys)": (short_ddl, insert(short_columns, short_rows), ()),
        "no flow_rows_by_size_idx": (ddl, insert(columns, rows), ("flow_rows_by_size_idx",)),
    }
    print(
        f"{len(rows):,} rows ({args.partitions} partitions), sqlite {sqlite3.sqlite_version}, "
        f"{args.rounds} alternating rounds, medians:"
    )
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (statements, load, drop) in variants.items():
            con = fresh(path, statements, partitions=args.partitions, drop=drop)
            seconds[name].append(timed(con, load))
    reference = statistics.median(seconds["reference: executemany"])
    for name, values in seconds.items():
        m = statistics.median(values)
        spread = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {name:<34} {m:6.2f} s  ({m / reference:.2f}× the reference; rounds {spread})")


def _without_key_columns(sql: str) -> str:
    if not sql.startswith(f'CREATE TABLE "{TABLE}"'):
        return sql
    for column in KEY_COLUMNS:
        start = sql.index(f'"{column}" ')
        end = sql.index(", ", start) + 2
        sql = sql[:start] + sql[end:]
    return sql


if __name__ == "__main__":
    main()
