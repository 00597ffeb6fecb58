"""Producer jobs over a small demo universe: rows, ledger, watermarks, idempotence, partial runs.

Sizes (measured on the 2-core CI box, ~0.3 s per symbol-session for candles and snapshots and
~3 s per symbol-session for a first option-bars fetch): candles and snapshots run over
``N_SESSIONS`` sessions; option bars, by far the slowest producer, over the last ``N_BAR_SESSIONS``
with a short lookback. Everything else the SPEC asks (one event per symbol per asset, watermarks =
last session, a re-run changes nothing) is asserted on the same data.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from apps.core import calendar
from apps.ledger.models import AssetWatermark, IngestionRun
from apps.market.jobs import DEFAULT_CANDLE_LOOKBACK_DAYS
from apps.market.providers.base import ProviderError
from apps.market.providers.demo import DemoProvider
from optionshelper import warehouse
from tests.jobs.helpers import (
    duplicate_keys,
    event_status,
    past_sessions,
    row_count,
    run_job,
    runs,
    warehouse_state,
    watermark_date,
)

SYMBOLS = ("AAPL", "MSFT", "SPY", "QQQ", "NVDA")
N_SESSIONS = 6
N_BAR_SESSIONS = 2
BAR_LOOKBACK_DAYS = 3


def _produce(sessions: list[dt.date]) -> None:
    for day in sessions:
        for job in ("ingest_candles", "snapshot_options"):
            execution = run_job(job, day, SYMBOLS)
            assert execution.outcome.status == "success", (job, day, execution.outcome.error)
    for day in sessions[-N_BAR_SESSIONS:]:
        execution = run_job("ingest_options_bars", day, SYMBOLS, lookback_days=BAR_LOOKBACK_DAYS)
        assert execution.outcome.status == "success", (day, execution.outcome.error)


@pytest.mark.django_db
def test_producers_rows_ledger_watermarks_and_rerun_is_a_no_op(warehouse_db):
    sessions = past_sessions(N_SESSIONS)
    first, last = sessions[0], sessions[-1]
    _produce(sessions)

    # candles: every session from the lookback start to the last as-of
    expected_candles = len(
        calendar.sessions_between(first - dt.timedelta(days=DEFAULT_CANDLE_LOOKBACK_DAYS), last)
    )
    for symbol in SYMBOLS:
        assert row_count("candles_daily", "symbol = ?", [symbol]) == expected_candles
        # snapshots: one header per session, chain rows = header.contracts
        headers = warehouse.fetch_all(
            "SELECT snapshot_date, contracts FROM options_snapshot_headers WHERE symbol = ? "
            "ORDER BY snapshot_date",
            [symbol],
        )
        assert [h[0] for h in headers] == sessions
        for day, contracts in headers:
            assert contracts > 100
            assert row_count(
                "options_chain", "symbol = ? AND snapshot_date = ?", [symbol, day]
            ) == (contracts)
        assert row_count("option_contracts", "underlying = ?", [symbol]) > 0
        assert (
            warehouse.fetch_all(
                "SELECT count(*) FROM option_bars b JOIN option_contracts c USING (contract_symbol) "
                "WHERE c.underlying = ?",
                [symbol],
            )[0][0]
            > 0
        )
        # watermarks = last session
        assert watermark_date("candles_daily", symbol) == last
        assert watermark_date("options_snapshots", symbol) == last
        assert watermark_date("option_bars", symbol) == last
    for table in ("candles_daily", "options_chain", "options_snapshot_headers", "option_bars"):
        assert duplicate_keys(table) == 0, table

    # ledger: one success run per job per session; one event per symbol per asset per run
    expected_runs = {
        "ingest_candles": N_SESSIONS,
        "snapshot_options": N_SESSIONS,
        "ingest_options_bars": N_BAR_SESSIONS,
    }
    assets = {
        "ingest_candles": ("candles_daily",),
        "snapshot_options": ("options_snapshots",),
        "ingest_options_bars": ("option_contracts", "option_bars"),
    }
    for job, count in expected_runs.items():
        job_runs = runs(job)
        assert job_runs.count() == count
        assert set(job_runs.values_list("status", flat=True)) == {"success"}
        assert sorted(job_runs.values_list("as_of", flat=True)) == sessions[-count:]
        for run in job_runs:
            for asset_key in assets[job]:
                assert event_status(run.pk, asset_key) == dict.fromkeys(SYMBOLS, "success")
    watermarks_before = set(
        AssetWatermark.objects.values_list("asset_key", "scope_key", "watermark_ts")
    )

    # a second pass changes nothing in the warehouse and adds a new set of success runs
    before = warehouse_state()
    _produce(sessions)
    assert warehouse_state() == before
    for job, count in expected_runs.items():
        assert runs(job).count() == 2 * count
        assert set(runs(job).values_list("status", flat=True)) == {"success"}
    assert (
        set(AssetWatermark.objects.values_list("asset_key", "scope_key", "watermark_ts"))
        == watermarks_before
    )


@pytest.mark.django_db
def test_one_failing_symbol_makes_the_run_partial_and_exit_1(warehouse_db, monkeypatch):
    day = past_sessions(1)[0]
    original = DemoProvider.get_chain_snapshot

    def flaky(self, symbol, *, as_of=None):
        if symbol == "MSFT":
            raise ProviderError("MSFT", "simulated outage")
        return original(self, symbol, as_of=as_of)

    monkeypatch.setattr(DemoProvider, "get_chain_snapshot", flaky)
    with pytest.raises(SystemExit) as exit_info:
        call_command("snapshot_options", "--symbol", "AAPL,MSFT,SPY", "--as-of", day.isoformat())
    assert exit_info.value.code == 1
    run = IngestionRun.objects.get(job_name="snapshot_options")
    assert run.status == "partial"
    assert (run.partitions_ok, run.partitions_failed) == (2, 1)
    events = event_status(run.pk, "options_snapshots")
    assert events == {"AAPL": "success", "MSFT": "failed", "SPY": "success"}
    failed = run.assets.get(partition_key="MSFT")
    assert failed.extra["error"] == "MSFT: simulated outage"
    assert failed.extra["error_type"] == "ProviderError"
    assert row_count("options_snapshot_headers", "symbol = 'MSFT'") == 0
    assert row_count("options_snapshot_headers", "symbol IN ('AAPL', 'SPY')") == 2
