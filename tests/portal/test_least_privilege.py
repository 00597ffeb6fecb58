"""Least privilege on the portal: the Data Explorer allow-list, bounded pages, streamed CSV,
status.json without paths, and login throttling (SPEC §11)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from apps.portal.selectors import catalog
from apps.portal.views._common import MAX_PER_PAGE
from optionshelper import warehouse

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

NEVER_SERVED = [
    "auth_user",
    "auth_group",
    "auth_permission",
    "auth_user_user_permissions",
    "django_admin_log",
    "django_session",
    "django_content_type",
    "django_migrations",
    "django_q_task",
    "django_q_ormq",
    "django_q_schedule",
    "optionshelper_cache",
    "axes_accessattempt",
]
PRODUCT_TABLES = [
    "ledger_ingestionrun",
    "ledger_assetwatermark",
    "analytics_optionsflow",
    "analytics_dashboardview",
    "portfolio_position",
    "portfolio_watchlist",
]


def csv_rows(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture(params=["viewer", "staff", "superuser"])
def anyone(request, client, django_user_model):
    """A logged-in client as an ordinary user, a staff user and a superuser."""
    flags = {
        "viewer": {},
        "staff": {"is_staff": True},
        "superuser": {"is_staff": True, "is_superuser": True},
    }[request.param]
    user = django_user_model.objects.create_user(request.param, password="pw-x-123456", **flags)
    client.force_login(user)
    return client


def test_internal_tables_are_never_served(anyone, portal_data):
    for table in NEVER_SERVED:
        assert anyone.get("/data/", {"table": f"meta.{table}"}).status_code == 404, table
        csv_export = anyone.get("/data/", {"table": f"meta.{table}", "_export": "csv"})
        assert csv_export.status_code == 404, table


def test_catalog_lists_only_product_tables(anyone, portal_data):
    body = anyone.get("/data/").content.decode()
    listed = {t.name for t in catalog.meta_tables(with_counts=False)}
    assert set(PRODUCT_TABLES) <= listed
    assert all(t.split("_")[0] in {"ledger", "analytics", "portfolio"} for t in listed)
    for table in NEVER_SERVED:
        assert table not in listed and f"meta.{table}" not in body
    for table in PRODUCT_TABLES:
        assert anyone.get("/data/", {"table": f"meta.{table}"}).status_code == 200


def test_sensitive_columns_are_left_out_of_page_and_csv(logged_in, portal_data, monkeypatch):
    monkeypatch.setattr(
        catalog, "SENSITIVE_COLUMNS", {"meta.ledger_ingestionrun": frozenset({"hostname"})}
    )
    page = logged_in.get("/data/?table=meta.ledger_ingestionrun")
    assert "hostname" not in page.context["table"].column_names
    header = csv_rows(logged_in.get("/data/?table=meta.ledger_ingestionrun&_export=csv"))[0]
    assert "hostname" not in header and "job_name" in header
    monkeypatch.setattr(catalog, "SENSITIVE_COLUMNS", {"warehouse.candles_daily": {"close"}})
    header = csv_rows(logged_in.get("/data/?table=warehouse.candles_daily&_export=csv"))[0]
    assert "close" not in header and "symbol" in header


# --- bounded pages --------------------------------------------------------------------------------

BAD_PER_PAGE = ["-1", "0", "abc", "1.5", "1e3", " -5", "10; drop"]
TABLE_PAGES = [
    ("/data/?table=warehouse.options_chain", "per_page"),
    ("/data/?table=meta.ledger_ingestionrun", "per_page"),
    ("/portfolio/", "per_page"),
    ("/health/", "freshness-per_page"),
    ("/health/", "runs-per_page"),
    ("/health/", "checks-per_page"),
    ("/flow/?symbol=AAA", "per_page"),
    ("/derived/?symbol=AAA", "per_page"),
]


def _with(url: str, param: str, value: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{param}={value}"


def test_nonsense_per_page_is_400(logged_in, portal_data):
    for url, param in TABLE_PAGES:
        for value in BAD_PER_PAGE:
            response = logged_in.get(_with(url, param, value))
            assert response.status_code == 400, (url, param, value)
            assert "must be a whole number" in response.content.decode()


def test_huge_per_page_is_clamped(logged_in, portal_data):
    for url, param in TABLE_PAGES:
        response = logged_in.get(_with(url, param, str(10**9)))
        assert response.status_code == 200, url
        context = response.context
        tables = [context[k] for k in context.keys() if hasattr(context[k], "paginator")]
        assert tables, url
        for table in tables:
            assert table.paginator.per_page <= MAX_PER_PAGE
            assert len(table.page.object_list) <= MAX_PER_PAGE


def test_huge_per_page_shows_the_cap(logged_in, portal_data):
    total = warehouse.fetch_all("SELECT count(*) FROM options_chain")[0][0]
    assert total > MAX_PER_PAGE  # the seed has more rows than one page may show
    response = logged_in.get(f"/data/?table=warehouse.options_chain&per_page={10**9}")
    preview = response.context["preview"]
    assert preview.paginator.per_page == MAX_PER_PAGE
    assert len(preview.page.object_list) == MAX_PER_PAGE
    # A page past the end shows the last page.
    last = logged_in.get(f"/data/?table=warehouse.options_chain&per_page={10**9}&page=99")
    assert len(last.context["preview"].page.object_list) == total - MAX_PER_PAGE
    assert logged_in.get("/data/?table=warehouse.options_chain&page=-2").status_code == 400


# --- streamed CSV ---------------------------------------------------------------------------------


def test_warehouse_csv_streams_every_row_in_order(logged_in, portal_data, monkeypatch):
    monkeypatch.setattr(catalog, "EXPORT_BATCH_ROWS", 7)  # many batches over the seeded chain
    monkeypatch.setattr("apps.portal.tables.CSV_CHUNK_ROWS", 11)
    total = warehouse.fetch_all("SELECT count(*) FROM options_chain")[0][0]
    response = logged_in.get("/data/?table=warehouse.options_chain&sort=-strike&_export=csv")
    assert response["Content-Disposition"] == (
        'attachment; filename="warehouse.options_chain-preview.csv"'
    )
    rows = csv_rows(response)
    header, body = rows[0], rows[1:]
    assert len(body) == total > 7
    strikes = [float(r[header.index("strike")]) for r in body]
    assert strikes == sorted(strikes, reverse=True)


def test_meta_csv_streams_every_row(logged_in, portal_data):
    from apps.ledger.models import IngestionRun

    response = logged_in.get("/data/?table=meta.ledger_ingestionrun&_export=csv")
    rows = csv_rows(response)
    assert len(rows) - 1 == IngestionRun.objects.count() > 0
    args = [json.loads(row[rows[0].index("args")]) for row in rows[1:]]  # JSON, not a repr
    assert all(isinstance(value, dict) for value in args)


def test_csv_cells_are_written_as_the_warehouse_writes_them():
    from apps.portal.tables import csv_value, records_csv_chunks

    assert csv_value(4.800000000000001) == "4.8" and csv_value(6622.0) == "6622"
    assert csv_value(-571.9999999999999) == "-572" and csv_value(float("nan")) == ""
    assert csv_value({"schema_version": 2, "ok": None}) == '{"schema_version": 2, "ok": null}'
    assert csv_value(None) == "" and csv_value("x") == "x"
    assert "".join(records_csv_chunks(["a"], [[1.5]])) == "a\n1.5\n"


def test_export_page_says_every_row(logged_in, portal_data):
    body = logged_in.get("/data/?table=warehouse.options_chain").content.decode()
    assert "Download CSV (every row)" in body


# --- status.json ----------------------------------------------------------------------------------


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def test_status_json_names_no_server_paths(logged_in, portal_data, settings):
    response = logged_in.get("/health/status.json")
    report = json.loads(response.content)
    assert report["warehouse"]["path"] == "options.duckdb"
    text = response.content.decode()
    assert str(settings.DATA_DIR) not in text and str(settings.BASE_DIR) not in text
    assert not [s for s in _strings(report) if s.startswith("/")]


# --- login throttling -----------------------------------------------------------------------------


def test_repeated_bad_logins_are_throttled(client, user, settings):
    login = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(login, {"username": "viewer", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    locked = client.post(login, {"username": "viewer", "password": "wrong"})
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many failed logins" in page and "paused for 15 minutes" in page
    assert "Not financial advice" in page  # the portal's layout, not a bare line
    # Locked out: even the right password is refused for this user from this address ...
    right = client.post(login, {"username": "viewer", "password": "pw-viewer-123"})
    assert right.status_code == 429 and "_auth_user_id" not in client.session
    # ... while the same user from another address still gets in.
    elsewhere = client.post(
        login, {"username": "viewer", "password": "pw-viewer-123"}, REMOTE_ADDR="10.9.8.7"
    )
    assert elsewhere.status_code == 302


def test_lockouts_are_visible_in_the_admin(client, admin_client, user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "viewer", "password": "wrong"})
    page = admin_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert page.status_code == 200 and "viewer" in page.content.decode()


def test_a_good_login_resets_the_count(client, user, settings):
    login = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(login, {"username": "viewer", "password": "wrong"})
    assert (
        client.post(login, {"username": "viewer", "password": "pw-viewer-123"}).status_code == 302
    )
    client.post(reverse("logout"))
    assert client.post(login, {"username": "viewer", "password": "wrong"}).status_code == 200


def test_client_ip_behind_proxies(rf, settings):
    from optionshelper.auth import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 1.2.3.4", REMOTE_ADDR="10.0.0.1")
    settings.PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.1"  # no proxy: the header is ignored (it can be forged)
    settings.PROXY_COUNT = 1
    assert client_ip(request) == "1.2.3.4"  # what the one proxy saw; the forged entry is skipped
    settings.PROXY_COUNT = 3
    assert client_ip(request) == "10.0.0.1"  # fewer entries than proxies: the direct peer
