"""After ``run_daily --as-of latest``: one as-of everywhere, a health roll-up per dashboard row, and
the dashboard and the Portfolio page agreeing on the demo portfolio's P&L (multi-leg included)."""

from __future__ import annotations

import contextlib
import json

import pytest
from django.core.management import call_command

from apps.analytics.dashboard import DashboardSymbolRow, rows_from_payload
from apps.analytics.models import DashboardView
from apps.core.asof import resolve_as_of
from apps.ledger.models import IngestionRun
from apps.ledger.selectors.health import asset_health_rows, health_by_scope
from apps.portal.selectors.portfolio import portfolio_view
from apps.portal.views.dashboard import dashboard_view_model
from apps.portfolio.management.commands.demo_setup import demo_portfolio
from apps.portfolio.services import portfolio_import

pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases=["default", "warehouse"])]


def test_run_daily_latest_records_one_as_of_health_per_row_and_one_pnl(warehouse_db, settings):
    portfolio_import(data=demo_portfolio())
    before = resolve_as_of("latest").market_date
    with contextlib.suppress(SystemExit):
        call_command("run_daily", "--as-of", "latest")
    pipeline = IngestionRun.objects.get(job_name="run_daily")
    # A market close may fall inside the run: "latest" is then a session later afterwards.
    assert pipeline.as_of in {before, resolve_as_of("latest").market_date}
    market_date = pipeline.as_of
    children = IngestionRun.objects.filter(parent_run_id=str(pipeline.run_id))
    assert children.count() == 7
    assert {run.as_of for run in children} | {pipeline.as_of} == {market_date}

    payload = DashboardView.objects.order_by("-built_at").first().payload
    assert {row.symbol for row in rows_from_payload(payload)} == {"AAPL", "NVDA", "SPY"}
    # Health is read live by the page, never stored with the view (it would go stale).
    assert "overall_health" not in payload and "health" not in payload["symbols"][0]
    rows = dashboard_view_model()["symbols"]
    health = health_by_scope(asset_health_rows())
    assert {row.symbol: row.health for row in rows} == {
        row.symbol: health[row.symbol] for row in rows
    }
    assert "unknown" not in {row.health for row in rows}

    page = portfolio_view()
    spread = next(p for p in page["positions"] if p["position_id"] == "nvda-spread")
    assert spread["pnl"] is not None
    assert payload["portfolio"]["pnl"] == pytest.approx(page["totals"]["pnl"])
    # ... and the briefing states the spread's cost and P&L as the Portfolio page does
    briefing = json.loads((settings.REPORTS_DIR / "daily" / f"{market_date}.json").read_text())
    (total,) = [
        t for t in briefing["portfolio"]["position_totals"] if t["position_id"] == "nvda-spread"
    ]
    assert (total["cost"], total["pnl"]) == pytest.approx((spread["cost"], spread["pnl"]))
    markdown = (settings.REPORTS_DIR / "daily" / f"{market_date}.md").read_text()
    assert "| nvda-spread | NVDA | position (2 legs) |" in markdown
    assert payload["portfolio"]["market_value"] == pytest.approx(page["totals"]["market_value"])


def test_a_sparse_stored_row_reads_back_with_defaults():
    row = DashboardSymbolRow.from_payload({"symbol": "ZZZ", "unexpected": 1, "health": "healthy"})
    assert row == DashboardSymbolRow(symbol="ZZZ")  # a stored health (older builds) is stale
    assert "health" not in DashboardSymbolRow(symbol="ZZZ", health="failed").to_payload()
    assert DashboardSymbolRow.from_payload({"spot": 1.0}) is None
