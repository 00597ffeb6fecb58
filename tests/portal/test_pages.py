"""Portal pages over a seeded dataset and over empty databases (offline, Django test client)."""

from __future__ import annotations

import csv
import io
import json
import threading

import pytest
from django.urls import reverse

from apps.portal import charts
from optionshelper import warehouse

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

PAGES = [
    "/",
    "/health/",
    "/portfolio/",
    "/symbols/",
    "/symbols/?symbol=BBB",
    "/flow/",
    "/flow/?symbol=AAA&group_by=strike&window=1",
    "/derived/",
    "/derived/?symbol=AAA&days=90",
    "/data/",
    "/data/?table=warehouse.candles_daily",
    "/data/?table=warehouse.options_chain&sort=-strike&page=2",
    "/data/?table=meta.ledger_ingestionrun&sort=-started_at",
    "/data/?table=meta.portfolio_watchlist",
]
DISCLAIMER = "Informational and educational only. Not financial advice."


def csv_text(response) -> str:
    """The body of a streamed CSV export."""
    return b"".join(response.streaming_content).decode()


@pytest.mark.parametrize("url", PAGES)
def test_pages_render_with_data(logged_in, portal_data, url):
    response = logged_in.get(url)
    assert response.status_code == 200, response.content[:500]
    body = response.content.decode()
    assert DISCLAIMER in body
    assert "Data as of" in body


@pytest.mark.parametrize("url", [*PAGES, "/health/status.json"])
def test_pages_need_login(client, url):
    response = client.get(url)
    if url.endswith(".json"):
        assert response.status_code == 401
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_login_page_and_logout(client, user):
    login_page = client.get("/accounts/login/")
    assert login_page.status_code == 200
    assert "Data as of" not in login_page.content.decode()  # nothing about the data before login
    response = client.post("/accounts/login/", {"username": "viewer", "password": "pw-viewer-123"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_dashboard_renders_payload_defensively(logged_in, portal_data):
    response = logged_in.get("/")
    body = response.content.decode()
    assert "AAA" in body and "ZZZ" in body  # the sparse row is shown with dashes
    overall = response.context["overall_health"]
    assert f'class="tile status-{overall}"' in body and f"<strong>{overall}</strong>" in body
    assert "IV history (sessions)" in body and "on fewer than 20 (IV history)" in body
    (bars,) = response.context["flow_chart"]["datasets"]  # net building green, unwinding red
    by_sign = {charts.GAIN_COLOR: set(), charts.LOSS_COLOR: set(), charts.FLAT_COLOR: set()}
    for value, color in zip(bars["data"], bars["color"], strict=True):
        by_sign[color].add("none" if value is None else "up" if value > 0 else "down")
    assert by_sign[charts.GAIN_COLOR] == {"up"} and by_sign[charts.LOSS_COLOR] == {"down"}
    assert by_sign[charts.FLAT_COLOR] <= {"none"}


def test_dashboard_health_is_read_live_not_from_the_stored_view(logged_in, portal_data):
    from apps.analytics.models import DashboardView

    view = DashboardView.objects.order_by("-market_date").first()
    stored = [{**row, "health": "healthy"} for row in view.payload["symbols"]]
    view.payload = {**view.payload, "overall_health": "healthy", "symbols": stored}
    view.save()
    live = logged_in.get("/health/").context["overall"]
    response = logged_in.get("/")
    assert live != "healthy" and response.context["overall_health"] == live
    assert {row.health for row in response.context["symbols"]} != {"healthy"}


def test_symbol_page_shows_snapshot_summary_and_charts(logged_in, portal_data):
    response = logged_in.get("/symbols/?symbol=AAA")
    body = response.content.decode()
    for chart_id in ("chart-candles", "chart-oi", "chart-smile", "chart-term"):
        assert f'id="{chart_id}"' in body
    assert "Max pain" in body and "NaN" not in body
    # the derived snippet counts the IV history over all stored sessions, not just those it shows
    assert ">IV history<" in body
    newest = max(response.context["derived_table"].data.data, key=lambda row: row["date"])
    ((prior,),) = warehouse.fetch_all(
        "SELECT count(*) FROM derived_daily WHERE symbol = 'AAA' AND date < ? "
        "AND isfinite(atm_iv_near)",
        [newest["date"]],
    )
    assert newest["iv_history"] == min(prior, 252) > 10


def test_flow_drilldown_and_gaps(logged_in, portal_data):
    from apps.analytics.models import OptionsFlowPartition

    part = OptionsFlowPartition.objects.filter(symbol="AAA").exclude(gap_sessions=[]).get()
    response = logged_in.get(f"/flow/?symbol=AAA&group_by=strike&window=1&partition={part.pk}")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Gap sessions" in body and part.gap_sessions[0] in body
    # The rows come with what their columns and classes mean ("unknown" is not an error).
    assert "Delta-weighted ΔOI $" in body
    assert "<strong>unknown</strong> when none of these holds" in body
    other = OptionsFlowPartition.objects.filter(symbol="BBB").first()
    response = logged_in.get(f"/flow/?symbol=AAA&partition={other.pk}")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "url, first_header",
    [
        ("/data/?table=warehouse.candles_daily&sort=date&_export=csv", "symbol"),
        ("/derived/?symbol=AAA&_export=csv&_table=derived", "Date"),
        ("/portfolio/?_export=csv&_table=positions", "Position"),
        ("/health/?_export=csv&_table=freshness", "Asset"),
    ],
)
def test_csv_export(logged_in, portal_data, url, first_header):
    response = logged_in.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_text(response))))
    assert rows[0][0] == first_header and len(rows) > 1


