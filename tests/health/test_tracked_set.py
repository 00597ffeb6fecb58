"""Issue 14, finding 7: health speaks for the tracked set; plans and runs name the real provider."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.ledger.models import IngestionRun
from apps.ledger.selectors import health
from apps.pipeline import planner
from apps.portfolio.models import Watchlist, WatchlistSymbol
from tests.health.factories import make_run, make_watermark
from tests.jobs.helpers import past_sessions, run_job

VXX_DAY = dt.date(2016, 12, 30)


def _track(*symbols: str) -> None:
    watchlist, _ = Watchlist.objects.get_or_create(name="core")
    for symbol in symbols:
        WatchlistSymbol.objects.create(watchlist=watchlist, symbol=symbol)


def _fresh() -> dt.date:
    return health.expected_market_date("options_snapshots", now=timezone.now())


@pytest.mark.django_db
def test_untracked_symbol_with_old_data_never_degrades(warehouse_db):
    _track("AAPL")
    files_run = make_run("snapshot_options", provider="files", as_of=VXX_DAY)
    demo_run = make_run("snapshot_options", provider="demo", as_of=_fresh())
    make_watermark("options_snapshots", "AAPL", _fresh(), run=demo_run)
    make_watermark("options_snapshots", "VXX", VXX_DAY, run=files_run)
    rows = {(r.asset_key, r.scope_key): r for r in health.asset_health_rows()}
    vxx = rows[("options_snapshots", "VXX")]
    assert vxx.status == health.NOT_TRACKED and "not tracked" in vxx.reasons[0]
    assert vxx.sessions_behind > 2000
    assert rows[("options_snapshots", "AAPL")].status == health.HEALTHY
    out = io.StringIO()
    call_command("db_health", "--json", "--fail-on", "degraded", stdout=out)  # no SystemExit
    report = json.loads(out.getvalue())
    assert report["overall"] != health.DEGRADED
    assert any(w["scope_key"] == "VXX" and w["status"] == "not tracked"
               for w in report["watermarks"])

    # Once VXX is tracked it counts, and its plan re-runs it with the provider of its data.
    _track("VXX")
    assert health.overall_health(health.asset_health_rows()) == health.DEGRADED
    steps = [s for s in planner.plan_gaps() if s.job_name == "snapshot_options"]
    commands = {s.scope_key: s.command for s in steps}
    assert commands["VXX"].endswith("--symbol VXX --provider files")
    assert commands["AAPL"].endswith("--symbol AAPL --provider demo")


@pytest.mark.django_db
def test_nothing_tracked_means_every_symbol_counts(warehouse_db):
    make_watermark("options_snapshots", "VXX", VXX_DAY)
    assert health.overall_health(health.asset_health_rows()) == health.DEGRADED


@pytest.mark.django_db
def test_one_stale_rule_for_page_and_report(warehouse_db):
    _track("AAPL", "MSFT")
    make_watermark("options_snapshots", "AAPL", _fresh())
    old = past_sessions(1, end=_fresh() - dt.timedelta(days=10))[0]
    make_watermark("options_snapshots", "MSFT", old)
    rows = health.asset_health_rows()
    report = health.health_report(stale_days=1)
    shown = {(w["asset_key"], w["scope_key"]) for w in report["watermarks"]}
    assert shown == {(r.asset_key, r.scope_key) for r in health.at_least_behind(rows, 1)}
    assert ("options_snapshots", "MSFT") in shown and ("options_snapshots", "AAPL") not in shown
    assert report["stale_assets"] == 1


@pytest.mark.django_db
def test_derived_run_records_the_provider_of_its_data(warehouse_db):
    day = past_sessions(1)[0]
    assert run_job("snapshot_options", day, ["AAPL"]).outcome.status == "success"
    # The request says "yahoo" (the default could be anything); the data came from demo.
    from dataclasses import replace

    from apps.core.asof import resolve_as_of
    from apps.core.jobs import JobParams
    from apps.pipeline.jobs import execute_job

    params = JobParams(as_of=resolve_as_of(day), symbols=("AAPL",), provider="yahoo")
    for job in ("compute_derived", "compute_flow"):
        execute_job(job, replace(params, options={}))
        run = IngestionRun.objects.filter(job_name=job).latest("started_at")
        assert run.provider == "demo", job
