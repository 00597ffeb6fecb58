"""Real ``manage.py qcluster`` processes against the test databases (SPEC §10).

Each test starts its cluster(s) on a queue of its own (django-q2's ``Q_CLUSTER_NAME``), enqueues from
this process, polls the ledger and django-q2's task table with a timeout, and stops the clusters
with SIGTERM. The SQLite variant uses the ORM broker on the (file) test DB; the PostgreSQL variants
run only when the suite runs against PostgreSQL with ``REDIS_URL`` set (as CI's second pass does).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone
from django_q.models import Schedule, Task
from django_q.tasks import async_task

from apps.core import registry
from apps.ledger.models import IngestionRun, RunStatus
from apps.market.providers.demo import DEMO_SYMBOLS
from apps.pipeline import tasks
from tests.support import REPO_ROOT, child_env

AS_OF = "2026-11-20"
WAIT_S = 600  # a ceiling for a very busy machine, not a speed bar

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _engine() -> str:
    return connections["default"].vendor


needs_sqlite = pytest.mark.skipif(
    _engine() != "sqlite" or bool(os.environ.get("REDIS_URL")),
    reason="ORM-broker variant: runs when the test DB is SQLite and REDIS_URL is unset",
)
needs_postgres_redis = pytest.mark.skipif(
    _engine() != "postgresql" or not os.environ.get("REDIS_URL"),
    reason="needs the test DB on PostgreSQL and REDIS_URL (CI's second pass sets both)",
)


class Cluster:
    """One ``manage.py qcluster`` child process on a given queue, logging to a file."""

    def __init__(self, queue: str, log: Path, *, workers: int = 2, **env: str) -> None:
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "manage.py"), "qcluster"],
            env=child_env(
                Q_CLUSTER_NAME=queue,
                Q_WORKERS=str(workers),
                OPTIONS_HELPER_LOG_LEVEL="INFO",
                **env,
            ),
            cwd=REPO_ROOT,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill reaches the workers too
        )

    def stop(self) -> int:
        """SIGTERM, then wait: the cluster finishes its current tasks and exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):  # the group may be gone already
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._out.close()
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text()[-4000:]


@pytest.fixture
def queue():
    """A queue name of this test's own, so a shared Redis never mixes tests' tasks."""
    return f"oh-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def clusters(tmp_path, queue):
    started: list[Cluster] = []

    def start(count: int = 1, *, workers: int = 2, **env: str) -> list[Cluster]:
        for i in range(count):
            started.append(Cluster(queue, tmp_path / f"qcluster-{i}.log", workers=workers, **env))
        return started

    yield start
    for cluster in started:
        cluster.stop()


def _enqueue(queue: str, func: str, *args, **kwargs) -> str:
    return async_task(func, *args, q_options={"cluster": queue}, **kwargs)


def _wait_for_tasks(task_ids: list[str], running: list[Cluster]) -> list[Task]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        done = list(Task.objects.filter(id__in=task_ids))
        if len(done) == len(task_ids):
            return done
        dead = [c for c in running if c.proc.poll() is not None]
        assert not dead, f"a cluster exited early:\n{dead[0].output()}"
        time.sleep(0.5)
    logs = "\n----\n".join(c.output() for c in running)
    pytest.fail(f"{len(task_ids)} tasks not done within {WAIT_S}s; cluster logs:\n{logs}")


