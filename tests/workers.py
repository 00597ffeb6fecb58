"""Worker processes for the multi-process tests (run as a script by tests.support.start_worker)."""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
from pathlib import Path

import django


def watermark(seed: int, count: int) -> dict:
    from apps.ledger.models import AssetWatermark
    from apps.ledger.services.run_types import market_ts
    from apps.ledger.services.watermarks import watermark_advance

    rng = random.Random(seed)
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 400)) for _ in range(count)]
    seen_max = None
    regressions = 0
    for day in days:
        watermark_advance(asset_key="candles_daily", scope_key="AAPL", watermark_ts=market_ts(day))
        current = AssetWatermark.objects.get(asset_key="candles_daily", scope_key="AAPL")
        if seen_max is not None and current.watermark_ts < seen_max:
            regressions += 1
        seen_max = max(seen_max or current.watermark_ts, current.watermark_ts)
    return {"max_written": max(days).isoformat(), "regressions": regressions}


def warehouse_writer(name: str, loops: int) -> dict:
    from optionshelper import warehouse

    errors = []
    for i in range(loops):
        try:
            day = dt.date(2020, 1, 1) + dt.timedelta(days=i)
            with warehouse.transaction() as con:
                con.execute("DELETE FROM candles_daily WHERE symbol = ? AND date = ?", [name, day])
                con.execute(
                    "INSERT INTO candles_daily (symbol, date, close, provider, updated_at) "
                    "VALUES (?, ?, ?, 'test', now())",
                    [name, day, float(i)],
                )
        except Exception as exc:  # recorded, not raised: the test asserts there are none
            errors.append(f"{type(exc).__name__}: {exc}")
    return {"writes": loops - len(errors), "errors": errors}


def warehouse_reader(stop_file: str) -> dict:
    """Read through the shim until the test creates ``stop_file`` (the writers are done)."""
    from django.db import connections

    errors = []
    counts = []
    stop = Path(stop_file)
    while True:
        done = stop.exists()  # checked before the read: at least one read after the writers
        try:
            with connections["warehouse"].cursor() as cursor:
                cursor.execute("SELECT count(*) FROM candles_daily")
                counts.append(cursor.fetchone()[0])
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        if done:
            break
    return {"reads": len(counts), "errors": errors, "last_count": counts[-1] if counts else None}


def main() -> None:
    django.setup()
    command, *args = sys.argv[1:]
    if command == "watermark":
        result = watermark(int(args[0]), int(args[1]))
    elif command == "warehouse-writer":
        result = warehouse_writer(args[0], int(args[1]))
    elif command == "warehouse-reader":
        result = warehouse_reader(args[0])
    else:
        raise SystemExit(f"unknown worker command {command}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