def test_flow_csv_export(logged_in, portal_data):
    response = logged_in.get("/flow/?symbol=AAA&group_by=strike&window=1&_export=csv&_table=rows")
    rows = list(csv.reader(io.StringIO(csv_text(response))))
    assert rows[0][0] == "Row" and len(rows) == 31  # header + the partition's 30 rows


def test_data_explorer_preview_is_sorted_and_paged_in_sql(logged_in, portal_data):
    response = logged_in.get("/data/?table=warehouse.candles_daily&sort=-date&page=1")
    table = response.context["preview"]
    dates = [row.record["date"] for row in table.paginated_rows]
    assert dates == sorted(dates, reverse=True) and len(dates) == 50
    assert table.paginator.count == 140


def test_data_explorer_hides_secrets(logged_in, portal_data):
    body = logged_in.get("/data/").content.decode()
    assert "django_session" not in body and "auth_user" not in body
    assert logged_in.get("/data/?table=meta.auth_user").status_code == 404
    assert logged_in.get("/data/?table=meta.django_session").status_code == 404


# --- empty databases -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, text",
    [
        ("/", "run_daily --as-of latest"),
        ("/health/", "No runs recorded yet"),
        ("/portfolio/", "No positions stored"),
        ("/symbols/", "db_init"),
        ("/flow/", "run_daily --as-of latest"),
        ("/derived/", "db_init"),
        ("/data/", "db_init"),
    ],
)
def test_empty_states_without_warehouse(logged_in, url, text):
    response = logged_in.get(url)
    assert response.status_code == 200
    assert text in response.content.decode()
    assert not warehouse.warehouse_path().exists()  # looking never creates the warehouse


@pytest.mark.parametrize("url", ["/symbols/", "/derived/", "/data/", "/portfolio/"])
def test_empty_states_with_empty_warehouse(logged_in, warehouse_db, url):
    response = logged_in.get(url)
    assert response.status_code == 200
    assert DISCLAIMER in response.content.decode()


# --- warehouse busy --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/symbols/?symbol=AAA", "/data/", "/derived/?symbol=AAA"])
def test_warehouse_busy_gives_503_with_retry_after(logged_in, portal_data, settings, url):
    settings.WAREHOUSE_READ_TIMEOUT_S = 0.2
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with warehouse.write():
            holding.set()
            release.wait(300)  # set in the finally below: a ceiling, not a duration

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(60)
        response = logged_in.get(url)
    finally:
        release.set()
        thread.join()
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "Warehouse busy" in response.content.decode()
    assert logged_in.get(url).status_code == 200  # fine again once the writer is done


# --- hostile parameters ----------------------------------------------------------------------------

HOSTILE = ["'; DROP TABLE candles_daily; --", 'candles_daily"', "../", "1 OR 1=1", "%00", "x" * 300]


