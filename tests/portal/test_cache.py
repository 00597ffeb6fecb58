"""Page view models cached per data generation: never stale, and a hit does not touch the warehouse."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import caches

from apps.core import registry
from apps.ledger.models import IngestionRun
from apps.ledger.services.runs import job_run
from optionshelper import generation, warehouse

pytestmark = [
    pytest.mark.django_db(databases=["default", "warehouse"]),
    pytest.mark.usefixtures("empty_page_cache"),
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def connects(monkeypatch):
    """Counts the warehouse connections the door opens (each attaches the file afresh)."""
    opened: list[str] = []
    real = warehouse._connect

    def counting(path, **kwargs):
        opened.append(str(path))
        return real(path, **kwargs)

    monkeypatch.setattr(warehouse, "_connect", counting)
    return opened


def _as_of(body: str) -> str:
    """The date of the page's "Data as of" line (rendered as ``<time datetime="...">``)."""
    shown = body.split("Data as of <strong>", 1)[1].split("</strong>", 1)[0]
    return shown.split('datetime="', 1)[1].split('"', 1)[0] if 'datetime="' in shown else shown


def test_warehouse_write_shows_on_next_request(logged_in, portal_data):
    url = "/symbols/?symbol=AAA"
    before = logged_in.get(url).content.decode()
    assert _as_of(before) == f"{portal_data['days'][-1]:%Y-%m-%d}"
    assert _as_of(logged_in.get(url).content.decode()) == _as_of(before)  # a cache hit
    newer = portal_data["days"][-1] + dt.timedelta(days=3)
    with warehouse.write() as connection:
        connection.execute(
            "INSERT INTO candles_daily (symbol, date, open, high, low, close, volume, provider,"
            " updated_at) VALUES ('AAA', ?, 1, 2, 0.5, 1.5, 10, 'demo', now())",
            [newer],
        )
    assert _as_of(logged_in.get(url).content.decode()) == f"{newer:%Y-%m-%d}"


def test_new_run_shows_on_next_request(logged_in, portal_data):
    job = registry.JOB_NAMES[0]
    assert "cache-test-boom" not in logged_in.get("/health/").content.decode()
    with pytest.raises(RuntimeError), job_run(job_name=job, as_of=portal_data["days"][-1]):
        raise RuntimeError("cache-test-boom")
    assert IngestionRun.objects.filter(error_message__contains="cache-test-boom").exists()
    assert "cache-test-boom" in logged_in.get("/health/").content.decode()


def test_bulk_update_without_signals_moves_the_generation(portal_data):
    before = generation.current()
    IngestionRun.objects.filter(status="success").update(error_message="x")
    assert generation.current() > before


def test_cache_hit_skips_the_warehouse(logged_in, portal_data, connects):
    for url in ["/symbols/?symbol=BBB", "/derived/?symbol=AAA&days=90", "/portfolio/", "/data/"]:
        assert logged_in.get(url).status_code == 200
        cold = len(connects)
        assert cold >= 1, url
        assert logged_in.get(url).status_code == 200
        assert len(connects) == cold, f"{url} read the warehouse on a cache hit"
        connects.clear()


def test_view_model_reads_share_one_connection(logged_in, portal_data, connects):
    logged_in.get("/symbols/?symbol=BBB")  # known symbols + the symbol's model: two view models
    assert len(connects) == 2
    connects.clear()
    logged_in.get("/data/")  # every table's description and count
    assert len(connects) == 1
    connects.clear()
    logged_in.get("/data/?table=warehouse.candles_daily&sort=-date&page=2")
    assert len(connects) == 3  # the description (one for its queries), the count, the page


def test_generation_in_the_footer(logged_in, portal_data):
    body = logged_in.get("/health/").content.decode()
    footer = body.split('<footer class="footer">', 1)[1].split("</footer>", 1)[0]
    assert f"generation {generation.current()}" in footer
    assert "Data as of" in footer


def test_counter_is_shared_across_processes(settings):
    if generation._shared():
        pytest.skip("the file counter is used only without a shared cache")
    before = generation.current()
    env = {
        **os.environ,
        "OPTIONS_HELPER_DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SETTINGS_MODULE": "optionshelper.settings",
    }
    env.pop("REDIS_URL", None)
    code = "import django; django.setup(); from optionshelper import generation; generation.bump()"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)
    assert generation.current() == before + 1


