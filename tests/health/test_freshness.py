"""Freshness counts trading sessions after each asset's deadline; the roll-up takes the worst."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.core import registry
from apps.ledger.selectors import health
from tests.health.factories import et, make_check, make_event, make_run, make_watermark

pytestmark = pytest.mark.django_db

FRIDAY = dt.date(2024, 3, 15)


@pytest.mark.parametrize(
    ("now", "expected", "behind", "status"),
    [
        (et(2024, 3, 15, 17, 0), dt.date(2024, 3, 14), 0, "healthy"),  # Friday before the deadline
        (et(2024, 3, 16, 12), FRIDAY, 0, "healthy"),  # Saturday
        (et(2024, 3, 17, 23), FRIDAY, 0, "healthy"),  # Sunday night
        (et(2024, 3, 18, 9, 0), FRIDAY, 0, "healthy"),  # Monday morning
        (et(2024, 3, 18, 18, 29), FRIDAY, 0, "healthy"),  # Monday just before the deadline
        (et(2024, 3, 18, 18, 30), dt.date(2024, 3, 18), 1, "warning"),  # Monday after it
        (et(2024, 3, 19, 20), dt.date(2024, 3, 19), 2, "warning"),  # Tuesday evening
        (et(2024, 3, 20, 20), dt.date(2024, 3, 20), 3, "degraded"),  # error_after = 3
    ],
)
def test_a_friday_watermark_over_the_weekend_and_the_next_week(now, expected, behind, status):
    make_watermark("candles_daily", "AAPL", FRIDAY)
    assert health.expected_market_date("candles_daily", now=now) == expected
    (row,) = [r for r in health.asset_health_rows(now=now) if r.asset_key == "candles_daily"]
    assert (row.scope_key, row.watermark_date, row.expected_date) == ("AAPL", FRIDAY, expected)
    assert (row.sessions_behind, row.status) == (behind, status)


def test_holidays_do_not_count_and_deadlines_come_from_the_registry():
    # Good Friday 2024-03-29: Thursday's data is still fresh on Monday morning.
    assert health.expected_market_date("candles_daily", now=et(2024, 4, 1, 10)) == dt.date(
        2024, 3, 28
    )
    # briefing deadline is 19:00, candles 18:30.
    at = et(2024, 3, 18, 18, 45)
    assert health.expected_market_date("candles_daily", now=at) == dt.date(2024, 3, 18)
    assert health.expected_market_date("briefing_json", now=at) == FRIDAY


def test_never_produced_assets_are_unknown_and_overall_is_unknown_when_nothing_ran():
    rows = health.asset_health_rows(now=et(2024, 3, 18, 12))
    assert {r.status for r in rows} == {"unknown"}
    assert len(rows) == len(registry.ASSETS)
    assert health.overall_health(rows) == "unknown"
    assert health.overall_health([]) == "unknown"


MONDAY_NOON = et(2024, 3, 18, 12)


def _row(asset_key: str, scope: str, now=MONDAY_NOON) -> health.AssetHealth:
    return next(
        r
        for r in health.asset_health_rows(now=now)
        if (r.asset_key, r.scope_key) == (asset_key, scope)
    )


def test_a_run_that_failed_on_one_symbol_degrades_that_symbol_only():
    for symbol in ("AAPL", "MSFT", "SPY"):
        make_watermark("candles_daily", symbol, FRIDAY)
    failed = make_run("ingest_candles", "failed", args={"symbols": ["AAPL", "MSFT"]})
    make_event(failed, "candles_daily", "AAPL", "failed")
    make_event(failed, "candles_daily", "MSFT", "success")
    assert _row("candles_daily", "AAPL").status == "degraded"
    assert _row("candles_daily", "MSFT").status == "healthy"  # it succeeded in that run
    assert _row("candles_daily", "SPY").status == "healthy"  # not part of that run
    crashed = make_run("ingest_candles", "failed", args={"symbols": ["SPY"]})  # no events at all
    assert _row("candles_daily", "SPY").status == "degraded"
    assert _row("candles_daily", "AAPL").status == "healthy"  # the newer run did not ask for it
    assert crashed.assets.count() == 0


def test_latest_failed_run_degrades_partial_warns_and_a_newer_success_heals():
    make_watermark("candles_daily", "AAPL", FRIDAY)
    make_run("ingest_candles", "failed")
    assert _row("candles_daily", "AAPL").status == "degraded"
    assert _row("candles_daily", "AAPL").reasons == ["latest ingest_candles run failed"]
    make_run("ingest_candles", "partial")
    assert _row("candles_daily", "AAPL").status == "warning"
    make_run("ingest_candles", "success")
    make_run("ingest_candles", "started")  # a run in progress does not hide the last result
    row = _row("candles_daily", "AAPL")
    assert (row.status, row.latest_run_status) == ("healthy", "success")


def test_abandoned_latest_run_degrades_even_a_never_produced_asset():
    make_run("build_dashboard", "abandoned")
    row = _row("dashboard_view", "ALL")
    assert row.status == "degraded" and "latest build_dashboard run abandoned" in row.reasons


def test_error_check_fail_degrades_warn_check_fail_warns_and_only_the_latest_result_counts():
    make_watermark("candles_daily", "AAPL", FRIDAY)
    make_watermark("candles_daily", "MSFT", FRIDAY)
    make_watermark("options_snapshots", "AAPL", FRIDAY)
    t = dt.datetime(2024, 3, 15, 23, tzinfo=dt.UTC)
    make_check("candles_no_negative_prices", "candles_daily", "AAPL", "fail", checked_at=t)
    make_check("candles_no_negative_prices", "candles_daily", "MSFT", "fail", checked_at=t)
    make_check(
        "candles_no_negative_prices",
        "candles_daily",
        "MSFT",
        "pass",
        checked_at=t + dt.timedelta(hours=1),
    )
    make_check(
        "snapshot_parseable_contract_symbol", "options_snapshots", "AAPL", "fail", severity="warn"
    )
    aapl = _row("candles_daily", "AAPL")
    assert (aapl.status, aapl.failed_checks) == ("degraded", ["candles_no_negative_prices"])
    assert _row("candles_daily", "MSFT").status == "healthy"
    assert _row("options_snapshots", "AAPL").status == "warning"
    assert health.overall_health(health.asset_health_rows(now=et(2024, 3, 18, 12))) == "degraded"


def test_overall_is_the_worst_known_level():
    assert health.worst(["healthy", "unknown", "warning"]) == "warning"
    assert health.worst(["unknown"]) == "unknown"
    assert health.is_at_or_worse("degraded", "warning")
    assert not health.is_at_or_worse("warning", "degraded")
    assert not health.is_at_or_worse("unknown", "warning")


def test_report_lists_failures_grouped_by_stack_hash_and_the_status_grid():
    now = et(2024, 3, 20, 20)
    for day in (18, 19):
        run = make_run(
            "compute_flow",
            "failed",
            started_at=et(2024, 3, day, 19),
            as_of=dt.date(2024, 3, day),
            error_type="KeyError",
            error_message=f"missing {day}",
            error_stack_hash="a" * 64,
        )
        make_event(run, "options_flow", "AAPL", "failed")
    ok = make_run("compute_flow", "success", started_at=et(2024, 3, 20, 19))
    make_event(ok, "options_flow", "AAPL", "success")
    make_event(ok, "options_flow", "MSFT", "skipped")
    rerun = make_run("ingest_candles", "success", started_at=et(2024, 3, 19, 19))
    make_event(rerun, "candles_daily", "AAPL", "skipped", reason="up_to_date")  # stored, current
    (group,) = health.recurring_failures(days=7, limit=10, now=now)
    assert (group["job_name"], group["count"], group["error_type"]) == (
        "compute_flow",
        2,
        "KeyError",
    )
    assert group["sample_message"] == "missing 19"
    assert group["first_seen"] < group["last_seen"]
    assert [f["error_message"] for f in health.recent_failures(days=7, limit=10, now=now)] == [
        "missing 19",
        "missing 18",
    ]
    (recent,) = health.recent_failures(days=2, limit=10, now=now)
    assert recent["error_message"] == "missing 19"
    grid = health.status_grid(sessions=3, now=now)
    assert grid["sessions"] == [dt.date(2024, 3, 18), dt.date(2024, 3, 19), dt.date(2024, 3, 20)]
    flow = next(r for r in grid["rows"] if r["asset_key"] == "options_flow")
    assert flow["cells"] == ["failed", "failed", "skipped"]
    candles = next(r for r in grid["rows"] if r["asset_key"] == "candles_daily")
    assert candles["cells"] == [None, "success", None]


def test_latest_run_per_job_uses_a_constant_number_of_queries(django_assert_max_num_queries):
    for i in range(30):
        make_run("ingest_candles", "failed" if i % 2 else "success")
        make_run("compute_flow", "success")
    with django_assert_max_num_queries(1):
        latest = health.latest_runs_per_job()
    assert [r["job_name"] for r in latest] == ["ingest_candles", "compute_flow"]
    assert latest[0]["status"] == "failed"
    make_watermark("candles_daily", "AAPL", FRIDAY)
    with django_assert_max_num_queries(5):  # runs, their events, checks, watermarks, tracked set
        health.asset_health_rows(now=et(2024, 3, 18, 12))


def test_option_contracts_are_represented_by_the_option_bars_watermark():
    make_watermark("option_bars", "AAPL", FRIDAY)
    keys = {r.asset_key for r in health.asset_health_rows(now=MONDAY_NOON)}
    assert "option_bars" in keys and "option_contracts" not in keys
    assert "candles_daily" in keys  # never produced, no sibling: still an unknown row
