"""A job process killed with SIGKILL mid-run is reaped as abandoned; a re-run leaves no duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from apps.ledger.models import IngestionRun, IngestionRunAsset
from tests.jobs.helpers import duplicate_keys, past_sessions, row_count
from tests.support import REPO_ROOT, child_env, manage

SYMBOLS = ",".join(f"K{i:03d}" for i in range(1, 13))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigkill_mid_run_is_abandoned_and_rerun_has_no_duplicates(warehouse_db):
    day = past_sessions(1)[0].isoformat()
    args = ("run_daily", "--symbol", SYMBOLS, "--as-of", day)
    child = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "manage.py"), *args],
        env=child_env(),
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Kill as soon as the ledger shows the pipeline's first asset event: the pipeline run is then
        # mid-flight (six more jobs to go), however fast the machine. The job that wrote the event
        # may already have closed its run (events are written in bulk just before the close).
        deadline = time.monotonic() + 600  # a ceiling for a very busy machine, not a speed bar
        first_event = None
        while first_event is None and child.poll() is None and time.monotonic() < deadline:
            first_event = IngestionRunAsset.objects.select_related("run").first()
            if first_event is None:
                time.sleep(0.05)
        assert first_event is not None, "the child recorded no asset event before exiting"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=60)  # reap it: a zombie still answers kill(pid, 0)
    assert child.returncode == -signal.SIGKILL
    pipeline_run_id = first_event.run.parent_run_id
    killed = set(IngestionRun.objects.filter(status="started").values_list("pk", flat=True))
    assert pipeline_run_id in {str(pk) for pk in killed}
    assert IngestionRun.objects.get(pk=pipeline_run_id).job_name == "run_daily"

    health = manage("db_health", "--json")
    assert health.returncode == 0, health.stderr
    report = json.loads(health.stdout)
    abandoned = {row["run_id"] for row in report["abandoned_runs"]}
    assert {str(pk) for pk in killed} <= abandoned
    for run in IngestionRun.objects.filter(pk__in=killed):
        assert run.status == "abandoned"
        assert "is gone" in run.error_message

    rerun = manage(*args)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert row_count("options_chain") > 0
    for table in ("candles_daily", "options_chain", "options_snapshot_headers", "derived_daily"):
        assert duplicate_keys(table) == 0, table
    assert row_count("options_snapshot_headers") == len(SYMBOLS.split(","))