def test_view_models_are_shared_by_the_processes_of_a_host(settings):
    """Without Redis the page cache is files: a model built in one process is a hit in another."""
    if generation._shared():
        pytest.skip("Redis holds the page cache: shared by construction")
    value, built_at = generation.cached("shared", ("x",), lambda: {"built": "here"})
    env = {
        **os.environ,
        "OPTIONS_HELPER_DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SETTINGS_MODULE": "optionshelper.settings_test",
    }
    env.pop("REDIS_URL", None)
    code = (
        "import django; django.setup(); from optionshelper import generation\n"
        "def fail(): raise SystemExit('built again in the second process')\n"
        "value, at = generation.cached('shared', ('x',), fail); print(value['built'], at)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120,
        capture_output=True, text=True,
    ).stdout.split()
    assert out == ["here", str(built_at)] and value == {"built": "here"}


def test_pages_built_by_other_code_are_not_served(monkeypatch):
    """The cache outlives a restart: after an upgrade the new code renders the page."""
    first, _ = generation.cached("upgrade", ("x",), lambda: "built by the old code")
    monkeypatch.setattr(generation, "code_version", lambda: "upgraded-code")
    second, _ = generation.cached("upgrade", ("x",), lambda: "built by the new code")
    assert (first, second) == ("built by the old code", "built by the new code")


def test_the_code_fingerprint_moves_with_a_template_and_ignores_other_files(
    settings, tmp_path, monkeypatch
):
    template = tmp_path / "templates" / "portal" / "page.html"
    template.parent.mkdir(parents=True)
    template.write_text("<p>old</p>")
    (tmp_path / "static").mkdir()
    settings.BASE_DIR = tmp_path
    monkeypatch.setattr(generation, "_LOADED_AT_NS", time.time_ns() + 3600 * 10**9)
    try:
        generation.code_version.cache_clear()
        before = generation.code_version()
        (tmp_path / "static" / "notes.txt").write_text("not code")
        generation.code_version.cache_clear()
        assert generation.code_version() == before
        template.write_text("<p>new</p>")
        os.utime(template, ns=(template.stat().st_atime_ns, template.stat().st_mtime_ns + 10**9))
        generation.code_version.cache_clear()
        assert generation.code_version() != before
        # A file newer than this process's code (a deploy under way): its pages are its own.
        monkeypatch.setattr(generation, "_LOADED_AT_NS", template.stat().st_mtime_ns - 1)
        generation.code_version.cache_clear()
        assert generation.code_version().startswith(f"process-{os.getpid()}-")
    finally:
        generation.code_version.cache_clear()


def test_lost_counter_restarts_above_old_values(settings):
    old = generation.bump()
    if generation._shared():
        caches[generation.CACHE_ALIAS].delete(generation.COUNTER_KEY)
    else:
        (Path(settings.DATA_DIR) / "generation").unlink()
    assert generation.current() > old


def test_a_page_rendered_once_is_shared_with_each_users_own_header(django_user_model, portal_data):
    """One render per URL and staff flag: every user gets their own name and a working CSRF token,
    and only staff get the admin link."""
    from django.test import Client

    bodies = {}
    for name, staff in (("alice", False), ("bob", False), ("carol", True)):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(
            django_user_model.objects.create_user(name, password="pw-12345678", is_staff=staff)
        )
        browser.get("/")  # the first response sets the CSRF cookie
        body = browser.get("/derived/?symbol=AAA").content.decode()
        assert f">{name}<" in body and "portal:userbox" not in body
        assert ("/admin/" in body) is staff
        bodies[name] = body
        token = body.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
        assert browser.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    # alice's and bob's pages differ only in the user box (the same cached render)
    def body_of(html: str) -> str:
        return html.split('<div class="asof">', 1)[1]

    assert body_of(bodies["alice"]) == body_of(bodies["bob"])


def test_rendered_page_is_per_user_and_never_an_export(client, django_user_model, portal_data):
    for name in ("alice", "bob"):
        client.force_login(django_user_model.objects.create_user(name, password="pw-12345678"))
        for _ in range(2):  # the second view is a cache hit
            assert f">{name}<" in client.get("/portfolio/").content.decode()
        exported = client.get("/portfolio/?_export=csv&_table=positions")
        assert exported["Content-Type"].startswith("text/csv")
