"""Warehouse migrations, the DuckDB shim and the concurrency rules of SPEC §1.4."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import duckdb
import pytest
from django.core.management import call_command
from django.db import connections

from optionshelper import warehouse, warehouse_schema
from tests.support import start_worker


def _tables(path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        con.close()


def test_fresh_migration_creates_every_spec_table(isolated_data_dir):
    assert warehouse_schema.schema_version() is None
    applied = warehouse_schema.migrate()
    assert applied == [m.version for m in warehouse_schema.MIGRATIONS]
    tables = _tables(warehouse.warehouse_path())
    assert {
        "candles_daily",
        "option_contracts",
        "option_bars",
        "option_bars_meta",
        "options_snapshot_headers",
        "options_chain",
        "derived_daily",
        "schema_migrations",
    } <= tables
    assert warehouse_schema.schema_version() == warehouse_schema.LATEST_VERSION


def test_upgrade_from_an_older_version_keeps_data(isolated_data_dir):
    warehouse_schema.migrate(target=1)
    assert warehouse_schema.schema_version() == 1
    assert "derived_daily" not in _tables(warehouse.warehouse_path())
    with warehouse.transaction() as con:
        con.execute(
            "INSERT INTO candles_daily (symbol, date, close, provider, updated_at) VALUES "
            "('AAPL', DATE '2024-01-02', 185.6, 'demo', now()), "
            "('AAPL', DATE '2024-01-03', 184.3, 'demo', now())"
        )
    assert warehouse_schema.migrate() == [2, 3, 4, 5]
    assert warehouse.fetch_all("SELECT symbol, date::VARCHAR, close FROM candles_daily") == [
        ("AAPL", "2024-01-02", 185.6),
        ("AAPL", "2024-01-03", 184.3),
    ]
    assert warehouse_schema.migrate() == []


def test_the_tables_keep_no_key_index_but_every_other_constraint(warehouse_db):
    assert warehouse.fetch_all("SELECT index_name FROM duckdb_indexes()") == []
    constraints = warehouse.fetch_all(
        "SELECT table_name, constraint_type FROM duckdb_constraints() "
        "WHERE constraint_type <> 'NOT NULL' ORDER BY 1"
    )
    assert constraints == [
        ("option_bars_meta", "CHECK"),
        ("options_chain", "CHECK"),
        ("schema_migrations", "PRIMARY KEY"),
    ]
    with pytest.raises(duckdb.ConstraintException), warehouse.transaction() as con:
        con.execute(
            "INSERT INTO option_contracts (contract_symbol, underlying, expiry, option_type, "
            "strike, provider, updated_at) VALUES (NULL, 'AAPL', DATE '2024-04-19', 'call', 150, "
            "'demo', now())"
        )


@pytest.mark.django_db
def test_db_init_is_safe_to_repeat(isolated_data_dir, capsys):
    call_command("db_init")
    first = capsys.readouterr().out
    call_command("db_init")
    second = capsys.readouterr().out
    assert "applied now: 1, 2, 3, 4, 5" in first
    assert "up to date" in second
    assert f"schema version {warehouse_schema.LATEST_VERSION}" in second
    assert "calendar     NYSE sessions 2000-01-03 to " in second
    assert [row[0] for row in warehouse_schema.applied_migrations()] == [1, 2, 3, 4, 5]


@pytest.mark.django_db
def test_db_info_creates_nothing(isolated_data_dir, capsys):
    call_command("db_info")
    out = capsys.readouterr().out
    assert "does not exist" in out
    assert not warehouse.warehouse_path().exists()
    assert not warehouse.warehouse_path().parent.exists()


def test_reading_a_missing_warehouse_is_a_clear_error(isolated_data_dir):
    with pytest.raises(warehouse.WarehouseMissing, match="db_init"):
        warehouse.fetch_all("SELECT 1")
    assert not warehouse.warehouse_path().exists()


def test_a_foreign_file_or_directory_is_unreadable_and_gets_no_lock_files(isolated_data_dir):
    path = warehouse.warehouse_path()
    path.parent.mkdir(parents=True)
    path.write_text("root:x:0:0:root:/root:/bin/bash\n")  # e.g. a mistyped path
    with pytest.raises(warehouse.WarehouseUnreadable, match="not a DuckDB file"):
        warehouse.fetch_all("SELECT 1")
    path.unlink()
    path.mkdir()
    with pytest.raises(warehouse.WarehouseUnreadable, match="it is a directory"):
        warehouse.fetch_all("SELECT 1")
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no .lock, .turnstile


def test_a_directory_where_no_lock_file_can_be_made_is_one_line(warehouse_db, monkeypatch):
    real_open = warehouse.os.open

    def refuse_lock_files(name, *args, **kwargs):
        if str(name).endswith((".lock", ".turnstile")):
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(warehouse.os, "open", refuse_lock_files)
    with pytest.raises(warehouse.WarehouseUnreadable) as info:
        warehouse.fetch_all("SELECT 1")
    message = str(info.value)
    assert "cannot create its lock file" in message and "Permission denied" in message
    assert "\n" not in message


@pytest.mark.django_db(databases=["default", "warehouse"])
def test_shim_gives_cursors_and_introspection(warehouse_db):
    conn = connections["warehouse"]
    with conn.cursor() as cursor:
        cursor.execute("SELECT %s + 1, 'a%%b'", [41])
        assert cursor.fetchone() == (42, "a%b")
    with conn.cursor() as cursor:
        tables = {t.name for t in conn.introspection.get_table_list(cursor)}
        columns = [c.name for c in conn.introspection.get_table_description(cursor, "candles_daily")]
    assert "options_chain" in tables
    assert columns[:3] == ["symbol", "date", "open"]


def test_reader_times_out_with_warehouse_busy_while_a_writer_holds_the_lock(warehouse_db):
    entered, release = threading.Event(), threading.Event()

    def hold_writer():
        with warehouse.write():
            entered.set()
            release.wait(300)  # set in the finally below: a ceiling, not a duration

    holder = threading.Thread(target=hold_writer)
    holder.start()
    try:
        assert entered.wait(60)
        with pytest.raises(warehouse.WarehouseBusy, match="warehouse busy"):
            with warehouse.read(timeout_s=0.3):
                pass
    finally:
        release.set()
        holder.join()
    with warehouse.read(timeout_s=1) as con:  # free again
        assert con.execute("SELECT 1").fetchone() == (1,)


def _open_elsewhere(path, *, read_only: bool) -> str:
    """Open the file from another process, as a CLI or another job would: "ok" or DuckDB's error."""
    code = (
        "import duckdb, sys\n"
        "try:\n"
        f"    duckdb.connect({str(path)!r}, read_only={read_only}).close()\n"
        "    print('ok')\n"
        "except duckdb.Error as exc:\n"
        "    print(str(exc).splitlines()[0])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def test_the_file_is_held_only_inside_an_access_and_a_write_lands_on_exit(warehouse_db):
    with warehouse.write() as con:
        con.execute(
            "INSERT INTO candles_daily (symbol, date, close, provider, updated_at) "
            "VALUES ('X', DATE '2024-01-02', 1, 'demo', now())"
        )
        assert "Could not set lock" in _open_elsewhere(warehouse_db, read_only=True)
    assert not warehouse_db.with_name(warehouse_db.name + ".wal").exists()  # checkpointed
    assert _open_elsewhere(warehouse_db, read_only=False) == "ok"
    with warehouse.read() as con:
        assert con.execute("SELECT count(*) FROM candles_daily").fetchone() == (1,)
        assert "Could not set lock" in _open_elsewhere(warehouse_db, read_only=False)
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
        assert spill == f"{warehouse_db}.tmp"  # where a file connection spills, not the cwd
    assert _open_elsewhere(warehouse_db, read_only=False) == "ok"


def test_readers_on_several_threads_share_the_attached_file(warehouse_db):
    both_inside, results = threading.Barrier(2, timeout=30), []

    def read():
        with warehouse.read() as con:
            both_inside.wait()
            results.append(con.execute("SELECT count(*) FROM candles_daily").fetchone())
            both_inside.wait()

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [(0,), (0,)]
    assert warehouse._file.attached is None and warehouse._file.users == 0
    with warehouse.write() as con:  # and the writer attaches it afresh, read-write
        con.execute("CREATE TABLE scratch AS SELECT 1 AS x")


def test_transaction_rolls_back_on_error(warehouse_db):
    with pytest.raises(RuntimeError):
        with warehouse.transaction() as con:
            con.execute(
                "INSERT INTO candles_daily (symbol, date, close, provider, updated_at) "
                "VALUES ('X', DATE '2024-01-02', 1, 'demo', now())"
            )
            raise RuntimeError("boom")
    assert warehouse.fetch_all("SELECT count(*) FROM candles_daily") == [(0,)]


@pytest.mark.slow
def test_concurrent_writers_and_a_reader_see_no_lock_errors(warehouse_db, tmp_path):
    """Two writer processes loop short transactions while a third reads through the shim all along
    (until the writers are done, however fast or slow the machine)."""
    stop = tmp_path / "writers-done"
    reader = start_worker("warehouse-reader", str(stop))
    writers = [start_worker("warehouse-writer", name, "150") for name in ("AAA", "BBB")]
    results = {}
    try:
        for name, proc in zip(("a", "b"), writers, strict=True):
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err
            results[name] = json.loads(out.strip().splitlines()[-1])
    finally:
        stop.touch()
        for proc in writers:
            if proc.poll() is None:
                proc.kill()
    out, err = reader.communicate(timeout=240)
    assert reader.returncode == 0, err
    results["reader"] = json.loads(out.strip().splitlines()[-1])
    assert results["reader"]["errors"] == []
    assert results["reader"]["reads"] > 0 and results["reader"]["last_count"] == 300
    assert results["a"] == {"writes": 150, "errors": []}
    assert results["b"] == {"writes": 150, "errors": []}
    assert warehouse.fetch_all("SELECT count(*) FROM candles_daily") == [(300,)]
