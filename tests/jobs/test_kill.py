"""A job process killed with SIGKILL mid-run is reaped as abandoned; a re-run leaves no duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from apps.ledger.models import IngestionRun
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
        deadline = time.monotonic() + 120
        started = None
        while time.monotonic() < deadline and child.poll() is None:
            # wait for a producer child run to be underway, so the kill lands mid-write
            started = IngestionRun.objects.filter(
                status="started", job_name="snapshot_options"
            ).first()
            if started:
                break
            time.sleep(0.05)
        assert started is not None, "the child never reached snapshot_options"
        time.sleep(0.5)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)  # reap it: a zombie still answers kill(pid, 0)
    assert child.returncode == -signal.SIGKILL
    killed = set(IngestionRun.objects.filter(status="started").values_list("pk", flat=True))
    assert started.pk in killed

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
