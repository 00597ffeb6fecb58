"""Bad inputs: one-line usage errors (exit 2), bad provider data failing only its symbol."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.analytics.models import DashboardView, OptionsFlow, OptionsFlowPartition
from apps.core import chain as chain_calc
from apps.ledger.models import IngestionRun
from apps.market.providers.demo import DemoProvider
from apps.portfolio.models import Watchlist, WatchlistSymbol
from apps.portfolio.services import portfolio_export
from optionshelper import warehouse
from tests.jobs.helpers import event_status, past_sessions, run_job, warehouse_state
from tests.support import REALDATA_DIR, manage

DAY = past_sessions(1)[0]
FUTURE = (dt.date.today() + dt.timedelta(days=30)).isoformat()

PORTFOLIO = {
    "base_currency": "USD",
    "cash": 5000.0,
    "risk_profile": {"max_portfolio_risk_pct": 0.25},
    "positions": [
        {
            "id": "p1",
            "symbol": "AAPL",
            "option_type": "call",
            "expiry": "2027-01-15",
            "strike": 250.0,
            "contracts": 2,
            "cost_basis": 7.5,
        },
        {
            "id": "p2",
            "symbol": "SPY",
            "legs": [
                {
                    "side": "long",
                    "option_type": "put",
                    "expiry": "2026-12-18",
                    "strike": 600.0,
                    "contracts": 1,
                },
                {
                    "side": "short",
                    "option_type": "put",
                    "expiry": "2026-12-18",
                    "strike": 580.0,
                    "contracts": 1,
                },
            ],
            "net_debit": 450.0,
        },
    ],
}


@pytest.fixture
def seeded(warehouse_db):
    """One stored AAPL snapshot and candles, so 'nothing changed' has something to compare."""
    for job in ("ingest_candles", "snapshot_options"):
        assert run_job(job, DAY, ["AAPL"], lookback_days=30).outcome.status == "success"
    return warehouse_state()


def _usage_error(*args: str) -> str:
    runs_before = IngestionRun.objects.count()
    with pytest.raises(CommandError) as info:
        call_command(*args)
    assert info.value.returncode == 2
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert IngestionRun.objects.count() == runs_before
    return message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--provider", "nope"), "unknown provider 'nope'"),
        (("--as-of", "2026-13-01"), "--as-of must be 'latest' or YYYY-MM-DD, got '2026-13-01'"),
        (("--as-of", "yesterday"), "--as-of must be 'latest' or YYYY-MM-DD, got 'yesterday'"),
        (("--as-of", "20261120"), "--as-of must be 'latest' or YYYY-MM-DD, got '20261120'"),
        (("--as-of", FUTURE), f"--as-of {FUTURE} is in the future"),
        (("--as-of", "0001-01-01"), "--as-of 0001-01-01 is before the calendar's first session"),
        (("--symbol", ""), "--symbol must not be empty"),
        (("--watchlist", "no-such-list"), "no-such-list"),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_change_nothing(seeded, args, expected):
    for command in ("snapshot_options", "ingest_candles"):
        extra = () if "--watchlist" in args else ("--symbol", "AAPL")
        message = _usage_error(command, *extra, *args)
        assert expected in message
        if "--watchlist" in args:  # named beside --symbol, an unknown watchlist is still an error
            assert expected in _usage_error(command, "--symbol", "AAPL", *args)
    assert warehouse_state() == seeded


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--window", "0"), "--window must be between 1 and 30"),
        (("--window", "31"), "--window must be between 1 and 30"),
        (("--group-by", "sector"), "--group-by must be one of contract, strike, expiry"),
        (("--top", "99999999999999999999"), "--top must be between 1 and 500"),
    ],
)
def test_compute_flow_bad_window_or_group_by(seeded, args, expected):
    assert expected in _usage_error("compute_flow", "--symbol", "AAPL", *args)
    assert warehouse_state() == seeded


@pytest.mark.django_db
def test_malformed_portfolio_is_rejected_whole(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(PORTFOLIO))
    call_command("import_portfolio", str(good))
    stored = portfolio_export()

    bad_doc = json.loads(json.dumps(PORTFOLIO))
    bad_doc["positions"][1]["legs"][1]["strike"] = -5
    bad_doc["positions"].append({**PORTFOLIO["positions"][0], "id": "p3"})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_doc))
    with pytest.raises(CommandError) as info:
        call_command("import_portfolio", str(bad))
    message = str(info.value)
    assert info.value.returncode == 2
    assert "\n" not in message
    assert "positions[1].legs[1].strike" in message and "nothing was changed" in message
    assert portfolio_export() == stored

    duplicate = json.loads(json.dumps(PORTFOLIO))
    duplicate["positions"][1]["id"] = "p1"
    bad.write_text(json.dumps(duplicate))
    with pytest.raises(CommandError, match=r"positions\[1\]\.id.*duplicate id 'p1'"):
        call_command("import_portfolio", str(bad))
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_portfolio", str(bad))
    assert portfolio_export() == stored


def _corrupt_snapshot(monkeypatch, corrupt):
    original = DemoProvider.get_chain_snapshot

    def patched(self, symbol, *, as_of=None):
        snap = original(self, symbol, as_of=as_of)
        if symbol != "AAPL":
            return snap
        return dataclasses.replace(snap, chain=corrupt(snap.chain.copy()))

    monkeypatch.setattr(DemoProvider, "get_chain_snapshot", patched)


def _aapl_chain() -> tuple:
    return warehouse.fetch_all(
        "SELECT count(*), sum(hash(contract_symbol, bid, ask, open_interest, mark)) "
        "FROM options_chain WHERE symbol = 'AAPL'"
    )[0]


def _mostly_expired(chain: pd.DataFrame) -> pd.DataFrame:
    chain["expiry"] = dt.date(2019, 1, 18)
    return chain


def _duplicate_row(chain: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([chain, chain.iloc[[5]]], ignore_index=True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [(_mostly_expired, "rows are bad (expired"), (_duplicate_row, "duplicate")],
    ids=["expired-contracts", "duplicate-rows"],
)
def test_bad_provider_chain_fails_only_that_symbol(seeded, monkeypatch, corrupt, expected):
    aapl_before = _aapl_chain()
    assert aapl_before[0] > 100
    _corrupt_snapshot(monkeypatch, corrupt)
    with pytest.raises(SystemExit) as info:
        # --force: the stored snapshot is fetched again (a plain re-run skips it, up_to_date)
        call_command(
            "snapshot_options", "--symbol", "AAPL,MSFT", "--as-of", DAY.isoformat(), "--force"
        )
    assert info.value.code == 1
    run = IngestionRun.objects.filter(job_name="snapshot_options").latest("started_at")
    assert run.status == "partial"
    assert event_status(run.pk, "options_snapshots") == {"AAPL": "failed", "MSFT": "success"}
    event = run.assets.get(partition_key="AAPL")
    assert event.extra["error_type"] == "ProviderError"
    assert event.extra["error"].startswith("AAPL: chain")
    assert expected in event.extra["error"]
    # AAPL's previously stored snapshot and candles are untouched; only MSFT's rows are new
    assert _aapl_chain() == aapl_before
    assert warehouse_state()["candles_daily"] == seeded["candles_daily"]


@pytest.mark.django_db
def test_negative_candle_prices_fail_the_symbol_and_keep_its_candles(seeded, monkeypatch):
    original = DemoProvider.get_history

    def patched(self, symbol, start, end):
        frame = original(self, symbol, start, end)
        if symbol == "AAPL" and len(frame):
            frame.loc[frame.index[-1], "close"] = -3.0
        return frame

    later = past_sessions(1, end=dt.date(2026, 11, 24))[0]
    assert later > DAY
    monkeypatch.setattr(DemoProvider, "get_history", patched)
    with pytest.raises(SystemExit) as info:
        call_command("ingest_candles", "--symbol", "AAPL", "--as-of", later.isoformat())
    assert info.value.code == 1
    run = IngestionRun.objects.filter(job_name="ingest_candles").latest("started_at")
    assert run.status == "failed"
    event = run.assets.get(partition_key="AAPL")
    assert "negative value(s) in 'close'" in event.extra["error"]
    assert warehouse_state()["candles_daily"] == seeded["candles_daily"]


# --- issue 14, finding 1: impossible vendor values are dropped, counted and flagged ------------


def _poison(chain: pd.DataFrame) -> pd.DataFrame:
    chain = chain.copy()
    chain["volume"] = chain["volume"].astype(object)
    rows = chain.index
    chain.loc[rows[0], "strike"] = float("inf")
    chain.loc[rows[1], "strike"] = 1e300
    chain.loc[rows[2], "strike"] = 0.0
    chain.loc[rows[3], "expiry"] = dt.date(2019, 1, 18)
    chain.loc[rows[4], "volume"] = "lots"
    chain.loc[rows[5], "bid"] = -1.25
    chain.loc[rows[6], "implied_vol"] = float("inf")
    chain.loc[rows[7], "implied_vol"] = 1e12
    return chain


@pytest.mark.django_db
def test_bad_rows_are_dropped_and_counted_not_stored(warehouse_db, monkeypatch):
    _corrupt_snapshot(monkeypatch, _poison)
    execution = run_job("snapshot_options", DAY, ["AAPL"])
    assert execution.outcome.status == "success"
    (meta,) = warehouse.fetch_all(
        "SELECT meta FROM options_snapshot_headers WHERE symbol = 'AAPL'"
    )[0]
    meta = json.loads(meta)
    assert meta["dropped_rows"] == {
        "bad_strike": 3, "expired": 1, "bad_volume": 1, "negative_price": 1
    }
    bad = warehouse.fetch_all(
        "SELECT count(*) FROM options_chain WHERE symbol = 'AAPL' AND (isinf(strike) OR strike <= 0"
        " OR strike > 1e6 OR expiry < snapshot_date OR bid < 0 OR isnan(volume)"
        " OR implied_vol > 5 OR isinf(implied_vol))"
    )[0][0]
    assert bad == 0
    run = IngestionRun.objects.filter(job_name="snapshot_options").latest("started_at")
    assert run.assets.get(partition_key="AAPL").extra["dropped_rows"] == 6
    checks = {c.check_name: c.status for c in run.checks.all()}
    assert checks["snapshot_quote_sanity"] == "pass" and checks["snapshot_iv_range"] == "pass"


@pytest.mark.django_db
@pytest.mark.parametrize("spot", [0.0, -4.0, float("nan")])
def test_bad_spot_fails_only_that_symbol(warehouse_db, monkeypatch, spot):
    original = DemoProvider.get_chain_snapshot

    def patched(self, symbol, *, as_of=None):
        snap = original(self, symbol, as_of=as_of)
        return dataclasses.replace(snap, spot=spot) if symbol == "AAPL" else snap

    monkeypatch.setattr(DemoProvider, "get_chain_snapshot", patched)
    execution = run_job("snapshot_options", DAY, ["AAPL", "MSFT"])
    assert execution.outcome.status == "partial"
    run = IngestionRun.objects.filter(job_name="snapshot_options").latest("started_at")
    assert event_status(run.pk, "options_snapshots") == {"AAPL": "failed", "MSFT": "success"}
    assert run.assets.get(partition_key="AAPL").extra["error"].startswith("AAPL: chain: spot")


@pytest.mark.parametrize("spot", [0.0, float("nan"), float("inf"), -1.0])
def test_chain_summary_never_divides_by_a_bad_spot(spot):
    chain = pd.DataFrame(
        {
            "option_type": ["call", "put"], "expiry": [dt.date(2024, 7, 19)] * 2,
            "strike": [100.0, 100.0], "open_interest": [10.0, 12.0], "volume": [1.0, 2.0],
            "mark": [2.0, 2.5], "implied_vol": [0.3, 0.31], "bs_delta": [0.5, -0.5],
            "bs_gamma": [0.02, 0.02],
        }
    )
    summary = chain_calc.summarize_chain(chain, spot=spot, as_of=dt.date(2024, 6, 14))
    assert summary["em_near_pct"] is None and summary["call_wall"] is None
    assert summary["pc_oi"] == pytest.approx(1.2)
    terms = chain_calc.term_structure(chain, spot=spot, as_of=dt.date(2024, 6, 14))
    assert terms["em_pct"].isna().all()


# --- issue 14, finding 3: one bad run never blanks good reports -------------------------------


def _briefing(day: dt.date, settings) -> dict:
    path = settings.REPORTS_DIR / "daily" / f"{day.isoformat()}.json"
    return json.loads(path.read_text())


def _run_daily(*args: str) -> int:
    try:
        call_command("run_daily", *args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def tracked(warehouse_db):
    watchlist = Watchlist.objects.create(name="core")
    for symbol in ("AAPL", "MSFT"):
        WatchlistSymbol.objects.create(watchlist=watchlist, symbol=symbol)
    return ("AAPL", "MSFT")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--group-by", "foo"), "--group-by must be one of contract, strike, expiry"),
        (("--window", "99"), "--window must be between 1 and 30"),
        (("--symbol", ""), "--symbol must not be empty"),
        (("--from", "2026-11-21", "--to", "2026-11-22"), "no trading sessions between"),
    ],
)
def test_run_daily_bad_options_are_usage_errors_before_anything_runs(tracked, args, expected):
    as_of = () if "--from" in args else ("--as-of", DAY.isoformat())  # a range names its dates
    assert expected in _usage_error("run_daily", *as_of, *args)
    assert not IngestionRun.objects.exists()


@pytest.mark.django_db
def test_task_options_are_validated_like_the_command(tracked):
    from apps.pipeline.requests import JobRequestError
    from apps.pipeline.tasks import run_job_task

    with pytest.raises(JobRequestError, match="--group-by must be one of"):
        run_job_task("run_daily", as_of=DAY, options={"compute_flow": {"group_by": "foo"}})
    with pytest.raises(JobRequestError, match="--window must be between 1 and 30"):
        run_job_task("compute_flow", as_of=DAY, options={"window": 99})
    with pytest.raises(JobRequestError, match="does not take option"):
        run_job_task("compute_flow", as_of=DAY, options={"windw": 2})
    assert not IngestionRun.objects.exists()


@pytest.mark.django_db
def test_subset_run_and_failed_upstream_keep_the_whole_briefing(tracked, settings, monkeypatch):
    first, second = past_sessions(2)
    assert _run_daily("--as-of", first.isoformat()) == 0
    assert [s["symbol"] for s in _briefing(first, settings)["symbols"]] == ["AAPL", "MSFT"]

    # A subset run refreshes AAPL only; MSFT stays in the briefing and the dashboard.
    assert _run_daily("--as-of", first.isoformat(), "--symbol", "AAPL") == 0
    report = _briefing(first, settings)
    assert [s["symbol"] for s in report["symbols"]] == ["AAPL", "MSFT"]
    assert not any(s["stale"] for s in report["symbols"])
    dashboard = DashboardView.objects.latest("built_at").payload
    assert [s["symbol"] for s in dashboard["symbols"]] == ["AAPL", "MSFT"]

    # MSFT's snapshot fails the next day: its section keeps yesterday's values, marked stale.
    original = DemoProvider.get_chain_snapshot

    def failing(self, symbol, *, as_of=None):
        snap = original(self, symbol, as_of=as_of)
        return dataclasses.replace(snap, spot=0.0) if symbol == "MSFT" else snap

    monkeypatch.setattr(DemoProvider, "get_chain_snapshot", failing)
    assert _run_daily("--as-of", second.isoformat()) == 1
    by_symbol = {s["symbol"]: s for s in _briefing(second, settings)["symbols"]}
    assert set(by_symbol) == {"AAPL", "MSFT"}
    assert not by_symbol["AAPL"]["stale"]
    msft = by_symbol["MSFT"]
    assert msft["stale"] and msft["snapshot_date"] == first.isoformat()
    assert "snapshot_options failed" in msft["stale_note"]
    assert "not a finite positive price" in msft["stale_note"]  # the failed event's own error
    assert msft["overview"]["spot"] is not None
    assert msft["stale_note"] in msft["warnings"]


# --- issue 14, finding 4: the real SPXW chain (every contract new on 02-01) --------------------


@pytest.mark.django_db
@pytest.mark.skipif(
    not (REALDATA_DIR / "deltaneutral_SPXW_2018-01-02_2018-02-28.csv").exists(),
    reason="real vendor data not found",
)
def test_real_spxw_all_null_flow_notional_builds_the_briefing(warehouse_db, tmp_path, settings):
    name = "deltaneutral_SPXW_2018-01-02_2018-02-28.csv"
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    shutil.copy(REALDATA_DIR / name, vendor / name)
    settings.FILES_PROVIDER_DIR = str(vendor)
    for day in ("2018-01-31", "2018-02-01"):
        code = _run_daily("--provider", "files", "--symbol", "SPXW", "--as-of", day)
        assert code == 0, day
    partition = OptionsFlowPartition.objects.get(symbol="SPXW", to_date=dt.date(2018, 2, 1))
    assert not OptionsFlow.objects.filter(
        partition=partition, delta_oi_notional__isnull=False
    ).exists()
    run = IngestionRun.objects.filter(job_name="run_daily").latest("started_at")
    assert run.status == "success"
    report = _briefing(dt.date(2018, 2, 1), settings)
    spxw = next(s for s in report["symbols"] if s["symbol"] == "SPXW")
    assert spxw["flow"]["building"] == [] and spxw["flow"]["unwinding"] == []


# --- issue 14, finding 5: one line instead of a traceback -------------------------------------


def _one_line(result, code: int) -> str:
    text = (result.stderr + result.stdout).strip()
    assert result.returncode == code, text
    assert "Traceback" not in text
    return text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("db_health", "--limit", "99999999999999999999"), "--limit must be at most"),
        (("db_health", "--days", "100000000"), "--days must be at most"),
        (("export_portfolio", "-o", "/nonexistent/x.json"), "does not exist"),
    ],
)
def test_command_arguments_out_of_range_are_one_line(args, expected):
    with pytest.raises(CommandError) as info:
        call_command(*args)
    assert info.value.returncode == 2 and expected in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.django_db
def test_export_to_a_directory_is_one_line(tmp_path):
    with pytest.raises(CommandError, match="is a directory") as info:
        call_command("export_portfolio", "-o", str(tmp_path))
    assert info.value.returncode == 2


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OPTIONS_HELPER_WAREHOUSE_READ_TIMEOUT": "soon"}, "OPTIONS_HELPER_WAREHOUSE_READ_TIMEOUT"),
        ({"OPTIONS_HELPER_JOB_TIMEOUT": "1e99"}, "OPTIONS_HELPER_JOB_TIMEOUT"),
        ({"Q_WORKERS": "many"}, "Q_WORKERS"),
        ({"DATABASE_URL": "foo://nowhere"}, "DATABASE_URL"),
        ({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
    ],
)
def test_bad_environment_settings_name_the_variable(env, variable):
    text = _one_line(manage("db_info", **env), 2)
    assert variable in text and len(text.splitlines()) == 1


def test_unreachable_postgres_exits_1_without_suggesting_db_init():
    result = manage("db_info", DATABASE_URL="postgres://postgres@127.0.0.1:1/nothing")
    text = _one_line(result, 1)
    assert "cannot reach the metadata DB" in text and "db_init`" not in result.stderr


def test_db_init_to_an_uncreatable_path_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = manage("db_init", OPTIONS_HELPER_DATA_DIR=str(blocker / "data"),
                    OPTIONS_HELPER_DUCKDB_PATH=str(blocker / "data" / "w.duckdb"))
    text = _one_line(result, 1)
    assert "cannot create" in text and len(text.splitlines()) == 1


@pytest.mark.django_db
def test_bogus_default_provider_is_named(settings):
    settings.DEFAULT_PROVIDER = "bogus"
    message = _usage_error("snapshot_options", "--symbol", "AAPL")
    assert "unknown provider 'bogus' (from OPTIONS_HELPER_PROVIDER)" in message


@pytest.mark.django_db
def test_failed_warehouse_write_records_the_real_constraint_error(warehouse_db):
    from apps.market import stores

    frame = pd.DataFrame({"date": [DAY, None], "open": [1.0, 1.0], "high": [1.0, 1.0],
                          "low": [1.0, 1.0], "close": [1.0, 1.0]})
    with pytest.raises(Exception) as info:
        stores.candles_write(symbol="AAPL", frame=frame, provider="demo")
    assert "Current transaction is aborted" not in str(info.value)
    assert "NOT NULL" in str(info.value)
    assert warehouse.fetch_all("SELECT count(*) FROM candles_daily")[0][0] == 0


# --- issue 14, findings 5/6: the portfolio file schema (identical on SQLite and PostgreSQL) ----


def _doc(mutate) -> str:
    doc = json.loads(json.dumps(PORTFOLIO))
    mutate(doc)
    return json.dumps(doc)


def _set(path: tuple, value):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (_doc(_set(("positions", 0, "strike"), float("nan"))), "NaN is not allowed"),
        (_doc(_set(("cash",), float("nan"))), "NaN is not allowed"),
        (_doc(_set(("positions", 0, "strike"), float("inf"))), "Infinity is not allowed"),
        (_doc(_set(("positions", 0, "contracts"), 1e30)), "positions[0].contracts"),
        (_doc(_set(("positions", 0, "contracts"), 2**31)), "positions[0].contracts"),
        (_doc(_set(("positions", 0, "id"), "x" * 200)), "positions[0].id"),
        (_doc(_set(("positions", 0, "quantity"), 3)), "unknown field(s) quantity"),
        (_doc(_set(("risk_profile", "max_portfolio_risk_pct"), "lots")), "risk_profile.max_"),
        (_doc(_set(("base_currency",), ["x"])), "base_currency"),
        (_doc(_set(("cash",), 1e300)), "cash"),
        (_doc(_set(("extra",), 1)), "unknown field(s) extra"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
    ids=["nan-strike", "nan-cash", "inf-strike", "contracts-1e30", "contracts-2^31", "long-id",
         "unknown-position-key", "risk-profile-type", "currency-list", "huge-cash", "unknown-top",
         "deep-nesting"],
)
def test_portfolio_schema_refuses_with_one_line_and_changes_nothing(tmp_path, text, needle):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(PORTFOLIO))
    call_command("import_portfolio", str(good))
    stored = portfolio_export()
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    with pytest.raises(CommandError) as info:
        call_command("import_portfolio", str(bad))
    message = str(info.value)
    assert info.value.returncode == 2 and "\n" not in message
    assert needle in message
    assert portfolio_export() == stored


# --- issue 14, finding 8: DuckDB's own lock held by a process outside the product ---------------


@pytest.fixture
def outside_reader(warehouse_db):
    """A DuckDB session in another process holding the warehouse open read-only."""
    import subprocess
    import sys

    code = (
        "import duckdb, sys, time\n"
        f"c = duckdb.connect({str(warehouse_db)!r}, read_only=True)\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        yield child
    finally:
        child.kill()
        child.wait(timeout=30)


@pytest.mark.django_db
def test_outside_lock_fails_the_write_with_the_holder_pid(outside_reader, settings):
    settings.WAREHOUSE_WRITE_TIMEOUT_S = 0.3
    with pytest.raises(warehouse.WarehouseLockedOutside) as info:
        with warehouse.write():
            pass
    message = str(info.value)
    assert f"locked by process {outside_reader.pid}" in message
    assert "Data Explorer" in message and "\n" not in message
    # Readers are not blocked by another reader; the job fails per symbol with the same one line.
    assert warehouse.fetch_all("SELECT 1") == [(1,)]
    execution = run_job("ingest_candles", DAY, ["AAPL"], lookback_days=30)
    assert execution.outcome.status == "failed"
    run = IngestionRun.objects.filter(job_name="ingest_candles").latest("started_at")
    event = run.assets.get(partition_key="AAPL")
    assert f"locked by process {outside_reader.pid}" in event.extra["error"]
    assert "Could not set lock" not in event.extra["error"]
