"""The warehouse in lake mode (DuckLake on the localhost PostgreSQL) and the 2.x-file refusal."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import struct
import subprocess
import sys

import duckdb
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from apps.market import selectors, stores
from optionshelper import warehouse, warehouse_schema
from optionshelper.databases import warehouse_checksums
from tests.lake_workers import chain_frame
from tests.support import REPO_ROOT, child_env

DAY = dt.date(2024, 1, 2)


def _snapshot(symbol: str, day: dt.date, n: int = 5, mark: float = 1.0) -> stores.WriteStats:
    return stores.snapshot_write(
        symbol=symbol,
        snapshot_date=day,
        provider="test",
        spot=100.0,
        risk_free_rate=0.04,
        chain=chain_frame(symbol, day, n, mark),
        quote_quality={"ok": n},
        meta={},
    )


def _start(lake, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "tests" / "lake_workers.py"), *args],
        env=child_env(**lake.env()),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _results(processes: list[subprocess.Popen], timeout: float = 300) -> list[dict]:
    try:
        outs = []
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            assert process.returncode == 0, err[-2000:]
            outs.append(json.loads(out.strip().splitlines()[-1]))
        return outs
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_lake_migrations_create_the_schema_and_are_idempotent(lake):
    assert warehouse.mode() == "lake"
    assert warehouse_schema.schema_version() is None
    assert warehouse_schema.migrate() == [m.version for m in warehouse_schema.MIGRATIONS]
    assert warehouse_schema.migrate() == []
    assert warehouse_schema.schema_version() == warehouse_schema.LATEST_VERSION
    tables = {
        name
        for (name,) in warehouse.fetch_all(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()"
        )
    }
    assert {"options_chain", "options_snapshot_headers", "derived_daily", "candles_daily"} <= tables
    assert [v for v, _, _ in warehouse_schema.applied_migrations()] == [1, 2, 3, 4, 5]


def test_lake_statement_drops_keys_checks_and_indexes():
    sql = warehouse_schema.lake_statement(
        "CREATE TABLE t (a VARCHAR PRIMARY KEY, s VARCHAR CHECK (s IN ('x', 'y)')), "
        "b INT, PRIMARY KEY (a, b))"
    )
    assert sql == "CREATE TABLE t (a VARCHAR NOT NULL , s VARCHAR, b INT)"
    assert warehouse_schema.lake_statement("CREATE INDEX i ON t (a)") is None
    assert warehouse_schema.lake_statement("DROP INDEX IF EXISTS i") is None


@pytest.mark.django_db
def test_db_init_and_db_info_report_lake_mode_without_the_password(lake, settings, capsys):
    call_command("db_init")
    settings.WAREHOUSE_URL = lake.url + " password=hunter2"
    call_command("db_info")
    out = capsys.readouterr().out
    assert "warehouse: lake DuckLake catalog ducklake:postgres:dbname=" in out
    assert f"data path {lake.data_path}" in out
    assert "password=***" in out and "hunter2" not in out
    assert f"schema version {warehouse_schema.LATEST_VERSION}" in out


@pytest.mark.django_db(databases=["default", "warehouse"])
def test_lake_shim_stores_and_selectors(lake):
    warehouse_schema.migrate()
    first = _snapshot("AAA", DAY, n=4, mark=1.0)
    again = _snapshot("AAA", DAY, n=3, mark=2.0)  # replace: fewer rows, new values
    assert (first.inserted, again.updated, again.deleted) == (4, 3, 1)
    chain = selectors.snapshot_chains("AAA", [DAY])
    assert len(chain) == 3 and set(chain["mark"]) == {2.0}
    assert selectors.snapshot_dates("AAA") == [DAY]
    assert selectors.snapshot_header("AAA", DAY)["contracts"] == 3
    rows = pd.DataFrame({"symbol": ["AAA"], "date": [DAY], "spot": [100.0]})
    stores.derived_write(rows=rows, provider="test")
    stores.derived_write(rows=rows.assign(spot=101.0), provider="test")
    assert warehouse.fetch_all("SELECT spot FROM derived_daily") == [(101.0,)]
    with connections["warehouse"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM options_chain WHERE symbol = %s", ["AAA"])
        assert cursor.fetchone() == (3,)
        tables = connections["warehouse"].introspection.table_names(cursor)
    assert "options_chain" in tables and "schema_migrations" in tables


def test_lake_writer_failure_rolls_back(lake):
    warehouse_schema.migrate()
    with pytest.raises(RuntimeError):
        with warehouse.transaction(partitions=[("options_chain", "AAA")]) as con:
            con.execute(
                "INSERT INTO candles_daily (symbol, date, close, provider, updated_at) "
                "VALUES ('AAA', DATE '2024-01-02', 1.0, 'x', now())"
            )
            raise RuntimeError("boom")
    assert warehouse.fetch_all("SELECT count(*) FROM candles_daily") == [(0,)]


def test_conflicts_are_retried_then_reported_in_one_line(lake):
    calls = []
    with pytest.raises(warehouse.WarehouseConflict, match="after 3 attempts"):
        for attempt in warehouse.attempts(tries=3, base_delay_s=0.001):
            with attempt:
                calls.append(1)
                raise duckdb.TransactionException("Transaction conflict: concurrent delete")
    assert len(calls) == 3
    with pytest.raises(ValueError):  # anything but a conflict is not retried
        for attempt in warehouse.attempts(tries=3):
            with attempt:
                raise ValueError("not a conflict")


@pytest.mark.slow
def test_two_writers_and_a_reader_at_once_lose_nothing(lake, tmp_path):
    warehouse_schema.migrate()
    stop = tmp_path / "writers-done"
    reader_process = _start(lake, "reader", str(stop))
    writers = [
        _start(lake, "snapshot-writer", "AAA", "6", "1", "20"),
        _start(lake, "snapshot-writer", "BBB", "6", "1", "20"),
    ]
    try:
        writer_a, writer_b = _results(writers)
    finally:
        stop.touch()  # the reader has read all along the writes; now it may stop
    (reader,) = _results([reader_process])
    assert writer_a == {"writes": 6, "errors": []}
    assert writer_b == {"writes": 6, "errors": []}
    assert reader["errors"] == [] and reader["reads"] > 0
    counts = dict(warehouse.fetch_all("SELECT symbol, count(*) FROM options_chain GROUP BY 1"))
    assert counts == {"AAA": 120, "BBB": 120}
    assert warehouse.fetch_all("SELECT count(*) FROM options_snapshot_headers") == [(12,)]


@pytest.mark.slow
def test_same_partition_from_two_processes_ends_with_exactly_one_copy(lake):
    warehouse_schema.migrate()
    processes = [_start(lake, "snapshot-writer", "AAA", "2", "3", "15") for _ in range(2)]
    for result in _results(processes):
        assert result == {"writes": 6, "errors": []}
    rows = warehouse.fetch_all(
        "SELECT snapshot_date, count(*), count(DISTINCT contract_symbol), count(DISTINCT mark) "
        "FROM options_chain GROUP BY 1 ORDER BY 1"
    )
    assert rows == [(DAY, 15, 15, 1), (DAY + dt.timedelta(days=1), 15, 15, 1)]
    headers = warehouse.fetch_all(
        "SELECT snapshot_date, count(*) FROM options_snapshot_headers GROUP BY 1 ORDER BY 1"
    )
    assert headers == [(DAY, 1), (DAY + dt.timedelta(days=1), 1)]


def test_lake_housekeeping_merges_small_files(lake):
    warehouse_schema.migrate()
    for offset in range(4):
        _snapshot("AAA", DAY + dt.timedelta(days=offset), n=200)
    report = warehouse.lake_maintain(retention_days=0)
    assert report["chain_files_before"] >= 4
    assert report["chain_files_after"] < report["chain_files_before"]
    assert warehouse.fetch_all("SELECT count(*) FROM options_chain") == [(800,)]


def _newer_format_file(path) -> bytes:
    """A warehouse file whose header claims a storage version DuckDB 1.5 cannot read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(path)).close()
    data = bytearray(path.read_bytes())
    assert data[8:12] == b"DUCK"
    data[12:20] = (999).to_bytes(8, "little")
    # DuckDB's header checksum (storage/checksum.cpp): XOR of each 64-bit word times a constant.
    checksum = 5381
    for (word,) in struct.iter_unpack("<Q", bytes(data[8:4096])):
        checksum ^= (word * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    data[0:8] = struct.pack("<Q", checksum)
    path.write_bytes(bytes(data))
    return hashlib.sha256(bytes(data)).digest()


@pytest.mark.django_db
def test_a_file_from_a_newer_duckdb_gets_one_line_with_the_way_out(isolated_data_dir, capsys):
    path = warehouse.warehouse_path()
    digest = _newer_format_file(path)
    with pytest.raises(SystemExit) as exited:
        call_command("db_info")
    assert exited.value.code == 1
    captured = capsys.readouterr()
    line = next(x for x in (captured.out + captured.err).splitlines() if "newer DuckDB" in x)
    assert "run_daily --from" in line and "Parquet" in line and "nothing was changed" in line
    with pytest.raises(Exception, match="newer DuckDB") as excinfo:
        call_command("db_init")
    assert "\n" not in str(excinfo.value)
    assert hashlib.sha256(path.read_bytes()).digest() == digest


@pytest.mark.django_db
def test_warehouse_import_copies_a_file_into_the_lake_once(warehouse_db, lake, settings):
    lake_url = settings.WAREHOUSE_URL
    settings.WAREHOUSE_URL = ""
    _snapshot("AAA", DAY, n=7)
    stores.derived_write(
        rows=pd.DataFrame({"symbol": ["AAA"], "date": [DAY], "spot": [100.0]}), provider="test"
    )
    from_file = warehouse_checksums()
    settings.WAREHOUSE_URL = lake_url
    call_command("db_init")
    call_command("warehouse_import", str(warehouse_db))
    assert warehouse_checksums() == from_file
    with pytest.raises(CommandError, match="already holds data .*--replace"):
        call_command("warehouse_import", str(warehouse_db))
    call_command("warehouse_import", str(warehouse_db), "--replace")
    assert warehouse_checksums() == from_file


def test_a_real_commit_conflict_is_retried_and_the_replace_lands_once(lake, monkeypatch):
    """After a merge AAA and BBB share one data file: a competing delete from it committed while a
    snapshot replace is in flight makes DuckLake refuse that commit; the store tries again."""
    warehouse_schema.migrate()
    _snapshot("AAA", DAY, n=200)
    _snapshot("BBB", DAY, n=200)
    warehouse.lake_maintain(retention_days=0)
    replace_partition = stores._snapshots_replace
    calls = []

    def with_a_competitor(con, *args):
        deleted = replace_partition(con, *args)
        calls.append(1)
        if len(calls) == 1:
            other = warehouse._lake_connection()
            try:
                other.execute("DELETE FROM options_chain WHERE symbol = 'BBB' AND strike >= 250")
            finally:
                other.close()
        return deleted

    monkeypatch.setattr(stores, "_snapshots_replace", with_a_competitor)
    _snapshot("AAA", DAY, n=150, mark=9.0)
    assert len(calls) == 2  # the first commit conflicted, the second landed
    counts = dict(
        warehouse.fetch_all(
            "SELECT symbol || mark::VARCHAR, count(*) FROM options_chain GROUP BY 1"
        )
    )
    assert counts == {"AAA9.0": 150, "BBB1.0": 150}
