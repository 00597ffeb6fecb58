"""``db_health``: strict JSON in every state, sections in order, exit codes for monitors."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.core.values import json_safe
from apps.ledger.models import IngestionRun
from apps.ledger.selectors import health
from tests.health.factories import make_check, make_run, make_watermark
from tests.support import manage

SECTIONS = ("Latest run per job", "Recent run failures", "Watermarks and freshness")
TOP_KEYS = {
    "database",
    "warehouse",
    "meta_tables_present",
    "filters",
    "overall",
    "stale_assets",
    "latest_runs",
    "recent_failures",
    "watermarks",
    "watermarks_total",
    "recent_failed_checks",
    "abandoned_runs",
    "disclaimer",
}


def _reject(constant: str):
    raise ValueError(f"not strict JSON: {constant}")


def strict(text: str) -> dict:
    return json.loads(text, parse_constant=_reject)


def _run_json(*args: str) -> tuple[dict, int]:
    out = io.StringIO()
    try:
        call_command("db_health", "--json", *args, stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return strict(out.getvalue()), code


def _text(*args: str) -> str:
    out = io.StringIO()
    call_command("db_health", *args, stdout=out)
    return out.getvalue()


def _fresh_today() -> dt.date:
    return health.expected_market_date("candles_daily", now=timezone.now())


def test_missing_databases_give_false_flags_exit_0_and_create_no_files(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {
        "OPTIONS_HELPER_DATA_DIR": str(empty / "data"),
        "OPTIONS_HELPER_DUCKDB_PATH": str(empty / "data" / "warehouse" / "options.duckdb"),
        "DATABASE_URL": f"sqlite:///{empty / 'meta.sqlite3'}",
    }
    result = manage("db_health", "--json", "--fail-on", "warning", **env)
    assert result.returncode == 0, result.stderr
    report = strict(result.stdout)
    assert set(report) == TOP_KEYS
    assert report["database"]["reachable"] is False
    assert report["warehouse"] == {
        "path": env["OPTIONS_HELPER_DUCKDB_PATH"],
        "exists": False,
        "schema_version": None,
        "error": None,
    }
    assert report["meta_tables_present"] is False and report["overall"] == "unknown"
    assert report["filters"] == {"days": 7, "limit": 50, "stale_days": None}
    text = manage("db_health", **env)
    assert text.returncode == 0 and "Traceback" not in text.stderr
    assert "NOTICE: metadata DB not found" in text.stdout
    assert "NOTICE: warehouse not found" in text.stdout
    assert text.stdout.rstrip().endswith("Not financial advice.")
    assert list(empty.iterdir()) == []


def test_bad_flags_exit_2_with_one_line(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'none.sqlite3'}"}
    for args in (("--fail-on", "sometimes"), ("--days", "soon"), ("--limit", "-1")):
        result = manage("db_health", *args, **env)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr
    with pytest.raises(CommandError) as info:
        call_command("db_health", "--stale-days", "x")
    assert info.value.returncode == 2


@pytest.mark.django_db
def test_migrated_but_empty_metadata_db_and_missing_warehouse():
    report, code = _run_json("--fail-on", "warning")
    assert code == 0 and set(report) == TOP_KEYS
    assert report["database"]["reachable"] is True and report["meta_tables_present"] is True
    assert report["warehouse"]["exists"] is False
    assert report["overall"] == "unknown"
    assert {row["status"] for row in report["watermarks"]} == {"unknown"}


@pytest.mark.django_db
def test_healthy_state_json_and_text_sections(warehouse_db):
    today = _fresh_today()
    run = make_run("ingest_candles", "success", as_of=today, args={"symbols": ["AAPL"]})
    make_watermark("candles_daily", "AAPL", today, run=run)
    make_check("candles_no_negative_prices", "candles_daily", "AAPL", "pass", run=run)
    report, code = _run_json("--fail-on", "warning", "--days", "36500")
    assert code == 0
    assert report["overall"] == "healthy"
    assert report["warehouse"]["exists"] is True and report["warehouse"]["schema_version"] >= 1
    (latest,) = report["latest_runs"]
    assert latest["job_name"] == "ingest_candles" and latest["as_of"] == today.isoformat()
    assert isinstance(latest["started_at"], str) and latest["started_at"].startswith("2024-")
    (watermark,) = [w for w in report["watermarks"] if w["asset_key"] == "candles_daily"]
    assert watermark["watermark_date"] == today.isoformat() and watermark["sessions_behind"] == 0
    text = _text()
    positions = [text.index(title) for title in (*SECTIONS, "Recent failed checks")]
    assert positions == sorted(positions)
    assert "Abandoned runs" not in text
    assert text.rstrip().endswith("Not financial advice.")
    total = report["watermarks_total"]
    assert total == len(report["watermarks"]) > 1 and "shown, problems first" not in text
    for partition in ("MSFT", "SPY"):
        make_check("candles_no_negative_prices", "candles_daily", partition, "fail", run=run)
    limited = _text("--limit", "1", "--days", "36500")
    assert f"of {total} shown, problems first; --limit shows more)" in limited
    assert "(the newest 1; --limit shows more)" in limited  # two failed checks, LIMIT 1


@pytest.mark.django_db
def test_failing_state_degrades_and_fail_on_levels(warehouse_db):
    today = _fresh_today()
    make_watermark("candles_daily", "AAPL", today)
    make_run(
        "ingest_candles",
        "failed",
        started_at=timezone.now(),
        error_type="ProviderError",
        error_message="AAPL: timeout",
        error_stack_hash="b" * 64,
    )
    make_check(
        "candles_gap_days_last_30",
        "candles_daily",
        "AAPL",
        "fail",
        severity="warn",
        checked_at=timezone.now(),
    )
    report, code = _run_json("--fail-on", "degraded")
    assert (report["overall"], code) == ("degraded", 1)
    assert report["recent_failures"][0]["error_type"] == "ProviderError"
    (check,) = report["recent_failed_checks"]
    assert check["metrics"] == {"rows_checked": 1, "offending": 1, "sample": []}
    assert _run_json("--fail-on", "warning")[1] == 1
    assert _run_json()[1] == 0
    # The newer successful run heals the run; the warn check leaves a warning.
    make_run("ingest_candles", "success", started_at=timezone.now())
    report, code = _run_json("--fail-on", "degraded")
    assert (report["overall"], code) == ("warning", 0)
    assert _run_json("--fail-on", "warning")[1] == 1


@pytest.mark.django_db
def test_stale_days_filters_watermarks(warehouse_db):
    today = _fresh_today()
    make_watermark("candles_daily", "AAPL", today)
    make_watermark("candles_daily", "MSFT", today - dt.timedelta(days=30))
    report, _ = _run_json("--stale-days", "5")
    assert [(w["asset_key"], w["scope_key"]) for w in report["watermarks"]] == [
        ("candles_daily", "MSFT")
    ]
    assert report["filters"]["stale_days"] == 5
    assert report["overall"] == "degraded"  # computed over every row, not only the shown ones


def test_jsonable_turns_nan_dates_and_uuids_into_strict_json():
    import uuid

    value = {"a": float("nan"), "b": [float("inf"), dt.date(2024, 3, 15)], "c": uuid.UUID(int=1)}
    assert strict(json.dumps(json_safe(value), allow_nan=False)) == {
        "a": None,
        "b": [None, "2024-03-15"],
        "c": "00000000-0000-0000-0000-000000000001",
    }


@pytest.mark.django_db
def test_dead_started_runs_are_abandoned_first_and_listed(warehouse_db):
    old = timezone.now() - dt.timedelta(hours=5)
    make_run("compute_flow", "started", started_at=old, pid=None, hostname="elsewhere")
    report, code = _run_json("--fail-on", "degraded")
    assert IngestionRun.objects.get().status == "abandoned"
    (abandoned,) = report["abandoned_runs"]
    assert abandoned["job_name"] == "compute_flow" and abandoned["status"] == "abandoned"
    assert report["overall"] == "degraded" and code == 1
    text = _text()
    assert "Abandoned runs" in text
    assert text.index("Recent failed checks") < text.index("Abandoned runs")


@pytest.mark.django_db(transaction=True)
def test_fail_on_degraded_exit_code_from_a_real_process(warehouse_db):
    make_run("snapshot_options", "failed", started_at=timezone.now())
    result = manage("db_health", "--fail-on", "degraded")
    assert result.returncode == 1, result.stderr
    assert "Overall health: degraded" in result.stdout
    result = manage("db_health", "--json")
    assert result.returncode == 0 and strict(result.stdout)["overall"] == "degraded"


def test_text_columns_are_cut_at_words_and_reasons_stay_whole():
    from apps.ledger.management.commands.db_health import _fit

    assert _fit("snapshot spot sanity failed badly", 20) == "snapshot spot…".ljust(20)
    assert _fit("short", 8) == "short   "
    assert _fit("a b c d e f g h", 6) == "a b c…"
