"""Child processes for the lake tests: ``python tests/lake_workers.py <command> <args>``."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import django


def chain_frame(symbol: str, day: dt.date, n: int, mark: float):
    import pandas as pd

    return pd.DataFrame(
        {
            "contract_symbol": [f"{symbol}{day:%y%m%d}C{i:05d}" for i in range(n)],
            "expiry": [day + dt.timedelta(days=30)] * n,
            "option_type": ["call"] * n,
            "strike": [100.0 + i for i in range(n)],
            "mark": [mark] * n,
            "iv_source": ["provider"] * n,
        }
    )


def snapshot_writer(symbol: str, days: int, rounds: int, n: int) -> dict:
    """Write ``days`` snapshot partitions for ``symbol`` ``rounds`` times over; record errors."""
    from apps.market import stores

    errors, writes = [], 0
    for r in range(rounds):
        for d in range(days):
            day = dt.date(2024, 1, 2) + dt.timedelta(days=d)
            try:
                stores.snapshot_write(
                    symbol=symbol,
                    snapshot_date=day,
                    provider="test",
                    spot=100.0,
                    risk_free_rate=0.04,
                    chain=chain_frame(symbol, day, n, float(r)),
                    quote_quality={},
                    meta={"round": r},
                )
                writes += 1
            except Exception as exc:  # recorded, not raised: the test asserts there are none
                errors.append(f"{type(exc).__name__}: {exc}")
    return {"writes": writes, "errors": errors}


def reader(stop_file: str) -> dict:
    """Read until the test creates ``stop_file`` (its writers are done), at least once."""
    from django.db import connections

    errors, reads = [], 0
    stop = Path(stop_file)
    while reads == 0 or not stop.exists():
        try:
            with connections["warehouse"].cursor() as cursor:
                cursor.execute("SELECT count(*) FROM options_chain")
                cursor.fetchone()
            reads += 1
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            reads += 1
    return {"reads": reads, "errors": errors}


def main() -> None:
    django.setup()
    command, *args = sys.argv[1:]
    if command == "snapshot-writer":
        result = snapshot_writer(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif command == "reader":
        result = reader(args[0])
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
