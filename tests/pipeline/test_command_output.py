"""What job commands print: resolved dates, counts, rows, durations, headers, --quiet, progress."""

from __future__ import annotations

import io
import logging
import re

import pytest
from django.core.management import call_command

from apps.core import progress as progress_mod
from apps.ledger.models import IngestionRunAsset

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

DAYS = ("2026-11-18", "2026-11-19")  # Wednesday, Thursday


def _run(*args: str) -> str:
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=io.StringIO())
    except SystemExit:
        pass  # a partial run exits 1; its output is still what we look at
    return out.getvalue()


def test_progress_lines_show_counts_and_elapsed(caplog):
    with caplog.at_level(logging.INFO, logger="optionshelper.jobs"):
        assert list(progress_mod.progress(["AAA", "BBB"], desc="job_x")) == ["AAA", "BBB"]
    lines = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(r"job_x 1/2 AAA \(elapsed \d+\.\ds\)", lines[0]), lines
    assert lines[1].startswith("job_x 2/2 BBB") and "2 done in" in lines[2]


def test_progress_is_silent_above_info(caplog):
    logger = logging.getLogger("optionshelper.jobs")
    old = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with caplog.at_level(logging.WARNING, logger="optionshelper.jobs"):
            assert list(progress_mod.progress(["AAA"], desc="job_x")) == ["AAA"]
    finally:
        logger.setLevel(old)
    assert caplog.records == []


def test_job_progress_is_info_by_default(settings, monkeypatch):
    monkeypatch.delenv("OPTIONS_HELPER_LOG_LEVEL", raising=False)
    import importlib

    import optionshelper.settings as module

    fresh = importlib.reload(module)
    try:
        assert fresh.LOGGING["loggers"]["optionshelper.jobs"]["level"] == "INFO"
        assert fresh.LOGGING["root"]["level"] == "WARNING"
    finally:
        importlib.reload(module)


def test_log_level_setting_applies_to_every_configured_logger(monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import optionshelper.settings as module

    try:
        monkeypatch.setenv("OPTIONS_HELPER_LOG_LEVEL", "error")
        fresh = importlib.reload(module)
        levels = {name: c["level"] for name, c in fresh.LOGGING["loggers"].items()}
        assert levels == dict.fromkeys(("optionshelper.jobs", "django", "django.server"), "ERROR")
        assert fresh.LOGGING["root"]["level"] == "ERROR"
        monkeypatch.setenv("OPTIONS_HELPER_LOG_LEVEL", "loud")
        with pytest.raises(ImproperlyConfigured, match="OPTIONS_HELPER_LOG_LEVEL must be"):
            importlib.reload(module)
    finally:
        monkeypatch.delenv("OPTIONS_HELPER_LOG_LEVEL", raising=False)
        importlib.reload(module)


def test_run_daily_compute_flow_and_quiet(warehouse_db):
    out = _run("run_daily", "--as-of", DAYS[0], "--symbol", "SPY")
    assert "run_daily 2026-11-18 (Wed): success" in out, out
    assert re.search(r"job\s+status\s+success\s+skipped\s+failed\s+rows\s+duration", out), out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("ingest_candles"))
    assert re.search(r"success\s+1\s+0\s+0\s+[\d,]+\s+[\d.]+ s$", line), line
    # the first session has no earlier snapshot: flow is skipped and the reason is named
    assert "compute_flow SPY skipped: insufficient_snapshots" in out, out

    out = _run("run_daily", "--as-of", DAYS[1], "--symbol", "SPY", "--quiet")
    assert out.splitlines()[0].startswith("run_daily 2026-11-19 (Thu): success"), out
    assert "ingest_candles" not in out  # --quiet: the summary only
    assert logging.getLogger("optionshelper.jobs").getEffectiveLevel() <= logging.INFO

    # run_daily persisted this partition: the command shows it from storage (up_to_date)...
    stored = _run("compute_flow", "--as-of", DAYS[1], "--symbol", "SPY", "--top", "2")
    assert re.search(r"SPY\s+skipped\s+0\s+up_to_date", stored), stored
    assert "· 0 success, 1 skipped" in stored, stored
    # ... and --force computes it again: the same table and top rows
    out = _run("compute_flow", "--as-of", DAYS[1], "--symbol", "SPY", "--top", "2", "--force")
    assert re.search(r"symbol\s+from\s+to\s+rows\s+net ΔOI \$\s+volume \$", out), out
    assert re.search(r"SPY\s+2026-11-18 → 2026-11-19\s+[\d,]+\s+−?-?\$[\d,]+", out), out
    assert "compute_flow: success · as of 2026-11-19 (Thu) · 1 success, 0 skipped" in out

    def table(text: str) -> list[str]:  # the flow table and top rows, not the status lines
        shown = ("  SPY ", "  building", "  unwin")
        return [ln for ln in text.splitlines() if ln.startswith(shown) and "→" in ln or "|" in ln]

    assert table(stored) and table(stored) == table(out), (stored, out)

    quiet = _run("compute_flow", "--as-of", DAYS[1], "--symbol", "SPY", "--quiet")
    assert not table(quiet) and "net ΔOI $" not in quiet, quiet  # the summary line only
    assert "compute_flow: success" in quiet

    out = _run("compute_flow", "--as-of", DAYS[1], "--symbol", "SPY", "--no-persist")
    assert "not persisted (--no-persist)" in out
    assert "1 success, 0 skipped, 0 failed" in out, out
    spy = [ln for ln in out.splitlines() if ln.strip().startswith("SPY ")]
    assert spy and all("skipped" not in ln for ln in spy), out
    assert IngestionRunAsset.objects.filter(
        asset_key="options_flow", partition_key="SPY", status="skipped", run__as_of=DAYS[1]
    ).exists()  # nothing was written: the ledger still says so


@pytest.mark.django_db
def test_durations_of_a_fanned_out_job_are_its_longest_shard():
    import datetime as dt

    from django.utils import timezone

    from apps.ledger.models import IngestionRun
    from apps.pipeline.cli import run_durations

    now = timezone.now()
    runs = [
        IngestionRun.objects.create(
            job_name="snapshot_options",
            triggered_by="task",
            status="success",
            started_at=now,
            heartbeat_at=now,
            duration_ms=ms,
            as_of=dt.date(2024, 1, 2),
        )
        for ms in (1500, 4000)
    ]
    joined = ",".join(str(r.run_id) for r in runs)
    assert run_durations([joined, str(runs[0].run_id), "", "not-a-uuid"]) == {
        joined: 4.0,
        str(runs[0].run_id): 1.5,
    }
