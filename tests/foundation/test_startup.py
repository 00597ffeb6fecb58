"""Fast start: the settings, the app registry (with admin autodiscovery) and the URLconf load
without the heavy libraries; commands that need them import them when they run (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("pandas", "scipy", "pyarrow", "exchange_calendars", "duckdb")
ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import django
django.setup()
from django.core import checks
from django.urls import get_resolver
get_resolver().url_patterns
checks.run_checks()
print(",".join(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _env(tmp_path: Path, *, embedded: bool = False) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "optionshelper.settings",
        "OPTIONS_HELPER_DATA_DIR": str(tmp_path),
    }
    if embedded:  # the default install: SQLite, no Redis
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
    return env


def _python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


_LOADED = "print('loaded:', ','.join(m for m in {names!r} if m in sys.modules))"


def test_settings_apps_and_urls_load_without_heavy_libraries(tmp_path):
    done = _python(["-c", SCRIPT.format(heavy=HEAVY)], _env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at start-up: {done.stdout.strip()}"


def _command_then_loaded(args: list[str], names: tuple[str, ...]) -> str:
    """Python code running ``manage.py <args>`` in-process, then printing which ``names`` it loaded."""
    return (
        "import sys; from django.core.management import execute_from_command_line\n"
        f"execute_from_command_line({['manage.py', *args]!r})\n" + _LOADED.format(names=names)
    )


def test_db_info_on_sqlite_imports_neither_the_postgresql_driver_nor_the_tables(tmp_path):
    """``db_info`` (no system checks) on the embedded default: psycopg only where PostgreSQL is."""
    code = _command_then_loaded(["db_info"], ("psycopg", "django_tables2", "pandas"))
    done = _python(["-c", code], _env(tmp_path, embedded=True))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "loaded:", done.stdout


def test_db_health_report_loads_no_dataframe_library(tmp_path):
    """``db_health --json`` over a migrated metadata DB reads plain values: no pandas, numpy or
    pyarrow (they cost more than the report itself) once the calendar is cached on disk (the
    first command of a data dir builds it with exchange-calendars)."""
    env = _env(tmp_path, embedded=True)
    for command in (["migrate", "-v", "0"], ["db_health", "--json"]):
        warm = _python(["manage.py", *command], env)
        assert warm.returncode == 0, warm.stderr
    done = _python(
        ["-c", _command_then_loaded(["db_health", "--json"], ("pandas", "numpy", "pyarrow"))], env
    )
    assert '"meta_tables_present": true' in done.stdout, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "loaded:", done.stdout