def _run_daily_twice_through_a_cluster(queue, clusters) -> None:
    """Two fires of the daily schedule while the first is running: one pipeline run, one refusal."""
    running = clusters(1, workers=2)
    fired = [
        _enqueue(queue, tasks.SCHEDULED_RUN_DAILY, as_of=AS_OF, symbols=["SPY", "AAPL"])
        for _ in range(2)
    ]
    done = {task.id: task for task in _wait_for_tasks(fired, running)}

    assert all(task.success for task in done.values()), [t.result for t in done.values()]
    refused = [tid for tid, task in done.items() if task.result["refused"]]
    ran = [tid for tid, task in done.items() if not task.result["refused"]]
    assert len(refused) == 1 and len(ran) == 1, [t.result for t in done.values()]

    pipeline = IngestionRun.objects.get(job_name=registry.PIPELINE_JOB)
    assert pipeline.triggered_by == "schedule"
    assert pipeline.parent_run_id == ran[0]
    assert pipeline.status != RunStatus.STARTED
    assert pipeline.pid != os.getpid()  # it ran in a worker process
    children = IngestionRun.objects.exclude(pk=pipeline.pk)
    # On Redis with 2 workers the scheduled run fans out: one child run per symbol and job.
    fanned = "redis" in settings.Q_CLUSTER
    expected = Counter(
        {j: 2 if fanned and registry.job(j).per_symbol else 1 for j in registry.pipeline_order()}
    )
    assert Counter(children.values_list("job_name", flat=True)) == expected
    assert set(children.values_list("parent_run_id", flat=True)) == {str(pipeline.run_id)}
    assert set(children.values_list("triggered_by", flat=True)) == {"schedule"}
    candles = children.filter(job_name="ingest_candles")
    assert set(candles.values_list("status", flat=True)) == {RunStatus.SUCCESS}
    assert sum(candles.values_list("partitions_ok", flat=True)) == 2
    assert running[0].stop() is not None


@needs_sqlite
def test_qcluster_runs_queued_run_daily_on_sqlite_orm_broker(warehouse_db, queue, clusters):
    assert "orm" in settings.Q_CLUSTER
    _run_daily_twice_through_a_cluster(queue, clusters)


@needs_postgres_redis
def test_qcluster_runs_queued_run_daily_on_postgres_redis(warehouse_db, queue, clusters):
    assert "redis" in settings.Q_CLUSTER
    _run_daily_twice_through_a_cluster(queue, clusters)


@needs_postgres_redis
def test_two_clusters_process_a_burst_exactly_once(warehouse_db, queue, clusters):
    """12 per-symbol tasks, two clusters on one queue: every symbol one success run, none twice."""
    symbols = list(DEMO_SYMBOLS[:12])
    assert len(symbols) == 12
    running = clusters(2, workers=2)
    task_ids = [
        tasks.enqueue_job(
            "snapshot_options", as_of=AS_OF, symbols=[symbol], q_options={"cluster": queue}
        )
        for symbol in symbols
    ]
    done = _wait_for_tasks(task_ids, running)

    assert all(task.success for task in done), [t.result for t in done if not t.success]
    runs = IngestionRun.objects.filter(job_name="snapshot_options")
    per_symbol = Counter(symbol for run in runs for symbol in run.args["symbols"])
    assert per_symbol == Counter(symbols), "a duplicate or a lost run"
    assert set(runs.values_list("status", flat=True)) == {RunStatus.SUCCESS}
    assert set(runs.values_list("triggered_by", flat=True)) == {"task"}
    assert sorted(runs.values_list("parent_run_id", flat=True)) == sorted(task_ids)
    for cluster in running:
        assert cluster.stop() is not None


def test_a_due_schedule_fires_through_the_cluster_scheduler(warehouse_db, queue, clusters):
    """The cluster's own scheduler turns a due schedule into a task and a run.

    The scheduler runs every 30 s of guard cycles; a 30 s cycle makes that the cluster's first one.
    """
    schedule = Schedule.objects.create(
        name=f"test {queue}",
        func=tasks.SCHEDULED_RUN_DAILY,
        kwargs=repr({"as_of": AS_OF, "symbols": ["SPY"]}),
        schedule_type=Schedule.MINUTES,
        minutes=60,
        next_run=timezone.now() - dt.timedelta(seconds=1),
        cluster=queue,  # only this test's cluster picks it up
    )
    running = clusters(1, workers=1, OPTIONS_HELPER_TEST_Q_GUARD_CYCLE="30")
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        schedule.refresh_from_db()
        if schedule.task and Task.objects.filter(id=schedule.task).exists():
            break
        time.sleep(1)
    else:
        pytest.fail(f"the schedule did not fire:\n{running[0].output()}")

    pipeline = IngestionRun.objects.get(job_name=registry.PIPELINE_JOB)
    assert (pipeline.triggered_by, pipeline.parent_run_id) == ("schedule", schedule.task)
    assert schedule.next_run > timezone.now()  # catch_up off: the next one is in the future
