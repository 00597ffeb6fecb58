"""Issue 14, finding 2: a corrupt or missing warehouse is degraded, and pages say so (no 500)."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from apps.ledger.selectors import health
from tests.health.factories import make_watermark


def _db_health(*args: str) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command("db_health", *args, stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return out.getvalue(), code


@pytest.fixture
def produced(warehouse_db):
    day = health.expected_market_date("candles_daily", now=timezone.now())
    make_watermark("candles_daily", "AAPL", day)
    return warehouse_db


def _corrupt(path) -> None:
    path.write_bytes(b"this is not a duckdb file" * 400)


@pytest.mark.django_db
@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_damaged_warehouse_is_degraded_in_db_health(produced, damage):
    _, code = _db_health("--fail-on", "degraded")
    assert code == 0
    if damage == "corrupt":
        _corrupt(produced)
    else:
        produced.unlink()
    text, code = _db_health("--fail-on", "degraded")
    assert code == 1
    assert "Overall health: degraded" in text
    assert ("warehouse unreadable" if damage == "corrupt" else "warehouse not found") in text
    report = json.loads(_db_health("--json")[0])
    assert report["overall"] == "degraded"
    assert "Traceback" not in text


@pytest.mark.django_db
def test_fresh_install_without_warehouse_is_unknown_not_degraded(isolated_data_dir):
    report = json.loads(_db_health("--json")[0])
    assert report["overall"] == "unknown"


@pytest.mark.django_db(databases=["default", "warehouse"])
def test_status_json_503_and_pages_show_an_error_page(produced, client):
    user = get_user_model().objects.create_user("u", password="p")
    client.force_login(user)
    assert client.get("/health/status.json").status_code == 200
    _corrupt(produced)
    response = client.get("/health/status.json")
    assert response.status_code == 503
    assert response.json()["overall"] == "degraded"
    for url in ("/portfolio/", "/symbols/?symbol=AAPL", "/derived/", "/data/", "/health/"):
        page = client.get(url)
        assert page.status_code in (200, 503), (url, page.status_code)
        if page.status_code == 503:
            assert b"Warehouse unreadable" in page.content or b"busy" in page.content, url


@pytest.mark.django_db
def test_a_warehouse_file_replaced_after_a_healthy_read_is_read_again(produced):
    """Health remembers a file's schema version only while the file is unchanged."""
    import duckdb

    _, code = _db_health("--fail-on", "degraded")
    assert code == 0
    other = produced.with_name("other.duckdb")
    duckdb.connect(str(other)).close()  # a valid DuckDB file without our schema
    other.replace(produced)
    text, code = _db_health("--fail-on", "degraded")
    assert code == 1 and "warehouse has no schema" in text, text
