"""compute_flow's bulk persistence (keyed replace, no duplicates, rows equal to the computed batch)
and flow retention in housekeeping."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Sum

from apps.analytics import selectors as analytics_selectors
from apps.analytics import stores
from apps.analytics.models import OptionsFlow, OptionsFlowPartition
from apps.core.asof import resolve_as_of
from apps.core.jobs import JobParams
from apps.pipeline.jobs import execute_job
from apps.pipeline.tasks import housekeeping_task
from tests.jobs.helpers import event_status, past_sessions

END = dt.date(2026, 11, 20)
SYMBOLS = ("AAPL", "MSFT")


def _flow(window: int, *, persist: bool = True, force: bool = False, symbols=(*SYMBOLS, "NONE")):
    options = {"window": window, "group_by": "strike", "persist": persist, "top": 3}
    if force:
        options["force"] = True
    return execute_job(
        "compute_flow", JobParams(as_of=resolve_as_of(END), symbols=symbols, options=options)
    )


@pytest.mark.django_db
def test_persist_replaces_partitions_and_retention_prunes(warehouse_db, settings) -> None:
    for day in past_sessions(3, end=END):
        execute_job("snapshot_options", JobParams(as_of=resolve_as_of(day), symbols=SYMBOLS))
    first = _flow(2)
    assert first.outcome.status == "success"
    statuses = {p.symbol: p.status for p in first.result.partitions}
    assert statuses == {"AAPL": "success", "MSFT": "success", "NONE": "skipped"}
    assert event_status(first.outcome.run_id, "options_flow") == {
        "AAPL": "success",
        "MSFT": "success",
        "NONE": "skipped",
    }
    batch = analytics_selectors.flow_batch(
        symbols=list(SYMBOLS), as_of=END, window=2, group_by="strike"
    )
    for part in batch.ok():
        stored = OptionsFlowPartition.objects.get(symbol=part.symbol, window=2, group_by="strike")
        assert stored.snapshot_dates == [d.isoformat() for d in part.snapshot_dates]
        assert stored.provider == part.provider == "demo"
        rows = OptionsFlow.objects.filter(partition=stored)
        mine = batch.rows.filter(
            batch.rows["symbol"].to_numpy(zero_copy_only=False) == part.symbol
        ).to_pandas()
        assert rows.count() == stored.rows == len(mine) > 0
        assert set(rows.values_list("row_key", flat=True)) == set(mine["row_key"])
        total = rows.aggregate(s=Sum("delta_oi_notional"))["s"]
        assert total == pytest.approx(mine["delta_oi_notional"].sum(), rel=1e-9)
        assert stored.net_delta_oi_notional == pytest.approx(total, rel=1e-9)
        assert rows.filter(expiry__isnull=False).count() == 0  # group-by strike
        summary = first.result.output["top"][part.symbol]
        assert {"building", "unwinding", "meta"} <= set(summary)
        assert summary["rows"] == rows.count()
        assert summary["net_delta_oi_notional"] == pytest.approx(total, rel=1e-9)
    counts = (OptionsFlowPartition.objects.count(), OptionsFlow.objects.count())
    again = _flow(2)
    assert again.outcome.status == "success"
    assert (OptionsFlowPartition.objects.count(), OptionsFlow.objects.count()) == counts
    _flow(1, persist=False)  # prints only: nothing stored for window 1
    assert not OptionsFlowPartition.objects.filter(window=1).exists()
    _flow(1)
    assert OptionsFlowPartition.objects.filter(window=1).count() == 2

    settings.FLOW_RETENTION_DAYS = 100_000  # keeps everything
    assert housekeeping_task()["flow_partitions_deleted"] == 0
    settings.FLOW_RETENTION_DAYS = 1  # the partitions end 2026-11-20, long before "today"
    pruned = housekeeping_task()
    assert pruned["flow_partitions_deleted"] == 4 and pruned["flow_rows_deleted"] > 0
    assert not OptionsFlowPartition.objects.exists() and not OptionsFlow.objects.exists()


@pytest.mark.django_db
def test_rerun_skips_partitions_persisted_from_the_same_snapshots(warehouse_db) -> None:
    sessions = past_sessions(3, end=END)
    for day in sessions:
        execute_job("snapshot_options", JobParams(as_of=resolve_as_of(day), symbols=SYMBOLS))
    assert _flow(2).outcome.status == "success"
    ids = dict(OptionsFlowPartition.objects.values_list("symbol", "pk"))
    stored = OptionsFlowPartition.objects.get(symbol="AAPL")
    assert stored.inputs_updated_at is not None

    again = _flow(2)
    assert again.outcome.status == "success"
    assert {
        p.symbol: (p.status, p.detail) for p in again.result.partitions if p.symbol != "NONE"
    } == {"AAPL": ("skipped", "up_to_date"), "MSFT": ("skipped", "up_to_date")}
    assert event_status(again.outcome.run_id, "options_flow")["AAPL"] == "skipped"
    assert dict(OptionsFlowPartition.objects.values_list("symbol", "pk")) == ids  # not replaced

    # A snapshot stored again (a newer header write) makes that symbol's partition stale.
    execute_job(
        "snapshot_options",
        JobParams(as_of=resolve_as_of(END), symbols=("MSFT",), options={"force": True}),
    )
    third = _flow(2)
    statuses = {p.symbol: p.status for p in third.result.partitions}
    assert statuses["MSFT"] == "success" and statuses["AAPL"] == "skipped"
    assert OptionsFlowPartition.objects.get(symbol="MSFT").pk != ids["MSFT"]

    forced = _flow(2, force=True, symbols=SYMBOLS)
    assert {p.status for p in forced.result.partitions} == {"success"}
    assert OptionsFlowPartition.objects.get(symbol="AAPL").pk != ids["AAPL"]
    assert OptionsFlowPartition.objects.count() == 2  # replaced, never duplicated


@pytest.mark.django_db
def test_replace_touches_only_its_partitions_and_loads_rows_in_batches(
    warehouse_db, monkeypatch
) -> None:
    """A forced replace deletes exactly the partitions it replaces (by id; another window's
    partition of the same symbols keeps its rows) and lands rows in small value batches equal
    to the computed batch."""
    monkeypatch.setattr(stores, "_VALUES_BATCH", 7)
    for day in past_sessions(3, end=END):
        execute_job("snapshot_options", JobParams(as_of=resolve_as_of(day), symbols=SYMBOLS))
    _flow(1)
    _flow(2)
    kept = sorted(OptionsFlow.objects.filter(window=1).values_list("pk", flat=True))
    replaced = set(OptionsFlow.objects.filter(window=2).values_list("pk", flat=True))
    forced = _flow(2, force=True, symbols=SYMBOLS)
    assert {p.status for p in forced.result.partitions} == {"success"}
    assert sorted(OptionsFlow.objects.filter(window=1).values_list("pk", flat=True)) == kept
    new = OptionsFlow.objects.filter(window=2)
    assert not replaced & set(new.values_list("pk", flat=True))
    batch = analytics_selectors.flow_batch(
        symbols=list(SYMBOLS), as_of=END, window=2, group_by="strike"
    )
    assert new.count() == batch.rows.num_rows > 7
    stored = {
        (r["symbol"], r["row_key"]): r["delta_oi_notional"]
        for r in new.values("symbol", "row_key", "delta_oi_notional")
    }
    computed = {
        (r["symbol"], r["row_key"]): r["delta_oi_notional"]
        for r in batch.rows.select(["symbol", "row_key", "delta_oi_notional"]).to_pylist()
    }
    assert set(stored) == set(computed)
    for key, value in computed.items():  # sums in another order: equal to rounding
        assert stored[key] == (value if value is None else pytest.approx(value, rel=1e-9)), key


@pytest.mark.django_db
@pytest.mark.parametrize(("per_statement", "batch"), [(7, 20), (1_000, 20_000)])
def test_rows_land_whole_whatever_the_rows_per_statement(
    warehouse_db, monkeypatch, per_statement, batch
) -> None:
    """Full multi-row statements, Arrow batches that do not divide evenly and the rows left over
    all land: every computed row exactly once."""
    monkeypatch.setattr(stores, "_ROWS_PER_STATEMENT", per_statement)
    monkeypatch.setattr(stores, "_VALUES_BATCH", batch)
    for day in past_sessions(2, end=END):
        execute_job("snapshot_options", JobParams(as_of=resolve_as_of(day), symbols=SYMBOLS))
    options = {"window": 1, "group_by": "contract", "persist": True}
    params = JobParams(as_of=resolve_as_of(END), symbols=SYMBOLS, options=options)
    assert execute_job("compute_flow", params).outcome.status == "success"
    computed = analytics_selectors.flow_batch(
        symbols=list(SYMBOLS), as_of=END, window=1, group_by="contract"
    ).rows.to_pandas()
    stored = OptionsFlow.objects.filter(window=1, group_by="contract")
    assert stored.count() == len(computed) > 2 * per_statement
    assert sorted(stored.values_list("symbol", "row_key")) == sorted(
        zip(computed["symbol"], computed["row_key"], strict=True)
    )
    total = stored.aggregate(s=Sum("delta_oi_notional"))["s"]
    assert total == pytest.approx(computed["delta_oi_notional"].sum(), rel=1e-9)
