"""A throw-away DuckLake warehouse for tests: a fresh PostgreSQL catalog DB and a temp data path.

Skips with a reason when PostgreSQL is not reachable or the ``lake`` extra is not installed. The
catalog DB is named after the test metadata DB (``<name>_lake_<pid>_<n>``) and dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from optionshelper import warehouse

_counter = itertools.count()
PG_SERVER = os.environ.get("OPTIONS_HELPER_TEST_LAKE_PG", "host=127.0.0.1 port=5432 user=postgres")


@dataclass
class Lake:
    url: str
    data_path: Path
    dbname: str

    def env(self) -> dict[str, str]:
        return {
            "OPTIONS_HELPER_WAREHOUSE_URL": self.url,
            "OPTIONS_HELPER_LAKE_DATA_PATH": str(self.data_path),
        }


def _base_name() -> str:
    url = os.environ.get("DATABASE_URL", "")
    name = url.rsplit("/", 1)[-1].split("?")[0] if url.startswith("postgres") else "oh_test"
    return f"{name or 'oh_test'}_lake"


def lake_unavailable() -> str:
    """Why lake tests cannot run here ("" when they can)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        warehouse.lake_extension_files()
    except warehouse.WarehouseError as exc:
        return str(exc)
    try:
        with psycopg.connect(f"{PG_SERVER} dbname=postgres", connect_timeout=3):
            pass
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable for a lake catalog: {str(exc).splitlines()[0]}"
    return ""


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER} dbname=postgres", autocommit=True) as pg:
        pg.execute(sql)


@pytest.fixture
def lake(settings, tmp_path) -> Iterator[Lake]:
    """Switch this test's warehouse to a fresh, migrated-on-demand DuckLake."""
    reason = lake_unavailable()
    if reason:
        pytest.skip(reason)
    dbname = f"{_base_name()}_{os.getpid()}_{next(_counter)}"
    _admin(f'DROP DATABASE IF EXISTS "{dbname}"')
    _admin(f'CREATE DATABASE "{dbname}"')
    data_path = tmp_path / "lake"
    url = f"ducklake:postgres:dbname={dbname} {PG_SERVER}"
    try:
        warehouse.reset_lake_connections()
        settings.WAREHOUSE_URL = url
        settings.LAKE_DATA_PATH = str(data_path)
        yield Lake(url=url, data_path=data_path, dbname=dbname)
    finally:
        warehouse.reset_lake_connections()
        _admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
