"""Every test gets its own data directory and warehouse file; nothing touches ./data."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from django.db import connections

from apps.core import calendar
from optionshelper import warehouse_schema

pytest_plugins = ["tests.lake"]  # the ``lake`` fixture: a throw-away DuckLake warehouse
# The built NYSE calendar is shared by every test process through one file outside ./data.
calendar.CACHE_DIR = Path(tempfile.gettempdir()) / "optionshelper-test-cache"


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, settings):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings.DATA_DIR = data_dir
    settings.REPORTS_DIR = data_dir / "reports"
    warehouse_settings = connections["warehouse"].settings_dict
    previous = warehouse_settings["NAME"]
    warehouse_settings["NAME"] = str(data_dir / "warehouse" / "options.duckdb")
    yield data_dir
    warehouse_settings["NAME"] = previous


@pytest.fixture
def warehouse_db(isolated_data_dir):
    """A migrated, empty warehouse in this test's data directory."""
    warehouse_schema.migrate()
    return isolated_data_dir / "warehouse" / "options.duckdb"
