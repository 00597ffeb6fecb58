"""Each SPEC §7 check passes on clean data and fails on purpose-made bad data; skips say why."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.analytics.models import OptionsFlow, OptionsFlowPartition
from apps.core import calendar
from apps.ledger.checks import CheckScope, all_check_specs, checks_for_job, run_checks
from apps.ledger.models import IngestionRun
from optionshelper import warehouse

T0 = dt.datetime(2024, 3, 1, 22, 0, tzinfo=dt.UTC)
MARCH = calendar.sessions_between(dt.date(2024, 2, 1), dt.date(2024, 3, 28))


def _insert_candles(symbol: str, days, *, updated_at=T0, low=9.0, high=11.0, open_=10.0) -> None:
    rows = [(symbol, day, open_, high, low, 10.0, 10.0, 1000.0, "demo", updated_at) for day in days]
    with warehouse.transaction() as con:
        con.executemany(
            "INSERT INTO candles_daily (symbol, date, open, high, low, close, adj_close, volume,"
            " provider, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def _by_name(outcomes, symbol: str | None = None) -> dict[str, object]:
    return {o.check_name: o for o in outcomes if symbol is None or o.partition_key == symbol}


def test_ten_checks_with_spec_names_assets_and_severities():
    expected = {
        "candles_unique_symbol_date": ("candles_daily", "error"),
        "candles_monotonic_date": ("candles_daily", "error"),
        "candles_no_negative_prices": ("candles_daily", "error"),
        "candles_gap_days_last_30": ("candles_daily", "warn"),
        "option_bars_monotonic_ts": ("option_bars", "error"),
        "option_bars_no_negative_prices": ("option_bars", "error"),
        "option_bars_duplicate_pk": ("option_bars", "error"),
        "snapshot_parseable_contract_symbol": ("options_snapshots", "warn"),
        "snapshot_spot_sane": ("options_snapshots", "error"),
        "snapshot_iv_range": ("options_snapshots", "error"),
        "snapshot_quote_sanity": ("options_snapshots", "error"),
        "snapshot_dropped_rows": ("options_snapshots", "warn"),
        "flow_no_null_primary_keys": ("options_flow", "error"),
        "derived_no_duplicate_keys": ("derived_daily", "error"),
    }
    assert {s.name: (s.asset_key, s.severity) for s in all_check_specs()} == expected
    assert checks_for_job("build_briefing") == ()
    assert run_checks("build_briefing", scope=CheckScope(symbols=("AAPL",))) == []


# --- candles ---------------------------------------------------------------------------------


def test_candle_checks_pass_on_clean_data(warehouse_db):
    _insert_candles("AAPL", MARCH)
    outcomes = run_checks("ingest_candles", scope=CheckScope(symbols=("aapl",)))
    assert {o.check_name: o.status for o in outcomes} == {
        "candles_unique_symbol_date": "pass",
        "candles_monotonic_date": "pass",
        "candles_no_negative_prices": "pass",
        "candles_gap_days_last_30": "pass",
    }
    unique = _by_name(outcomes)["candles_unique_symbol_date"]
    assert unique.partition_key == "AAPL" and unique.severity == "error"
    assert unique.metrics == {"rows_checked": len(MARCH), "offending": 0, "sample": []}
    assert "\n" not in unique.message


def test_duplicate_and_invalid_candle_dates_fail(warehouse_db):
    _insert_candles("AAPL", MARCH)
    _insert_candles("AAPL", [dt.date(2024, 3, 5), dt.date(2024, 3, 9)], updated_at=T0)  # dup + Sat
    _insert_candles("MSFT", MARCH)
    outcomes = run_checks("ingest_candles", scope=CheckScope(symbols=("AAPL", "MSFT")))
    bad = _by_name(outcomes, "AAPL")["candles_unique_symbol_date"]
    assert bad.status == "fail"
    assert bad.metrics["offending"] == 2
    assert bad.metrics["sample"] == ["2024-03-05 x2", "2024-03-09 (weekend)"]
    assert _by_name(outcomes, "MSFT")["candles_unique_symbol_date"].status == "pass"


def test_repeated_dates_fail_but_a_later_backfill_passes(warehouse_db):
    _insert_candles("AAPL", [dt.date(2024, 3, 4), dt.date(2024, 3, 6), dt.date(2024, 3, 6)])
    # A later write filling an older date is a backfill, not disorder.
    _insert_candles("MSFT", [dt.date(2024, 3, 4), dt.date(2024, 3, 6)])
    _insert_candles("MSFT", [dt.date(2024, 3, 5)], updated_at=T0 + dt.timedelta(hours=1))
    outcomes = run_checks("ingest_candles", scope=CheckScope(symbols=("AAPL", "MSFT")))
    bad = _by_name(outcomes, "AAPL")["candles_monotonic_date"]
    assert (bad.status, bad.metrics["offending"]) == ("fail", 1)
    assert bad.metrics["sample"] == ["2024-03-06 after 2024-03-06"]
    assert _by_name(outcomes, "MSFT")["candles_monotonic_date"].status == "pass"


@pytest.mark.parametrize("prices", [{"low": -1.0}, {"high": 8.0}, {"open_": -0.5}])
def test_negative_prices_or_high_below_low_fail(warehouse_db, prices):
    _insert_candles("AAPL", MARCH[:-1])
    _insert_candles("AAPL", MARCH[-1:], **prices)
    outcomes = run_checks("ingest_candles", scope=CheckScope(symbols=("AAPL",)))
    bad = _by_name(outcomes)["candles_no_negative_prices"]
    assert (bad.status, bad.metrics["sample"]) == ("fail", [MARCH[-1].isoformat()])


def test_a_missing_session_is_a_gap(warehouse_db):
    missing = dt.date(2024, 3, 13)
    _insert_candles("AAPL", [d for d in MARCH if d != missing])
    outcome = _by_name(run_checks("ingest_candles", scope=CheckScope(symbols=("AAPL",))))[
        "candles_gap_days_last_30"
    ]
    assert (outcome.status, outcome.severity) == ("fail", "warn")
    assert outcome.metrics["sample"] == ["2024-03-13"]
    assert outcome.metrics["offending"] == 1


def test_holidays_are_not_gaps_and_history_before_the_first_candle_is_not_either(warehouse_db):
    sessions = calendar.sessions_between(dt.date(2016, 12, 20), dt.date(2017, 1, 10))
    assert dt.date(2016, 12, 26) not in sessions and dt.date(2017, 1, 2) not in sessions
    _insert_candles("AAPL", sessions)
    outcome = _by_name(run_checks("ingest_candles", scope=CheckScope(symbols=("AAPL",))))[
        "candles_gap_days_last_30"
    ]
    assert outcome.status == "pass"
    assert outcome.metrics["rows_checked"] == len(sessions)
    assert outcome.metrics["window_start"] == "2016-12-20"


def test_symbols_without_rows_and_a_missing_warehouse_skip_with_a_reason(warehouse_db):
    _insert_candles("AAPL", MARCH)
    outcomes = run_checks("ingest_candles", scope=CheckScope(symbols=("AAPL", "ZZZ")))
    skipped = [o for o in outcomes if o.partition_key == "ZZZ"]
    assert {o.status for o in skipped} == {"skip"} and len(skipped) == 4
    assert skipped[0].metrics == {"reason": "no rows"}
    warehouse_db.unlink()
    outcomes = run_checks("ingest_candles", scope=CheckScope(symbols=("AAPL",)))
    assert {(o.status, o.metrics["reason"]) for o in outcomes} == {("skip", "warehouse missing")}
    assert not warehouse_db.exists()


def test_empty_scope_skips_once_per_check(warehouse_db):
    outcomes = run_checks("compute_derived", scope=CheckScope(symbols=()))
    assert [(o.partition_key, o.status) for o in outcomes] == [("ALL", "skip")]


# --- option bars -----------------------------------------------------------------------------

C1, C2 = "AAPL240419C00150000", "AAPL240419P00150000"


def _insert_bars(rows, *, updated_at=T0) -> None:
    with warehouse.transaction() as con:
        con.execute("DELETE FROM option_contracts WHERE contract_symbol IN (?, ?)", [C1, C2])
        con.executemany(
            "INSERT INTO option_contracts VALUES (?, 'AAPL', DATE '2024-04-19', ?, 150, 100,"
            " 'demo', ?)",
            [(C1, "call", updated_at), (C2, "put", updated_at)],
        )
        con.executemany(
            "INSERT INTO option_bars (contract_symbol, date, provider, open, high, low, close,"
            " volume, vwap, updated_at) VALUES (?, ?, 'demo', ?, 2, 1, 1.5, 10, 1.5, ?)",
            [(c, d, o, updated_at) for c, d, o in rows],
        )


def _bar_rows(contract: str, days, open_: float = 1.2):
    return [(contract, day, open_) for day in days]


def test_option_bar_checks_pass_on_clean_data(warehouse_db):
    _insert_bars(_bar_rows(C1, MARCH[-5:]) + _bar_rows(C2, MARCH[-5:]))
    outcomes = run_checks("ingest_options_bars", scope=CheckScope(symbols=("AAPL",)))
    assert {o.check_name: o.status for o in outcomes} == {
        "option_bars_monotonic_ts": "pass",
        "option_bars_no_negative_prices": "pass",
        "option_bars_duplicate_pk": "pass",
    }
    assert outcomes[0].metrics["rows_checked"] == 10


def test_option_bar_checks_fail_on_bad_data(warehouse_db):
    days = MARCH[-3:]
    rows = _bar_rows(C1, [days[0], days[1], days[1]])  # a repeated date
    rows += _bar_rows(C2, days) + [(C2, days[1], -0.1)]  # a duplicate key with a negative open
    _insert_bars(rows)
    outcomes = _by_name(run_checks("ingest_options_bars", scope=CheckScope(symbols=("AAPL",))))
    monotonic = outcomes["option_bars_monotonic_ts"]
    assert monotonic.status == "fail"
    assert f"{C1}|{days[1]}" in monotonic.metrics["sample"][0]
    negative = outcomes["option_bars_no_negative_prices"]
    assert (negative.status, negative.metrics["sample"]) == ("fail", [f"{C2}|{days[1]}"])
    duplicate = outcomes["option_bars_duplicate_pk"]
    assert duplicate.status == "fail"
    assert duplicate.metrics["sample"] == [f"{C1}|{days[1]}|demo", f"{C2}|{days[1]}|demo"]


def test_option_bars_of_another_provider_are_out_of_scope(warehouse_db):
    _insert_bars(_bar_rows(C1, MARCH[-2:], open_=-1.0))
    scope = CheckScope(symbols=("AAPL",), provider="alpaca")
    outcomes = run_checks("ingest_options_bars", scope=scope)
    assert {o.status for o in outcomes} == {"skip"}


# --- snapshots -------------------------------------------------------------------------------

SNAP = dt.date(2024, 3, 15)


def _insert_chain(rows, *, day=SNAP) -> None:
    with warehouse.transaction() as con:
        con.executemany(
            "INSERT INTO options_chain (symbol, snapshot_date, provider, contract_symbol, expiry,"
            " option_type, strike) VALUES ('AAPL', ?, 'demo', ?, ?, ?, ?)",
            [(day, *row) for row in rows],
        )


def test_snapshot_symbols_parse_and_agree_including_saturday_vendor_expiry(warehouse_db):
    _insert_chain(
        [
            ("AAPL240419C00150000", dt.date(2024, 4, 19), "call", 150.0),
            ("AAPL  240419P00152500", dt.date(2024, 4, 20), "put", 152.5),  # padded, Saturday
        ]
    )
    scope = CheckScope(symbols=("AAPL",), market_date=SNAP)
    outcome = _by_name(run_checks("snapshot_options", scope=scope))[
        "snapshot_parseable_contract_symbol"
    ]
    assert (outcome.check_name, outcome.status) == ("snapshot_parseable_contract_symbol", "pass")
    assert outcome.metrics["rows_checked"] == 2
    assert outcome.metrics["snapshot_date"] == "2024-03-15"


def test_unparseable_or_disagreeing_contract_symbols_fail(warehouse_db):
    _insert_chain(
        [
            ("AAPL240419C00150000", dt.date(2024, 4, 19), "call", 150.0),
            ("NOT-A-SYMBOL", dt.date(2024, 4, 19), "call", 150.0),
            ("AAPL241341C00150000", dt.date(2024, 4, 19), "call", 150.0),  # month 13
            ("AAPL240419P00150000", dt.date(2024, 4, 19), "call", 150.0),  # type
            ("AAPL240419C00155000", dt.date(2024, 4, 19), "call", 150.0),  # strike
            ("AAPL240418C00150000", dt.date(2024, 4, 19), "call", 150.0),  # expiry
        ]
    )
    _insert_chain([("BROKEN", dt.date(2024, 4, 19), "call", 1.0)], day=dt.date(2024, 3, 14))
    outcome = _by_name(run_checks("snapshot_options", scope=CheckScope(symbols=("AAPL",))))[
        "snapshot_parseable_contract_symbol"
    ]
    assert (outcome.status, outcome.severity) == ("fail", "warn")
    assert outcome.metrics["rows_checked"] == 6  # only the newest snapshot when no date is given
    assert outcome.metrics["offending"] == 5
    assert "NOT-A-SYMBOL (unparseable)" in outcome.metrics["sample"]
    assert "AAPL240419P00150000 (type call)" in outcome.metrics["sample"]


# --- derived ---------------------------------------------------------------------------------


def _insert_derived(symbol: str, days) -> None:
    with warehouse.transaction() as con:
        con.executemany(
            "INSERT INTO derived_daily (symbol, date, spot, updated_at) VALUES (?, ?, 100, ?)",
            [(symbol, day, T0) for day in days],
        )


def test_derived_duplicate_keys_fail_and_clean_rows_pass(warehouse_db):
    _insert_derived("AAPL", MARCH[-3:] + MARCH[-1:])
    _insert_derived("MSFT", MARCH[-3:])
    outcomes = run_checks("compute_derived", scope=CheckScope(symbols=("AAPL", "MSFT")))
    by_symbol = {o.partition_key: o for o in outcomes}
    assert by_symbol["AAPL"].status == "fail"
    assert by_symbol["AAPL"].metrics["sample"] == [f"{MARCH[-1]} x2"]
    assert by_symbol["MSFT"].status == "pass"


# --- flow ------------------------------------------------------------------------------------


def _flow_partition(symbol: str, *, run=None, row_keys=("call|2024-04-19|150",)):
    partition = OptionsFlowPartition.objects.create(
        symbol=symbol,
        from_date=dt.date(2024, 3, 14),
        to_date=SNAP,
        window=1,
        group_by="strike",
        snapshot_dates=["2024-03-14", "2024-03-15"],
        run=run,
        computed_at=timezone.now(),
    )
    for key in row_keys:
        OptionsFlow.objects.create(
            partition=partition,
            symbol=symbol,
            from_date=partition.from_date,
            to_date=partition.to_date,
            window=1,
            group_by="strike",
            row_key=key,
            flow_class="building",
        )
    return partition


def _run() -> IngestionRun:
    now = timezone.now()
    return IngestionRun.objects.create(
        job_name="compute_flow", triggered_by="cli", started_at=now, heartbeat_at=now, as_of=SNAP
    )


@pytest.mark.django_db
def test_flow_rows_with_blank_keys_fail_for_the_run_that_wrote_them():
    run, other = _run(), _run()
    _flow_partition("AAPL", run=run, row_keys=("call|150", "", "   "))
    _flow_partition("MSFT", run=run)
    _flow_partition("TSLA", run=other, row_keys=("",))
    outcomes = run_checks("compute_flow", scope=CheckScope(symbols=(), run_id=str(run.run_id)))
    by_symbol = {o.partition_key: o for o in outcomes}
    assert set(by_symbol) == {"AAPL", "MSFT"}
    assert by_symbol["AAPL"].status == "fail" and by_symbol["AAPL"].metrics["offending"] == 2
    assert by_symbol["AAPL"].metrics["rows_checked"] == 3
    assert len(by_symbol["AAPL"].metrics["sample"]) == 2
    assert by_symbol["MSFT"].status == "pass"


@pytest.mark.django_db
def test_flow_check_without_a_run_uses_the_market_date_and_skips_when_empty():
    _flow_partition("AAPL")
    scope = CheckScope(symbols=("AAPL", "MSFT"), market_date=SNAP)
    outcomes = {o.partition_key: o for o in run_checks("compute_flow", scope=scope)}
    assert outcomes["AAPL"].status == "pass"
    assert (outcomes["MSFT"].status, outcomes["MSFT"].metrics) == (
        "skip",
        {"reason": "no flow rows"},
    )
    (none,) = run_checks("compute_flow", scope=CheckScope(symbols=(), run_id=str(_run().run_id)))
    assert (none.partition_key, none.status) == ("ALL", "skip")


def test_an_exception_inside_a_check_propagates(warehouse_db, monkeypatch):
    from apps.market.checks import candles

    def broken(connection, scope):
        raise RuntimeError("bug in a check")

    monkeypatch.setattr(candles, "CHECKS", ((candles.UNIQUE, broken),))
    with pytest.raises(RuntimeError, match="bug in a check"):
        run_checks("ingest_candles", scope=CheckScope(symbols=("AAPL",)))


def test_option_bar_checks_of_a_job_look_at_what_it_wrote_and_what_that_clashes_with(
    warehouse_db,
):
    days = MARCH[-4:]
    earlier = T0 - dt.timedelta(days=3)
    # Stored before the job: a negative open (reported when it was written) and C2's days.
    _insert_bars(_bar_rows(C1, days[:2], open_=-1.0) + _bar_rows(C2, days[:3]), updated_at=earlier)
    # The job writes C1's next day and, again, C2's last stored day.
    _insert_bars(_bar_rows(C1, days[3:]) + _bar_rows(C2, days[2:3]))
    scope = CheckScope(symbols=("AAPL",), written_since=T0)
    outcomes = _by_name(run_checks("ingest_options_bars", scope=scope))
    assert outcomes["option_bars_no_negative_prices"].status == "pass"
    assert outcomes["option_bars_no_negative_prices"].metrics["rows_checked"] == 2
    duplicate = outcomes["option_bars_duplicate_pk"]
    assert (duplicate.status, duplicate.metrics["sample"]) == ("fail", [f"{C2}|{days[2]}|demo"])
    assert duplicate.metrics["rows_checked"] == 3  # the two written rows and the clash
    assert outcomes["option_bars_monotonic_ts"].status == "fail"
    everything = _by_name(run_checks("ingest_options_bars", scope=CheckScope(symbols=("AAPL",))))
    assert everything["option_bars_no_negative_prices"].status == "fail"
    assert everything["option_bars_no_negative_prices"].metrics["rows_checked"] == 7
