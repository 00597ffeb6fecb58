"""Helpers for tests that start real processes against the test databases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connections

REPO_ROOT = Path(__file__).resolve().parents[1]
# The real vendor files (see their README); OPTIONS_HELPER_REALDATA_DIR points elsewhere.
REALDATA_ROOT = Path(
    os.environ.get("OPTIONS_HELPER_REALDATA_DIR") or REPO_ROOT.parent / "shared" / "realdata"
)
REALDATA_DIR = REALDATA_ROOT / "options"


def metadata_database_url() -> str:
    """A DATABASE_URL for the test metadata DB this test process is using."""
    db = connections["default"].settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db.get("USER") or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host = db.get("HOST") or "localhost"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="optionshelper.settings_test",
        DATABASE_URL=metadata_database_url(),
        OPTIONS_HELPER_DATA_DIR=str(settings.DATA_DIR),
        OPTIONS_HELPER_DUCKDB_PATH=connections["warehouse"].settings_dict["NAME"],
        PYTHONPATH=str(REPO_ROOT),
    )
    env.update(extra)
    return env


def start_worker(*args: str, **env: str) -> subprocess.Popen:
    """Start ``tests/workers.py`` with the given sub-command in a fresh Python process."""
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "tests" / "workers.py"), *args],
        env=child_env(**env),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def manage(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """Run ``manage.py`` in a child process against this test's databases."""
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "manage.py"), *args],
        env=child_env(**env),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
