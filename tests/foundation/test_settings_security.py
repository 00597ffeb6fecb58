"""Safe defaults: DEBUG only on request, a missing secret key stops start-up with one line, and
``check --deploy`` is clean with production variables (settings imported in clean child processes)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python *args`` with a clean environment: no .env, no inherited DJANGO_* variables."""
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO_ROOT),
        "OPTIONS_HELPER_ENV_FILE": str(tmp_path / "no.env"),
        "OPTIONS_HELPER_DATA_DIR": str(tmp_path / "data"),
        "DJANGO_SETTINGS_MODULE": "optionshelper.settings",
        **env,
    }
    return subprocess.run(
        [sys.executable, *args],
        env=clean,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _debug(tmp_path: Path, **env: str) -> str:
    code = "import optionshelper.settings as s; print(s.DEBUG)"
    result = _run(tmp_path, "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_is_off_unless_asked_for(tmp_path):
    key = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    assert _debug(tmp_path, **key) == "False"
    assert _debug(tmp_path, DJANGO_DEBUG="", **key) == "False"
    assert _debug(tmp_path, DJANGO_DEBUG="0", **key) == "False"
    assert _debug(tmp_path, DJANGO_DEBUG="1") == "True"  # development needs no key


def test_env_file_is_read(tmp_path):
    env_file = tmp_path / "dev.env"
    env_file.write_text("DJANGO_DEBUG=1\n")
    assert _debug(tmp_path, OPTIONS_HELPER_ENV_FILE=str(env_file)) == "True"


@pytest.mark.parametrize("args", [["manage.py", "check"], ["-c", "import optionshelper.settings"]])
def test_missing_secret_key_without_debug_is_one_line(tmp_path, args):
    result = _run(tmp_path, *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("configuration error: DJANGO_SECRET_KEY is not set")
    assert result.returncode == 2  # like every other bad setting


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    result = _run(
        tmp_path,
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="options.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPTIONS_HELPER_PROXY_COUNT", "x"),
        ("OPTIONS_HELPER_PAGE_CACHE_TIMEOUT", "-1"),
        ("OPTIONS_HELPER_LOGIN_FAILURES", "many"),
        ("OPTIONS_HELPER_WAREHOUSE_URL", "garbage://x"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(tmp_path, name, value):
    result = _run(tmp_path, "manage.py", "check", DJANGO_DEBUG="1", **{name: value})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"configuration error: {name} ")


def test_redis_url_without_the_redis_package_is_a_configuration_error(monkeypatch):
    import importlib
    import importlib.util

    from django.core.exceptions import ImproperlyConfigured

    import optionshelper.settings as module

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "redis" else real_find_spec(name, *a),
    )
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        with pytest.raises(ImproperlyConfigured, match="redis package is not installed"):
            importlib.reload(module)
    finally:
        monkeypatch.undo()
        importlib.reload(module)
