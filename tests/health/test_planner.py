"""The gap planner: ordered steps, exact reasons and commands, ALL collapse, one step per (job, scope)."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.pipeline.planner import PlanStep, plan_gaps
from tests.health.factories import et, make_check, make_event, make_run, make_watermark

pytestmark = pytest.mark.django_db

NOW = et(2024, 3, 19, 20)  # Tuesday evening: every asset expects 2024-03-19
TODAY = dt.date(2024, 3, 19)
FRIDAY = dt.date(2024, 3, 15)
# As the jobs write them: ingest_options_bars moves only the option_bars watermark (SPEC §6.2).
PER_SYMBOL = ("candles_daily", "option_bars", "options_snapshots")
DOWNSTREAM = ("options_flow", "derived_daily")
GLOBAL = ("briefing_markdown", "briefing_json", "dashboard_view")


def _all_fresh(symbols=("AAPL", "MSFT"), *, skip=()) -> None:
    for asset in PER_SYMBOL + DOWNSTREAM:
        for symbol in symbols:
            if (asset, symbol) not in skip:
                make_watermark(asset, symbol, TODAY)
    for asset in GLOBAL:
        make_watermark(asset, "ALL", TODAY)


def _rows(steps: list[PlanStep]) -> list[tuple]:
    return [(s.order, s.asset_key, s.scope_key, s.job_name, s.reason, s.command) for s in steps]


def test_nothing_to_do_when_everything_is_fresh_and_passing():
    _all_fresh()
    assert plan_gaps(now=NOW, symbols=["AAPL", "MSFT"]) == []


def test_stale_missing_and_failed_checks_with_upstream_order_and_collapse():
    _all_fresh(skip={("candles_daily", "MSFT"), ("options_flow", "AAPL")})
    make_watermark("candles_daily", "MSFT", FRIDAY)  # 2 sessions stale
    make_check("derived_no_duplicate_keys", "derived_daily", "AAPL", "fail")
    steps = plan_gaps(now=NOW, symbols=["aapl", "MSFT"])
    assert _rows(steps) == [
        (
            1,
            "candles_daily",
            "MSFT",
            "ingest_candles",
            "watermark stale (2 sessions)",
            "python manage.py ingest_candles --as-of 2024-03-19 --symbol MSFT",
        ),
        (
            2,
            "options_snapshots",
            "MSFT",
            "snapshot_options",
            "upstream for: candles_daily",
            "python manage.py snapshot_options --as-of 2024-03-19 --symbol MSFT",
        ),
        (
            3,
            "options_flow",
            "ALL",
            "compute_flow",
            "watermark missing",  # AAPL missing, MSFT upstream: every symbol needs it
            "python manage.py compute_flow --as-of 2024-03-19",
        ),
        (
            4,
            "derived_daily",
            "ALL",
            "compute_derived",
            "failed checks: derived_no_duplicate_keys",
            "python manage.py compute_derived --as-of 2024-03-19",
        ),
        (
            5,
            "briefing_markdown",
            "ALL",
            "build_briefing",
            "upstream for: options_flow",
            "python manage.py build_briefing --as-of 2024-03-19",
        ),
        (
            6,
            "dashboard_view",
            "ALL",
            "build_dashboard",
            "upstream for: briefing_json",
            "python manage.py build_dashboard --as-of 2024-03-19",
        ),
    ]


def test_failed_and_partial_latest_runs():
    _all_fresh()
    make_run("ingest_options_bars", "failed")
    partial = make_run("snapshot_options", "partial")
    make_event(partial, "options_snapshots", "AAPL", "success")
    make_event(partial, "options_snapshots", "MSFT", "failed")
    steps = plan_gaps(now=NOW, symbols=["AAPL", "MSFT"])
    assert [(s.asset_key, s.scope_key, s.reason) for s in steps] == [
        ("option_bars", "ALL", "latest failed run: ingest_options_bars"),  # one step per job
        ("options_snapshots", "MSFT", "latest failed run: snapshot_options"),
        ("options_flow", "MSFT", "upstream for: options_snapshots"),
        ("derived_daily", "MSFT", "upstream for: options_snapshots"),
        ("briefing_markdown", "ALL", "upstream for: options_flow"),
        ("dashboard_view", "ALL", "upstream for: briefing_json"),
    ]
    assert steps[0].command == "python manage.py ingest_options_bars --as-of 2024-03-19"
    assert [s.order for s in steps] == [1, 2, 3, 4, 5, 6]


def test_a_fresh_install_plans_every_job_once_for_all_symbols():
    steps = plan_gaps(now=NOW, symbols=["AAPL"])
    assert [(s.job_name, s.scope_key, s.reason) for s in steps] == [
        ("ingest_candles", "ALL", "watermark missing"),
        ("ingest_options_bars", "ALL", "watermark missing"),
        ("snapshot_options", "ALL", "watermark missing"),
        ("compute_flow", "ALL", "watermark missing"),
        ("compute_derived", "ALL", "watermark missing"),
        ("build_briefing", "ALL", "watermark missing"),
        ("build_dashboard", "ALL", "watermark missing"),
    ]


def test_stale_counts_are_merged_when_collapsing_and_tracked_symbols_come_from_the_ledger():
    from apps.portfolio.models import Watchlist, WatchlistSymbol

    _all_fresh(skip={("candles_daily", "AAPL"), ("candles_daily", "MSFT")})
    make_watermark("candles_daily", "AAPL", FRIDAY)  # 2 behind
    make_watermark("candles_daily", "MSFT", dt.date(2024, 3, 14))  # 3 behind
    steps = plan_gaps(now=NOW)  # tracked: the watermarks' symbols
    assert (steps[0].asset_key, steps[0].scope_key, steps[0].reason) == (
        "candles_daily",
        "ALL",
        "watermark stale (3 sessions)",
    )
    tech = Watchlist.objects.create(name="tech")
    for symbol in ("AAPL", "MSFT", "TSLA"):  # once anything is tracked, only tracked symbols count
        WatchlistSymbol.objects.create(watchlist=tech, symbol=symbol)
    steps = plan_gaps(now=NOW)
    # A missing watermark outranks stale ones in the collapsed step; option data lacks only TSLA.
    assert [(s.asset_key, s.scope_key, s.reason) for s in steps[:3]] == [
        ("candles_daily", "ALL", "watermark missing"),
        ("option_bars", "TSLA", "watermark missing"),
        ("options_snapshots", "ALL", "watermark missing"),
    ]
    assert steps[1].command == (
        "python manage.py ingest_options_bars --as-of 2024-03-19 --symbol TSLA"
    )


def test_a_friday_watermark_on_monday_morning_needs_nothing():
    _all_fresh(skip={(a, "AAPL") for a in PER_SYMBOL + DOWNSTREAM})
    for asset in PER_SYMBOL + DOWNSTREAM:
        make_watermark(asset, "AAPL", FRIDAY)
    assert plan_gaps(now=et(2024, 3, 18, 9), symbols=["AAPL"]) == []