def _candles_still_there() -> int:
    return warehouse.fetch_all("SELECT count(*) FROM candles_daily")[0][0]


def test_hostile_table_and_sort_parameters(logged_in, portal_data, subtests):
    """Every hostile value on one seeded dataset (one case per value)."""
    before = _candles_still_there()
    for value in HOSTILE:
        with subtests.test(value=value):
            for params in (
                {"table": value},
                {"table": "warehouse.candles_daily", "sort": value},
                {"table": "meta.ledger_ingestionrun", "sort": value},
                {"table": "warehouse.candles_daily", "sort": f"date,{value}"},
            ):
                response = logged_in.get("/data/", params)
                assert response.status_code in (400, 404), (params, response.status_code)
            response = logged_in.get("/data/", {"table": f"warehouse.{value}"})
            assert response.status_code == 404
    assert _candles_still_there() == before


HOSTILE_FILTERS = [
    ("/symbols/", "symbol"),
    ("/derived/", "symbol"),
    ("/derived/", "days"),
    ("/flow/", "symbol"),
    ("/flow/", "group_by"),
    ("/flow/", "window"),
    ("/flow/", "from"),
    ("/flow/", "to"),
    ("/flow/", "partition"),
    ("/health/", "days"),
    ("/health/", "stale"),
    ("/health/", "rows"),
]


def test_hostile_filters_get_a_validation_message(logged_in, portal_data, subtests):
    """The 72 (page, parameter, hostile value) cases on one seeded dataset, one case each."""
    for url, param in HOSTILE_FILTERS:
        for value in HOSTILE:
            with subtests.test(url=url, param=param, value=value):
                response = logged_in.get(url, {param: value})
                assert response.status_code == 400
                assert 'class="error"' in response.content.decode()
    assert _candles_still_there() == 140


def test_a_bad_health_filter_does_not_show_a_health_status(logged_in, portal_data):
    body = logged_in.get("/health/", {"days": "-1"}).content.decode()
    assert "Fix the filters" in body
    assert 'class="badge status-' not in body  # no "unknown" badge for a mistyped filter


def test_unknown_table_is_404(logged_in, portal_data):
    assert logged_in.get("/data/?table=warehouse.nope").status_code == 404
    assert logged_in.get("/data/?table=public.candles_daily").status_code == 404
    assert logged_in.get("/data/?table=warehouse.candles_daily&sort=nope").status_code == 404


def test_not_found_and_not_allowed_pages_keep_the_portal_layout(
    client, logged_in, staff_user, settings
):
    settings.DEBUG = False  # Django's own error pages only without DEBUG
    missing = logged_in.get("/no-such-page/")
    assert missing.status_code == 404
    body = missing.content.decode()
    assert "<h1>Not found</h1>" in body and 'href="/health/"' in body  # with the navigation
    # Staff without ledger.run_jobs may not open the gap planner: refused, in the layout.
    client.force_login(staff_user)
    refused = client.get(reverse("admin:ledger_ingestionrun_gap_plan"))
    assert refused.status_code == 403
    assert "<h1>Not allowed</h1>" in refused.content.decode()
    assert "Not financial advice" in refused.content.decode()


def test_a_request_for_another_host_is_a_400_page(client, settings, db):
    settings.DEBUG, settings.ALLOWED_HOSTS = False, ["good.example"]
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "<h1>Bad request</h1>" in response.content.decode()


# --- status.json -----------------------------------------------------------------------------------


def test_status_json_with_login(logged_in, portal_data):
    response = logged_in.get("/health/status.json")
    report = json.loads(response.content)
    assert report["overall"] == "degraded" and response.status_code == 503
    for key in ("database", "warehouse", "filters", "latest_runs", "watermarks"):
        assert key in report


def test_status_json_healthy_or_unknown_is_200(logged_in, warehouse_db):
    response = logged_in.get("/health/status.json?days=3&rows=10")
    assert response.status_code == 200
    assert json.loads(response.content)["overall"] in ("healthy", "warning", "unknown")


