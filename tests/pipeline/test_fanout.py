"""run_daily --fan-out: per-symbol django-q2 tasks as child runs of the pipeline run.

The in-process tests run the shard tasks with django-q2's ``sync`` option (a real task id, signals
and result row, no cluster). The slow test runs two real ``qcluster`` processes on PostgreSQL +
Redis against a DuckLake warehouse and compares the result with a one-process embedded run.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from apps.core import registry
from apps.ledger.models import IngestionRun, RunStatus
from apps.pipeline.daily import SHARD_NOT_FINISHED, FanOut, run_pipeline, run_range, shards
from apps.pipeline.requests import job_params
from optionshelper import warehouse, warehouse_schema
from optionshelper.databases import warehouse_checksums
from tests.support import REPO_ROOT, child_env

AS_OF = dt.date(2026, 11, 20)
SYMBOLS = ("SPY", "AAPL", "MSFT")
SYNC = FanOut(q_options={"sync": True})

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def _params(symbols=SYMBOLS, day=AS_OF):
    return job_params(as_of=day.isoformat(), symbols=list(symbols), provider="demo")


def _per_symbol_jobs() -> list[str]:
    return [j for j in registry.pipeline_order() if registry.job(j).per_symbol]


def test_shards_cut_the_symbol_set():
    assert shards(("A", "B", "C"), 1) == [("A",), ("B",), ("C",)]
    assert shards(("A", "B", "C"), 2) == [("A", "B"), ("C",)]
    assert shards((), 3) == []


def test_fan_out_runs_each_symbol_once_as_children_of_the_pipeline(warehouse_db):
    result = run_pipeline(_params(), fan_out=SYNC)

    pipeline = IngestionRun.objects.get(job_name=registry.PIPELINE_JOB)
    assert result.outcome.status == pipeline.status == RunStatus.SUCCESS
    children = IngestionRun.objects.exclude(pk=pipeline.pk)
    assert set(children.values_list("parent_run_id", flat=True)) == {str(pipeline.run_id)}
    for job_name in _per_symbol_jobs():
        runs = children.filter(job_name=job_name)
        assert Counter(s for r in runs for s in r.args["symbols"]) == Counter(SYMBOLS), job_name
        assert set(runs.values_list("status", flat=True)) == {RunStatus.SUCCESS}
    shard_count = len(_per_symbol_jobs()) * len(SYMBOLS)
    other = len(registry.pipeline_order()) - len(_per_symbol_jobs())
    assert pipeline.partitions_ok == shard_count + other


def test_fan_out_writes_what_one_process_writes(tmp_path, warehouse_db):
    run_pipeline(_params())
    single = warehouse_checksums()
    IngestionRun.objects.all().delete()
    fanned_path = tmp_path / "fanned.duckdb"
    connections["warehouse"].settings_dict["NAME"] = str(fanned_path)
    warehouse_schema.migrate()
    run_pipeline(_params(), fan_out=FanOut(shard_size=2, q_options={"sync": True}))
    assert warehouse_checksums() == single
    assert single["options_chain"][0] > 0


def test_shards_not_finished_within_the_bound_fail_the_pipeline(warehouse_db):
    # Queued for a cluster that does not exist: nothing runs them, the bound ends the wait.
    nobody = FanOut(wait_s=0.5, q_options={"cluster": "oh-test-nobody-listens"})
    result = run_pipeline(_params(symbols=("SPY",)), fan_out=nobody)
    # The symbol-less jobs ran in the pipeline process; every shard failed: partial, exit 1.
    assert result.outcome.status == RunStatus.PARTIAL
    assert result.exit_code == 1
    first, *downstream = _per_symbol_jobs()
    execution = dict(result.jobs)[first]
    assert execution.result.partitions[0].detail == SHARD_NOT_FINISHED
    for job_name in downstream:
        if first in registry.upstream_jobs(job_name):
            assert dict(result.jobs)[job_name].result.symbols_with("skipped") == ["SPY"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--shard-size", "3"], "need --fan-out"),
        (["--fan-out", "--shard-size", "0"], "--shard-size must be"),
        (["--fan-out", "--fan-out-wait", "-1"], "--fan-out-wait must be positive"),
        (["--dry-run", "--fan-out", "--shard-size", "0"], "--shard-size must be"),  # dry runs too
        (["--as-of", "2026-11-20", "--from", "2026-11-10", "--to", "2026-11-12"],
         "--as-of and --from/--to are alternatives"),
    ],
)
def test_run_daily_fan_out_flags_are_checked(warehouse_db, flags, message):
    with pytest.raises(CommandError) as info:
        call_command("run_daily", "--symbol", "SPY", "--provider", "demo", *flags)
    assert info.value.returncode == 2
    assert message in str(info.value)
    assert not IngestionRun.objects.exists()


# --- two real clusters, PostgreSQL + Redis + a lake --------------------------------------------

needs_postgres_redis = pytest.mark.skipif(
    connections["default"].vendor != "postgresql" or not os.environ.get("REDIS_URL"),
    reason="needs the test DB on PostgreSQL and REDIS_URL (CI's second pass sets both)",
)
DEMO = ("SPY", "AAPL", "MSFT", "NVDA")
SESSIONS = (dt.date(2026, 11, 19), dt.date(2026, 11, 20))


@pytest.mark.slow
@needs_postgres_redis
@pytest.mark.django_db(transaction=True, databases=["default", "warehouse"])
def test_two_clusters_fan_out_into_a_lake_equal_one_embedded_process(
    warehouse_db, lake, tmp_path, settings
):
    from tests.pipeline.test_qcluster import Cluster

    # Reference: one process, embedded file, same symbols and sessions.
    lake_url, lake_data = settings.WAREHOUSE_URL, settings.LAKE_DATA_PATH
    settings.WAREHOUSE_URL = ""
    run_range(_params(DEMO, SESSIONS[-1]), start=SESSIONS[0], end=SESSIONS[-1])
    reference = warehouse_checksums()
    IngestionRun.objects.all().delete()

    settings.WAREHOUSE_URL, settings.LAKE_DATA_PATH = lake_url, lake_data
    warehouse_schema.migrate()
    queue = f"oh-test-fanout-{os.getpid()}"
    started = []
    try:
        for i in range(2):
            started.append(Cluster(queue, tmp_path / f"qcluster-{i}.log", **lake.env()))
        run = subprocess.run(
            [
                sys.executable,
                str(REPO_ROOT / "manage.py"),
                "run_daily",
                "--fan-out",
                "--fan-out-wait",
                "240",
                "--provider",
                "demo",
                "--symbol",
                ",".join(DEMO),
                "--from",
                SESSIONS[0].isoformat(),
                "--to",
                SESSIONS[-1].isoformat(),
            ],
            env=child_env(**lake.env(), Q_CLUSTER_NAME=queue),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        logs = "\n----\n".join(c.log.read_text()[-3000:] for c in started)
        assert run.returncode == 0, run.stdout + run.stderr + logs
    finally:
        for cluster in started:
            cluster.stop()

    assert warehouse.mode() == "lake"
    assert warehouse_checksums() == reference
    pipelines = IngestionRun.objects.filter(job_name=registry.PIPELINE_JOB)
    assert pipelines.count() == 2
    assert set(pipelines.values_list("status", flat=True)) == {RunStatus.SUCCESS}
    for pipeline in pipelines:
        children = IngestionRun.objects.filter(parent_run_id=str(pipeline.run_id))
        for job_name in _per_symbol_jobs():
            runs = children.filter(job_name=job_name)
            assert Counter(s for r in runs for s in r.args["symbols"]) == Counter(DEMO)
            assert {r.pid for r in runs} != {os.getpid()}
