"""The briefing: its flow section's top strikes summed in SQL (every symbol's partition at once)
equal the straightforward pandas sums; a briefing stored from the same inputs is up to date."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from apps.analytics import briefing
from apps.analytics.models import OptionsFlow, OptionsFlowPartition
from apps.core.asof import resolve_as_of
from apps.core.jobs import JobParams
from apps.core.values import json_safe
from apps.ledger.models import IngestionRunAsset
from apps.pipeline.jobs import execute_job
from apps.portfolio.services import portfolio_import
from tests.jobs.helpers import past_sessions
from tests.jobs.test_bad_inputs import PORTFOLIO

END = dt.date(2026, 11, 20)


def _reference_top(partition: OptionsFlowPartition) -> tuple[list[dict], list[dict]]:
    columns = ["option_type", "strike", "delta_oi", "delta_oi_notional"]
    rows = pd.DataFrame(OptionsFlow.objects.filter(partition=partition).values(*columns))
    rows[columns[1:]] = rows[columns[1:]].apply(pd.to_numeric, errors="coerce").astype(float)
    sums = rows.groupby(["option_type", "strike"], as_index=False)[columns[2:]].sum()
    sums = sums.dropna(subset=["strike"])
    building = sums[sums["delta_oi_notional"] > 0].nlargest(briefing.TOP_FLOW, "delta_oi_notional")
    unwinding = sums[sums["delta_oi_notional"] < 0].nsmallest(
        briefing.TOP_FLOW, "delta_oi_notional"
    )
    return json_safe(building.to_dict("records")), json_safe(unwinding.to_dict("records"))


@pytest.mark.django_db
@pytest.mark.parametrize("group_by", ["contract", "strike"])
def test_flow_summaries_equal_the_pandas_sums(warehouse_db, group_by):
    symbols = ("AAPL", "SPY")
    for day in past_sessions(2, end=END):
        execute_job("snapshot_options", JobParams(as_of=resolve_as_of(day), symbols=symbols))
    options = {"window": 1, "group_by": group_by}
    execute_job(
        "compute_flow", JobParams(as_of=resolve_as_of(END), symbols=symbols, options=options)
    )
    summaries = briefing._flow_summaries([*symbols, "NONE"], END)
    assert summaries["NONE"]["building"] == [] and summaries["NONE"]["window"] is None
    for symbol in symbols:
        partition = OptionsFlowPartition.objects.get(symbol=symbol, group_by=group_by)
        summary = summaries[symbol]
        building, unwinding = _reference_top(partition)
        assert building and unwinding
        for side, expected in (("building", building), ("unwinding", unwinding)):
            got = summary[side]
            assert [set(r) for r in got] == [set(r) for r in expected], side
            for row, want in zip(got, expected, strict=True):
                assert row == {
                    k: v if isinstance(v, str) else pytest.approx(v, rel=1e-12)
                    for k, v in want.items()
                }, side
        assert summary["window"] == 1 and summary["stale_from"] is None


def _briefing(symbols, *, force: bool = False):
    params = JobParams(as_of=resolve_as_of(END), symbols=symbols, options={"force": force})
    execution = execute_job("build_briefing", params)
    (partition,) = execution.result.partitions
    reasons = set(
        IngestionRunAsset.objects.filter(run_id=execution.outcome.run_id).values_list(
            "status", "extra__reason"
        )
    )
    return partition.status, partition.detail, reasons


@pytest.mark.django_db
def test_a_briefing_built_from_the_same_inputs_is_up_to_date(warehouse_db, settings, monkeypatch):
    symbols = ("AAPL", "SPY")
    for day in past_sessions(2, end=END):
        execute_job("snapshot_options", JobParams(as_of=resolve_as_of(day), symbols=symbols))
    execute_job("compute_flow", JobParams(as_of=resolve_as_of(END), symbols=symbols))
    json_path = settings.REPORTS_DIR / "daily" / f"{END}.json"

    assert _briefing(symbols)[0] == "success"
    built = json_path.read_text()
    assert _briefing(symbols) == ("skipped", "up_to_date", {("skipped", "up_to_date")})
    assert json_path.read_text() == built  # not rewritten: same generated_at

    portfolio_import(data=PORTFOLIO)  # a changed input (positions) rebuilds it
    assert _briefing(symbols)[0] == "success"
    assert json.loads(json_path.read_text())["portfolio"]["positions"]
    assert _briefing(symbols)[1] == "up_to_date"
    execute_job(
        "compute_flow",
        JobParams(as_of=resolve_as_of(END), symbols=symbols, options={"force": True}),
    )
    assert _briefing(symbols)[0] == "success"  # a recomputed flow partition is a new input
    assert _briefing(symbols, force=True)[0] == "success"
    monkeypatch.setattr(briefing, "rendering_code_digest", lambda: "another release")
    assert _briefing(symbols)[0] == "success"  # built by other code: rebuilt once
    assert _briefing(symbols)[1] == "up_to_date"
    json_path.with_suffix(".md").unlink()
    assert _briefing(symbols)[0] == "success"  # a missing file is rebuilt
