"""The run logger: statuses, errors, stack hashes, redaction, leases and abandonment."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.ledger.models import AssetWatermark, IngestionRun, IngestionRunAsset, JobLease
from apps.ledger.services import run_logger
from apps.ledger.services.errors import canonical_args, stack_hash
from apps.ledger.services.housekeeping import abandon_stale_runs
from apps.ledger.services.run_types import JobAlreadyRunning, RunOutcome
from apps.ledger.services.runs import job_run

pytestmark = pytest.mark.django_db

DAY = dt.date(2024, 1, 2)


def _job(outcome: RunOutcome, *, fail: set[str], ok: set[str], **kwargs) -> None:
    kwargs.setdefault("as_of", DAY)
    with job_run(job_name="ingest_candles", outcome=outcome, **kwargs) as log:
        for symbol in sorted(ok):
            log.asset_succeeded("candles_daily", symbol, rows_inserted=3)
            log.advance_watermark("candles_daily", symbol, dt.date(2024, 1, 2))
        for symbol in sorted(fail):
            log.asset_failed("candles_daily", symbol, RuntimeError("provider down"))


def test_all_partitions_ok_is_success():
    outcome = RunOutcome()
    _job(outcome, ok={"AAPL", "MSFT"}, fail=set(), args={"symbol": ["AAPL", "MSFT"]})
    run = IngestionRun.objects.get()
    assert (run.status, outcome.exit_code) == ("success", 0)
    assert (run.partitions_ok, run.partitions_failed) == (2, 0)
    assert run.ended_at and run.duration_ms is not None and run.pid and run.hostname
    assert not JobLease.objects.exists()


def test_some_failed_is_partial_and_all_failed_is_failed():
    partial, failed = RunOutcome(), RunOutcome()
    _job(partial, ok={"AAPL"}, fail={"MSFT"})
    _job(failed, ok=set(), fail={"MSFT"}, as_of=dt.date(2024, 1, 3))
    assert (partial.status, partial.exit_code) == ("partial", 1)
    assert (failed.status, failed.exit_code) == ("failed", 1)
    event = IngestionRunAsset.objects.filter(status="failed").first()
    assert event.extra["error"] == "provider down"


def test_exception_fails_the_run_with_error_fields():
    outcome = RunOutcome()
    with pytest.raises(ValueError), job_run(job_name="compute_flow", as_of=DAY, outcome=outcome):
        raise ValueError("bad thing 123")
    run = IngestionRun.objects.get()
    assert run.status == "failed" and outcome.exit_code == 1
    assert run.error_type == "ValueError" and run.error_message == "bad thing 123"
    assert len(run.error_stack_hash) == 64


def _raise(message: str) -> BaseException:
    try:
        raise KeyError(message)
    except KeyError as exc:
        return exc


def _raise_moved(message: str) -> BaseException:

    try:

        raise KeyError(message)
    except KeyError as exc:
        return exc


def test_stack_hash_ignores_messages_but_not_functions():
    assert stack_hash(_raise("id 1")) == stack_hash(_raise("id 2"))
    assert stack_hash(_raise("id 1")) != stack_hash(_raise_moved("id 1"))  # another function


def test_args_are_canonical_and_redacted(monkeypatch):
    monkeypatch.setenv("APCA_API_SECRET_KEY", "sup3rsecretvalue")
    args = canonical_args({"symbol": ["B", "A"], "api_key": "x", "note": "sup3rsecretvalue!"})
    assert args == {"api_key": "***", "note": "***!", "symbol": ["B", "A"]}


def test_no_ledger_writes_nothing():
    outcome = RunOutcome()
    _job(outcome, ok={"AAPL"}, fail=set(), ledger=False)
    assert outcome.exit_code == 0
    assert not IngestionRun.objects.exists()


def test_second_copy_of_the_same_partition_refuses_to_start():
    with job_run(job_name="snapshot_options", as_of=dt.date(2024, 1, 2), symbols=["AAPL"]):
        with pytest.raises(JobAlreadyRunning, match="already running"):
            with job_run(job_name="snapshot_options", as_of=dt.date(2024, 1, 2), symbols=["AAPL"]):
                pass
        # another partition is fine
        with job_run(job_name="snapshot_options", as_of=dt.date(2024, 1, 2), symbols=["MSFT"]):
            pass
    assert IngestionRun.objects.filter(status="success").count() == 2


def test_stale_heartbeat_is_abandoned_and_frees_the_partition():
    old = timezone.now() - dt.timedelta(hours=5)
    stale = IngestionRun.objects.create(
        job_name="compute_flow",
        triggered_by="cli",
        started_at=old,
        heartbeat_at=old,
        as_of=DAY,
    )
    JobLease.objects.create(job_name="compute_flow", lease_key=f"{DAY.isoformat()}|ALL", run=stale, acquired_at=old)
    assert [r.pk for r in abandon_stale_runs()] == [stale.pk]
    stale.refresh_from_db()
    assert stale.status == "abandoned"
    with job_run(job_name="compute_flow", as_of=DAY):
        pass


def test_batched_events_and_watermarks_land_together_when_the_block_ends(monkeypatch):
    monkeypatch.setattr(run_logger, "HEARTBEAT_EVERY_S", 3600)  # no mid-block flush, however slow
    with job_run(job_name="ingest_candles", as_of=DAY, symbols=["AAPL", "MSFT"]) as log:
        log.asset_succeeded("candles_daily", "AAPL", rows_inserted=1)  # before the block
        log.advance_watermark("candles_daily", "AAPL", DAY)
        with log.batched():
            log.asset_skipped("candles_daily", "MSFT", "up_to_date")
            log.asset_succeeded("candles_daily", "AAPL", rows_inserted=5)  # replaces the first
            log.advance_watermark("candles_daily", "MSFT", DAY)
            log.advance_watermark("candles_daily", "AAPL", DAY - dt.timedelta(days=3))  # older
            assert not IngestionRunAsset.objects.filter(partition_key="MSFT").exists()
        events = {
            e.partition_key: (e.status, e.rows_inserted)
            for e in IngestionRunAsset.objects.filter(run_id=log.run_id)
        }
        assert events == {"AAPL": ("success", 5), "MSFT": ("skipped", 0)}
        marks = dict(AssetWatermark.objects.values_list("scope_key", "watermark_ts"))
        assert {k: v.date() for k, v in marks.items()} == {"AAPL": DAY, "MSFT": DAY}


def test_batched_events_are_written_even_when_the_block_raises():
    with pytest.raises(RuntimeError), job_run(job_name="ingest_candles", as_of=DAY) as log:
        with log.batched():
            log.asset_failed("candles_daily", "AAPL", RuntimeError("boom"))
            raise RuntimeError("boom")
    event = IngestionRunAsset.objects.get(partition_key="AAPL")
    assert event.status == "failed" and event.extra["error"] == "boom"
