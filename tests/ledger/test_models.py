"""Database constraints on the control-plane vocabularies, and monotonic watermarks."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.ledger.models import AssetCheck, AssetWatermark, IngestionRun, IngestionRunAsset
from apps.ledger.services.run_types import market_ts
from apps.ledger.services.watermarks import watermark_advance, watermarks_advance
from tests.support import start_worker

pytestmark = pytest.mark.django_db


def _run(**overrides) -> IngestionRun:
    now = timezone.now()
    fields = {
        "job_name": "ingest_candles",
        "triggered_by": "cli",
        "started_at": now,
        "heartbeat_at": now,
        "as_of": dt.date(2024, 1, 2),
    }
    fields.update(overrides)
    return IngestionRun.objects.create(**fields)


@pytest.mark.parametrize(
    "overrides", [{"status": "done"}, {"triggered_by": "cron"}], ids=["status", "triggered_by"]
)
def test_run_rejects_unknown_vocabulary(overrides):
    with pytest.raises(IntegrityError), transaction.atomic():
        _run(**overrides)


def test_asset_event_and_check_reject_unknown_vocabulary():
    run = _run()
    now = timezone.now()
    event = dict(run=run, asset_key="candles_daily", asset_kind="table", partition_key="AAPL")
    check = dict(run=run, asset_key="candles_daily", check_name="x", checked_at=now)
    bad_rows = [
        (IngestionRunAsset, {**event, "status": "ok", "started_at": now}),
        (AssetCheck, {**check, "severity": "fatal", "status": "pass"}),
        (AssetCheck, {**check, "severity": "error", "status": "passed"}),
    ]
    for model, fields in bad_rows:
        with pytest.raises(IntegrityError), transaction.atomic():
            model.objects.create(**fields)


def test_asset_event_is_unique_per_run_asset_partition():
    run = _run()
    now = timezone.now()
    fields = dict(
        run=run,
        asset_key="candles_daily",
        asset_kind="table",
        partition_key="AAPL",
        status="success",
        started_at=now,
    )
    IngestionRunAsset.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        IngestionRunAsset.objects.create(**fields)


def test_watermark_only_moves_forward():
    def current():
        return AssetWatermark.objects.get(asset_key="candles_daily", scope_key="AAPL").watermark_ts

    assert watermark_advance(
        asset_key="candles_daily", scope_key="AAPL", watermark_ts=market_ts(dt.date(2024, 3, 1))
    )
    assert not watermark_advance(
        asset_key="candles_daily", scope_key="AAPL", watermark_ts=market_ts(dt.date(2024, 2, 1))
    )
    assert current().date() == dt.date(2024, 3, 1)
    assert watermark_advance(
        asset_key="candles_daily", scope_key="AAPL", watermark_ts=market_ts(dt.date(2024, 3, 4))
    )
    assert current().date() == dt.date(2024, 3, 4)


def test_many_watermarks_move_forward_in_a_bounded_number_of_statements(
    django_assert_max_num_queries,
):
    day = lambda d: market_ts(dt.date(2024, 3, d))  # noqa: E731
    for scope, d in (("OLD", 1), ("NEW", 20)):
        watermark_advance(asset_key="candles_daily", scope_key=scope, watermark_ts=day(d))
    run = _run()
    moves = {("candles_daily", "OLD"): day(8), ("candles_daily", "NEW"): day(8)}
    moves |= {("candles_daily", f"S{i:04d}"): day(8) for i in range(1200)}
    moves[("option_bars", "OLD")] = day(5)
    # One read, the insert in Django's batches, one update per (asset, value) and 500 scopes:
    # a handful of statements, not one or more per watermark.
    with django_assert_max_num_queries(20):
        watermarks_advance(moves=moves, run=run)
    stored = {
        (a, s): (ts.date().day, last_run)
        for a, s, ts, last_run in AssetWatermark.objects.values_list(
            "asset_key", "scope_key", "watermark_ts", "last_run"
        )
    }
    assert len(stored) == 1203
    assert stored["candles_daily", "OLD"] == (8, run.pk)
    assert stored["candles_daily", "NEW"] == (20, None)  # never moved back
    assert stored["candles_daily", "S1199"] == (8, run.pk)
    assert stored["option_bars", "OLD"] == (5, run.pk)
    with django_assert_max_num_queries(1):  # nothing moves the second time
        watermarks_advance(moves=moves, run=run)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_processes_never_move_a_watermark_backwards():
    workers = [start_worker("watermark", name, "150") for name in ("1", "2")]
    results = []
    try:
        for proc in workers:
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=60)
    assert all(r["regressions"] == 0 for r in results)
    final = AssetWatermark.objects.get(asset_key="candles_daily", scope_key="AAPL")
    assert final.watermark_ts.date().isoformat() == max(r["max_written"] for r in results)
