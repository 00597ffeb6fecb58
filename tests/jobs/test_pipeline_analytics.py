"""run_pipeline end to end over a small universe: flow, derived, briefing, dashboard; re-runs,
upstream failures, no look-ahead in compute_derived, and the briefing's Markdown/JSON contract."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import jsonschema
import pandas as pd
import pytest
from django.core.management import call_command

from apps.analytics.models import DashboardView, OptionsFlow, OptionsFlowPartition
from apps.core.asof import resolve_as_of
from apps.core.briefing import BRIEFING_JSON_SCHEMA, DISCLAIMER
from apps.core.jobs import JobParams
from apps.ledger.models import IngestionRun
from apps.market.providers.base import ProviderError
from apps.market.providers.demo import DemoProvider
from apps.pipeline.daily import UPSTREAM_FAILED, run_pipeline, run_range
from apps.portfolio.services import portfolio_import
from optionshelper import warehouse
from tests.jobs.helpers import event_status, past_sessions, warehouse_state
from tests.jobs.test_bad_inputs import PORTFOLIO

SYMBOLS = ("AAPL", "MSFT", "SPY", "QQQ")
N_SESSIONS = 6  # ~10 asked; 6 keeps the suite near its time budget on 2 cores
# Option bars are the slowest producer and nothing downstream reads them: a 1-day lookback.
JOB_OPTIONS = {"ingest_options_bars": {"lookback_days": 1}}
PIPELINE_JOBS = (
    "ingest_candles",
    "ingest_options_bars",
    "snapshot_options",
    "compute_flow",
    "compute_derived",
    "build_briefing",
    "build_dashboard",
)


def _raise_on_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def _flow_state() -> list[tuple]:
    return sorted(
        OptionsFlow.objects.values_list(
            "symbol", "to_date", "group_by", "row_key", "delta_oi", "delta_oi_notional"
        )
    )


def _derived(symbol: str, day) -> dict:
    frame = warehouse.fetch_df(
        "SELECT * EXCLUDE (updated_at) FROM derived_daily WHERE symbol = ? AND date = ?",
        [symbol, day],
    )
    assert len(frame) == 1
    return frame.iloc[0].to_dict()


def _same(a: dict, b: dict) -> bool:
    return not _differences(a, b)


def _differences(a: dict, b: dict) -> list:
    out = []
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, float) and isinstance(y, float):
            if math.isnan(x) and math.isnan(y):
                continue
            if x != pytest.approx(y, rel=1e-12, abs=1e-12):
                out.append((key, x, y))
        elif x != y and not (pd.isna(x) and pd.isna(y)):
            out.append((key, x, y))
    return out


def _briefing_data(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "generated_at"}


@pytest.mark.django_db
def test_pipeline_builds_everything_reruns_are_no_ops_and_derived_has_no_look_ahead(
    warehouse_db, settings
):
    portfolio_import(data=PORTFOLIO)
    sessions = past_sessions(N_SESSIONS)
    params = JobParams(as_of=resolve_as_of(), symbols=SYMBOLS)
    results = run_range(params, start=sessions[0], end=sessions[-1], job_options=JOB_OPTIONS)
    assert [r.as_of.market_date for r in results] == sessions
    for result in results:
        assert result.outcome.status == "success", result.to_dict()
        assert [name for name, _ in result.jobs] == list(PIPELINE_JOBS)
        for _, execution in result.jobs:
            assert execution.outcome.status == "success"
            run = IngestionRun.objects.get(pk=execution.outcome.run_id)
            assert run.parent_run_id == str(result.outcome.run_id)

    # flow: one window-1 partition per symbol per session after the first
    partitions = OptionsFlowPartition.objects.filter(window=1, group_by="contract")
    assert partitions.count() == len(SYMBOLS) * (N_SESSIONS - 1)
    assert all(p.rows > 100 and p.gap_sessions == [] for p in partitions)
    first_flow = IngestionRun.objects.filter(job_name="compute_flow", as_of=sessions[0]).get()
    assert event_status(first_flow.pk, "options_flow") == dict.fromkeys(SYMBOLS, "skipped")
    # derived: one row per symbol and session
    assert (
        warehouse.fetch_all("SELECT count(*) FROM derived_daily")[0][0] == len(SYMBOLS) * N_SESSIONS
    )
    # briefing files and dashboard view for every session
    daily = settings.REPORTS_DIR / "daily"
    for day in sessions:
        assert (daily / f"{day}.md").is_file() and (daily / f"{day}.json").is_file()
    assert DashboardView.objects.count() == N_SESSIONS
    assert DashboardView.objects.latest("market_date").market_date == sessions[-1]

    # the briefing contract (SPEC §6.6): strict JSON valid against the schema, Markdown structure
    text = (daily / f"{sessions[-1]}.json").read_text()
    report = json.loads(text, parse_constant=_raise_on_constant)
    jsonschema.validate(report, BRIEFING_JSON_SCHEMA)
    assert report["market_date"] == sessions[-1].isoformat()
    assert [s["symbol"] for s in report["symbols"]] == list(SYMBOLS)
    assert {p["position_id"] for p in report["portfolio"]["positions"]} == {"p1", "p2"}
    _assert_markdown_structure((daily / f"{sessions[-1]}.md").read_text(), report)
    # how much IV history stands behind each rank: the earlier sessions with an ATM IV, said aloud
    # while it is short
    prior = dict(
        warehouse.fetch_all(
            "SELECT symbol, count(atm_iv_near) FROM derived_daily WHERE date < ? GROUP BY 1",
            [sessions[-1]],
        )
    )
    for item in report["symbols"]:
        history = item["volatility"]["iv_history_sessions"]
        assert history == prior[item["symbol"]] and 0 < history < N_SESSIONS
        short = [w for w in item["warnings"] if w.startswith("IV rank and percentile rest on")]
        assert short == ([] if item["volatility"]["atm_iv_rank"] is None else [
            f"IV rank and percentile rest on only {history} prior sessions: they swing to 0 or "
            "100 easily"
        ])
        assert f"(over {history} prior sessions)" in (daily / f"{sessions[-1]}.md").read_text()
    latest_view = DashboardView.objects.latest("market_date").payload["symbols"]
    assert {row["symbol"]: row["iv_history"] for row in latest_view} == {
        item["symbol"]: item["volatility"]["iv_history_sessions"] for item in report["symbols"]
    }

    # a second run for the same as-of: no data change, a new set of success runs
    before = (warehouse_state(), _flow_state(), _briefing_data(report))
    runs_before = IngestionRun.objects.count()
    again = run_pipeline(dataclasses.replace(params, as_of=resolve_as_of(sessions[-1])), job_options=JOB_OPTIONS)
    assert again.outcome.status == "success"
    assert {ex.outcome.status for _, ex in again.jobs} == {"success"}
    assert IngestionRun.objects.count() == runs_before + 1 + len(PIPELINE_JOBS)
    rerun_report = json.loads((daily / f"{sessions[-1]}.json").read_text())
    assert (warehouse_state(), _flow_state(), _briefing_data(rerun_report)) == before

    # compute_derived has no look-ahead: day D's live row equals a recomputation after D+5
    day = sessions[2]
    live = {s: _derived(s, day) for s in SYMBOLS}
    call_command("compute_derived", "--symbol", ",".join(SYMBOLS), "--as-of", day.isoformat())
    for symbol in SYMBOLS:
        assert not _differences(_derived(symbol, day), live[symbol]), symbol
    live_all = {(s, d): _derived(s, d) for s in SYMBOLS[:2] for d in sessions}
    call_command("compute_derived", "--symbol", ",".join(SYMBOLS[:2]), "--all-dates")
    for key, row in live_all.items():
        assert not _differences(_derived(*key), row), key


def _assert_markdown_structure(markdown: str, report: dict) -> None:
    lines = markdown.splitlines()
    assert lines[0] == f"# Daily options briefing — {report['market_date']}"
    assert f"> {DISCLAIMER}" in lines
    headings = [line for line in lines if line.startswith("#")]
    assert headings == [
        lines[0],
        "## Portfolio",
        "### Stress (full Black–Scholes revaluation)",
        "## Symbols",
        *(f"### {s['symbol']} (snapshot {s['snapshot_date']})" for s in report["symbols"]),
    ]
    assert (
        "| Position | Symbol | Type | Expiry | Strike | Contracts | Cost | Mark | P&L $ | P&L % | Spread % |"
        in lines
    )
    (greeks,) = [line for line in lines if line.startswith("**Greeks:** ")]
    deltas = report["portfolio"]["greeks"]["delta_shares_by_underlying"]
    held = {p["symbol"] for p in report["portfolio"]["positions"]}
    assert set(deltas) == held
    assert greeks.startswith("**Greeks:** delta in shares of each underlying: ")
    assert all(f"{symbol} " in greeks for symbol in held)
    assert "| Scenario | P&L $ | P&L % |" in lines
    for item in report["symbols"]:
        start = lines.index(f"### {item['symbol']} (snapshot {item['snapshot_date']})")
        section = lines[start + 2 : start + 9]
        prefixes = [
            r"- Overview: spot [\d,.]+, next earnings ",
            r"- Volatility regime: RV20 ",
            r"- Chain: call wall ",
            r"- Change since \d{4}-\d{2}-\d{2}: spot ",
            r"- Top building: ",
            r"- Top unwinding: ",
        ]
        for pattern, line in zip(prefixes, section, strict=False):
            assert re.match(pattern, line), (pattern, line)
    assert lines[-1].startswith("_Generated ") and lines[-1].endswith(f"{DISCLAIMER}_")
    assert "nan" not in markdown.lower().replace("financial", "")


@pytest.mark.django_db
def test_provider_failure_skips_the_symbol_downstream_with_upstream_failed(
    warehouse_db, monkeypatch
):
    sessions = past_sessions(2)
    symbols = ("AAPL", "MSFT", "SPY")
    params = JobParams(as_of=resolve_as_of(), symbols=symbols)
    first = run_pipeline(dataclasses.replace(params, as_of=resolve_as_of(sessions[0])), job_options=JOB_OPTIONS)
    assert first.outcome.status == "success"

    original = DemoProvider.get_chain_snapshot

    def flaky(self, symbol, *, as_of=None):
        if symbol == "MSFT":
            raise ProviderError("MSFT", "simulated outage")
        return original(self, symbol, as_of=as_of)

    monkeypatch.setattr(DemoProvider, "get_chain_snapshot", flaky)
    result = run_pipeline(dataclasses.replace(params, as_of=resolve_as_of(sessions[1])), job_options=JOB_OPTIONS)
    assert result.outcome.status == "partial"
    assert result.exit_code == 1
    jobs = dict(result.jobs)
    assert jobs["snapshot_options"].outcome.status == "partial"
    snap = event_status(jobs["snapshot_options"].outcome.run_id, "options_snapshots")
    assert snap == {"AAPL": "success", "MSFT": "failed", "SPY": "success"}
    for job, asset_key in (("compute_flow", "options_flow"), ("compute_derived", "derived_daily")):
        run_id = jobs[job].outcome.run_id
        assert event_status(run_id, asset_key) == {
            "AAPL": "success",
            "MSFT": "skipped",
            "SPY": "success",
        }
        skipped = IngestionRun.objects.get(pk=run_id).assets.get(partition_key="MSFT")
        assert skipped.extra["reason"] == UPSTREAM_FAILED
        assert jobs[job].result.symbols_with("skipped") == ["MSFT"]
    # the others are complete for the day
    for symbol in ("AAPL", "SPY"):
        assert OptionsFlowPartition.objects.filter(symbol=symbol, to_date=sessions[1]).exists()
        assert (
            warehouse.fetch_all(
                "SELECT count(*) FROM derived_daily WHERE symbol = ? AND date = ?",
                [symbol, sessions[1]],
            )[0][0]
            == 1
        )
    assert not OptionsFlowPartition.objects.filter(symbol="MSFT", to_date=sessions[1]).exists()
    assert jobs["build_briefing"].outcome.status == "success"
