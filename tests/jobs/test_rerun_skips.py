"""Re-runs skip finished work: up_to_date skips, identical tables, --force replaces (issue 12)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from apps.core.asof import resolve_as_of
from apps.core.jobs import JobParams
from apps.ledger.models import AssetWatermark, IngestionRun, IngestionRunAsset
from apps.market import jobs as market_jobs
from apps.market import stores
from apps.market.providers.demo import DemoProvider
from apps.pipeline.daily import run_range
from optionshelper import warehouse
from tests.jobs.helpers import past_sessions, run_job, warehouse_state

SYMBOLS = ("AAPL", "SPY")
JOB_OPTIONS = {"ingest_options_bars": {"lookback_days": 1}}
PRODUCER_ASSETS = {
    "ingest_candles": ("candles_daily",),
    "ingest_options_bars": ("option_contracts", "option_bars"),
    "snapshot_options": ("options_snapshots",),
}


def _events(run_id, asset_key: str) -> dict[str, tuple[str, str | None]]:
    return {
        e.partition_key: (e.status, e.extra.get("reason"))
        for e in IngestionRunAsset.objects.filter(run_id=run_id, asset_key=asset_key)
    }


@pytest.mark.django_db
def test_rerunning_a_range_changes_nothing_and_records_up_to_date_skips(warehouse_db):
    sessions = past_sessions(2)
    params = JobParams(as_of=resolve_as_of(), symbols=SYMBOLS)
    first = run_range(params, start=sessions[0], end=sessions[-1], job_options=JOB_OPTIONS)
    assert {r.outcome.status for r in first} == {"success"}
    before = warehouse_state()
    assert before["options_chain"][0] > 0 and before["option_bars"][0] > 0
    marks = set(AssetWatermark.objects.values_list("asset_key", "scope_key", "watermark_ts"))
    assert {m[:2] for m in marks} >= {("option_bars", s) for s in SYMBOLS}

    again = run_range(params, start=sessions[0], end=sessions[-1], job_options=JOB_OPTIONS)
    assert {r.outcome.status for r in again} == {"success"}
    assert warehouse_state() == before  # every table identical (checksums)
    assert set(AssetWatermark.objects.values_list("asset_key", "scope_key", "watermark_ts")) == marks
    for result in again:
        for job_name, execution in result.jobs:
            if job_name not in PRODUCER_ASSETS:
                continue
            assert execution.outcome.status == "success"
            assert execution.result.symbols_with("skipped") == list(SYMBOLS), job_name
            for asset_key in PRODUCER_ASSETS[job_name]:
                assert _events(execution.outcome.run_id, asset_key) == dict.fromkeys(
                    SYMBOLS, ("skipped", "up_to_date")
                ), (job_name, asset_key)


@pytest.mark.django_db
def test_force_replaces_a_stored_snapshot(warehouse_db):
    day = past_sessions(1)[0]
    assert run_job("snapshot_options", day, SYMBOLS).outcome.status == "success"
    stamps = dict(warehouse.fetch_all("SELECT symbol, updated_at FROM options_snapshot_headers"))
    before = warehouse_state()

    skipped = run_job("snapshot_options", day, SYMBOLS)
    assert skipped.result.symbols_with("skipped") == list(SYMBOLS)

    call_command(
        "snapshot_options", "--as-of", day.isoformat(), "--symbol", ",".join(SYMBOLS), "--force"
    )
    run = IngestionRun.objects.filter(job_name="snapshot_options").latest("started_at")
    assert run.status == "success"
    events = IngestionRunAsset.objects.filter(run_id=run.pk, asset_key="options_snapshots")
    assert {e.partition_key: e.status for e in events} == dict.fromkeys(SYMBOLS, "success")
    for event in events:  # every stored row was replaced, none added
        assert event.rows_inserted == 0 and event.rows_updated > 100
    assert warehouse_state() == before  # the demo provider is deterministic
    replaced = dict(warehouse.fetch_all("SELECT symbol, updated_at FROM options_snapshot_headers"))
    assert all(replaced[s] > stamps[s] for s in SYMBOLS)


@pytest.mark.django_db
def test_forced_candles_and_bars_rewrite_without_changing_content(warehouse_db):
    day = past_sessions(1)[0]
    for job in ("ingest_candles", "ingest_options_bars"):
        assert run_job(job, day, SYMBOLS, lookback_days=1).outcome.status == "success"
    before = warehouse_state()
    for job in ("ingest_candles", "ingest_options_bars"):
        execution = run_job(job, day, SYMBOLS, lookback_days=1, force=True)
        assert execution.outcome.status == "success"
        assert execution.result.symbols_with("success") == list(SYMBOLS), job
        for asset_key in PRODUCER_ASSETS[job]:
            events = IngestionRunAsset.objects.filter(
                run_id=execution.outcome.run_id, asset_key=asset_key
            )
            assert {e.status for e in events} == {"success"}
            assert sum(e.rows_updated for e in events) > 0, asset_key
    assert warehouse_state() == before


@pytest.mark.django_db
def test_run_daily_passes_force_to_every_job_that_skips_finished_work(monkeypatch):
    seen = {}

    def fake_run_pipeline(params, *, job_options=None, **kwargs):
        seen.update(params.options if job_options is None else job_options)
        raise SystemExit(0)

    monkeypatch.setattr(
        "apps.pipeline.management.commands.run_daily.run_pipeline", fake_run_pipeline
    )
    with pytest.raises(SystemExit):
        call_command("run_daily", "--symbol", "AAPL", "--as-of", "2026-11-20", "--force")
    for job in PRODUCER_ASSETS:
        assert seen[job] == {"force": True}, job
    assert seen["compute_flow"]["window"] == 1 and seen["compute_flow"]["force"] is True
    assert seen["build_briefing"] == {"force": True}


@pytest.mark.django_db
def test_a_failed_batch_write_fails_only_that_batch(warehouse_db, monkeypatch):
    day = past_sessions(1)[0]
    monkeypatch.setattr(market_jobs, "SNAPSHOT_BATCH_ROWS", 1)  # one symbol per batch
    original = stores.snapshots_write

    def failing(*, snapshots, provider):
        if snapshots[0].symbol == "SPY":
            raise RuntimeError("disk full")
        return original(snapshots=snapshots, provider=provider)

    monkeypatch.setattr(stores, "snapshots_write", failing)
    execution = run_job("snapshot_options", day, SYMBOLS)
    assert execution.outcome.status == "partial"
    assert execution.result.symbols_with("success") == ["AAPL"]
    assert execution.result.symbols_with("failed") == ["SPY"]
    stored = warehouse.fetch_all("SELECT DISTINCT symbol FROM options_chain")
    assert stored == [("AAPL",)]


@pytest.mark.django_db
def test_bars_already_fetched_as_of_the_date_skip_without_asking_the_provider(
    warehouse_db, monkeypatch
):
    day = past_sessions(1)[0]
    assert run_job("ingest_options_bars", day, SYMBOLS, lookback_days=1).outcome.status == "success"
    listed = []
    original = DemoProvider.list_option_contracts

    def counting(self, symbol, **kwargs):
        listed.append(symbol)
        return original(self, symbol, **kwargs)

    monkeypatch.setattr(DemoProvider, "list_option_contracts", counting)
    again = run_job("ingest_options_bars", day, SYMBOLS, lookback_days=1)
    assert again.result.symbols_with("skipped") == list(SYMBOLS)
    assert listed == []
    forced = run_job("ingest_options_bars", day, SYMBOLS, lookback_days=1, force=True)
    assert forced.result.symbols_with("success") == list(SYMBOLS)
    assert listed == list(SYMBOLS)


@pytest.mark.django_db
def test_bar_requests_respect_the_providers_batch_and_store_the_same_rows(
    warehouse_db, monkeypatch
):
    day = past_sessions(1)[0]
    assert (
        run_job("ingest_options_bars", day, ("AAPL",), lookback_days=3).outcome.status == "success"
    )
    one_request = _bars_and_meta()
    requests = []
    original = DemoProvider.get_option_bars

    def recording(self, contract_symbols, start, end):
        requests.append(len(contract_symbols))
        return original(self, contract_symbols, start, end)

    monkeypatch.setattr(DemoProvider, "get_option_bars", recording)
    monkeypatch.setattr(DemoProvider, "option_bars_batch", 97)
    forced = run_job("ingest_options_bars", day, ("AAPL",), lookback_days=3, force=True)
    assert forced.outcome.status == "success"
    contracts = warehouse.fetch_all("SELECT count(*) FROM option_contracts")[0][0]
    assert max(requests) == 97 and sum(requests) == contracts
    assert _bars_and_meta() == one_request


def _bars_and_meta() -> tuple[list, list]:
    bars = warehouse.fetch_all(
        "SELECT contract_symbol, date, open, high, low, close, volume FROM option_bars ORDER BY 1, 2"
    )
    meta = warehouse.fetch_all(
        "SELECT contract_symbol, provider, status, rows, start_date, end_date, error_count "
        "FROM option_bars_meta ORDER BY 1"
    )
    return bars, meta


@pytest.mark.django_db
def test_a_backfill_of_earlier_sessions_recomputes_the_derived_rows_that_rank_against_them(
    warehouse_db,
):
    """IV percentile and rank rank a row against the earlier derived rows: once a backfill has
    written earlier sessions, the later row is no longer up to date."""
    sessions = past_sessions(4)
    params = JobParams(as_of=resolve_as_of(), symbols=("AAPL",))
    run_range(params, start=sessions[-1], end=sessions[-1], job_options=JOB_OPTIONS)

    def newest_row():
        return warehouse.fetch_all(
            "SELECT atm_iv_percentile, updated_at FROM derived_daily WHERE symbol = 'AAPL' "
            "AND date = ?",
            [sessions[-1]],
        )[0]

    alone = newest_row()
    assert alone[0] is None  # no earlier session: nothing to rank against
    run_range(params, start=sessions[0], end=sessions[-2], job_options=JOB_OPTIONS)
    last = run_job("compute_derived", sessions[-1], ("AAPL",))
    assert last.result.symbols_with("success") == ["AAPL"]  # not up_to_date
    backfilled = newest_row()
    assert backfilled[0] is not None and backfilled[1] > alone[1]
    again = run_job("compute_derived", sessions[-1], ("AAPL",))
    assert again.result.symbols_with("skipped") == ["AAPL"]  # now it is