def test_status_json_bearer_token(client, settings, warehouse_db):
    settings.HEALTH_TOKEN = "s3cret-token"
    assert client.get("/health/status.json").status_code == 401
    bad = client.get("/health/status.json", HTTP_AUTHORIZATION="Bearer wrong")
    assert bad.status_code == 401
    good = client.get("/health/status.json", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert good.status_code == 200
    settings.HEALTH_TOKEN = ""
    assert client.get("/health/status.json", HTTP_AUTHORIZATION="Bearer ").status_code == 401


# --- every table: sort links and a CSV of plain values ---------------------------------------------

TABLES = [
    ("/", "symbols", "symbols-"),
    ("/", "jobs", "jobs-"),
    ("/symbols/?symbol=AAA", "derived", "derived-"),
    ("/portfolio/", "positions", "positions-"),
    ("/portfolio/", "underlyings", "underlyings-"),
    ("/portfolio/", "stress", "stress-"),
    ("/portfolio/", "limits", "limits-"),
    ("/flow/?symbol=AAA", "partitions", "parts-"),
    ("/flow/?symbol=AAA", "rows", ""),
    ("/derived/?symbol=AAA&days=90", "derived", ""),
    ("/health/", "freshness", "freshness-"),
    ("/health/", "runs", "runs-"),
    ("/health/", "checks", "checks-"),
    ("/health/", "recurring", "recurring-"),
    ("/health/", "grid", "grid-"),
    ("/health/", "plan", "plan-"),
]


@pytest.mark.parametrize(("url", "name", "prefix"), TABLES)
def test_every_table_sorts_and_exports_values(logged_in, portal_data, url, name, prefix):
    body = logged_in.get(url).content.decode()
    assert f"{prefix}sort=" in body, "no sort link"
    assert f"_table={name}" in body, "no CSV link"
    sep = "&" if "?" in url else "?"
    response = logged_in.get(f"{url}{sep}_export=csv&_table={name}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = csv_text(response)
    assert "<" not in text and "&lt;" not in text, text[:300]
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) >= 2, rows  # a header and data


def test_units_are_in_headers_and_percentages_carry_percent(logged_in, portal_data):
    body = logged_in.get("/").content.decode()
    assert "ATM IV %" in body and "27.0%" in body  # stored as the fraction 0.27
    assert "0.27<" not in body
    derived = logged_in.get("/derived/?symbol=AAA&days=30").content.decode()
    assert "Exp. move %" in derived and "Spot $" in derived
    rows = logged_in.get("/derived/?symbol=AAA&days=30&_export=csv&_table=derived")
    header = next(csv.reader(io.StringIO(csv_text(rows))))
    assert "ATM IV %" in header and "IV/RV20 (×)" in header


def test_flow_opens_on_the_newest_stored_series(logged_in, portal_data):
    from apps.analytics.models import OptionsFlowPartition

    OptionsFlowPartition.objects.update(group_by="contract", window=2)
    for url in ("/flow/", "/flow/?symbol=AAA"):
        response = logged_in.get(url)
        body = response.content.decode()
        assert response.status_code == 200
        assert "No stored partition" not in body
        assert response.context["filters"]["group_by"] == "contract"
        assert response.context["filters"]["window"] == 2
        assert response.context["data_as_of"] is not None
    response = logged_in.get("/flow/?symbol=AAA&group_by=strike")
    assert "No stored partition" in response.content.decode()
    assert response.context["data_as_of"] is not None  # still dated by the newest stored partition


def test_derived_shows_every_metric_and_flags_short_iv_history(logged_in, portal_data):
    body = logged_in.get("/derived/?symbol=AAA&days=365").content.decode()
    for header in ("Gamma peak $", "Term slope (IV pp)", "IV/RV20 (×)", "Skew (IV pp)"):
        assert header in body
    for chart in ("chart-levels", "chart-vol", "chart-ratios"):
        assert f'id="{chart}"' in body
    assert "fewer than 20 prior sessions" in body
    recent = logged_in.get("/derived/?symbol=AAA&days=30").content.decode()
    assert "fewer than 20 prior sessions" not in recent


def test_health_groups_repeated_failed_checks(logged_in, portal_data):
    from django.utils import timezone

    from apps.ledger.models import AssetCheck

    first = AssetCheck.objects.get()
    for minutes in (10, 20, 30):
        AssetCheck.objects.create(
            run=first.run,
            asset_key=first.asset_key,
            partition_key=first.partition_key,
            check_name=first.check_name,
            severity="warn",
            status="fail",
            checked_at=timezone.now() - timezone.timedelta(minutes=minutes),
            metrics={},
            message=f"older message {minutes}",
        )
    response = logged_in.get("/health/")
    groups = list(response.context["checks_table"].data)
    assert len(groups) == 1
    assert groups[0]["count"] == 4 and groups[0]["message"] == "synthetic failed check"


def test_health_runs_chart_names_the_session_each_run_was_for(logged_in, portal_data):
    import datetime as dt

    from django.utils import timezone

    from apps.ledger.models import IngestionRun

    now = timezone.now()
    for day in (dt.date(2026, 11, 18), dt.date(2026, 11, 19)):  # a backfill: same minute
        IngestionRun.objects.create(
            job_name="compute_flow", triggered_by="cli", status="success", started_at=now,
            heartbeat_at=now, ended_at=now, as_of=day, duration_ms=1500,
        )
    chart = logged_in.get("/health/").context["timeline"]
    labels = chart["labels"]
    for session in ("11-18", "11-19"):
        assert any(label.startswith(f"compute_flow for {session} · ") for label in labels), labels


def test_health_freshness_problems_first_with_show_all(logged_in, portal_data):
    response = logged_in.get("/health/")
    shown = [row["status"] for row in response.context["freshness_table"].data]
    assert shown and "healthy" not in shown
    assert "show all" in response.content.decode()
    everything = logged_in.get("/health/?all=on")
    statuses = [row["status"] for row in everything.context["freshness_table"].data]
    assert "healthy" in statuses and len(statuses) > len(shown)
    assert statuses.index("healthy") >= len(shown)  # problems still come first


def test_dashboard_jobs_read_the_ledger_live(logged_in, portal_data):
    from django.utils import timezone

    from apps.ledger.models import IngestionRun

    def run_now(job_name: str, status: str, **fields) -> None:
        now = timezone.now()
        IngestionRun.objects.create(
            job_name=job_name, triggered_by="cli", status=status, started_at=now,
            heartbeat_at=now, as_of=timezone.localdate(), **fields,
        )

    run_now("compute_flow", "started")
    run_now("build_briefing", "success", ended_at=timezone.now(), partitions_skipped=1)
    response = logged_in.get("/")
    jobs = {j["job_name"]: j for j in response.context["jobs_table"].data}
    assert jobs["compute_flow"]["status"] == "success" and jobs["compute_flow"]["running"]
    assert jobs["ingest_options_bars"]["status"] == "failed"
    assert not jobs["ingest_candles"]["running"]
    # A re-run that found everything stored: success, nothing OK or failed, one skipped.
    briefing = jobs["build_briefing"]
    assert (briefing["partitions_ok"], briefing["partitions_skipped"]) == (0, 1)
    assert "Skipped" in [column.header for column in response.context["jobs_table"].columns]
    runs = logged_in.get("/health/").context["runs_table"]
    assert "Skipped" in [column.header for column in runs.columns]
    assert {r["job_name"]: r["partitions_skipped"] for r in runs.data}["build_briefing"] == 1


def test_portfolio_shows_greeks_per_underlying_and_model_notes(logged_in, portal_data):
    body = logged_in.get("/portfolio/").content.decode()
    assert "Greeks per underlying" in body and "Model value now $" in body
    assert "Model-based" in body and "shares</small>" not in body


def test_dates_are_iso_with_weekday_tooltips(logged_in, portal_data):
    body = logged_in.get("/flow/?symbol=AAA").content.decode()
    assert '<time datetime="' in body and 'title="' in body
    assert "Dec." not in body and "Nov." not in body


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")


def test_admin_pages_carry_the_favicon(client, staff_user):
    client.force_login(staff_user)
    body = client.get("/admin/").content.decode()
    assert "favicon.svg" in body and "Django administration" in body


def test_portfolio_survives_a_stored_risk_profile_of_the_wrong_type(logged_in, portal_data):
    from apps.portfolio.models import PortfolioSettings

    settings = PortfolioSettings.load()
    settings.risk_profile = {"max_portfolio_risk_pct": "lots", "stop_loss_pct": [1], "x": None}
    settings.save()
    response = logged_in.get("/portfolio/")
    assert response.status_code == 200
    assert "Max portfolio risk" in response.content.decode()
