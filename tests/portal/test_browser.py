"""Headless Chromium over the live server: pages render, charts draw, no console errors.

Screenshots go to ``test-artifacts/screenshots/`` (gitignored) for a human to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
    pytest.mark.django_db(transaction=True, databases=["default", "warehouse"]),
]

# (name, path, charts expected on the page)
PAGES = [
    ("dashboard", "/", 1),
    ("health", "/health/", 1),
    ("health-all", "/health/?all=on", 1),
    ("portfolio", "/portfolio/", 0),
    ("symbols", "/symbols/?symbol=AAA", 4),
    ("flow", "/flow/?symbol=AAA", 2),
    ("derived", "/derived/?symbol=AAA&days=365", 3),
    ("data", "/data/", 0),
    ("data-preview", "/data/?table=warehouse.candles_daily&sort=-date", 0),
]
DEMO_PASSWORD = "pw-demo-123456"


@pytest.fixture
def demo_user(django_user_model):
    return django_user_model.objects.create_user("demo", password=DEMO_PASSWORD, is_staff=True)


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


def _login(page, base_url: str, username: str = "viewer", password: str = "pw-viewer-123") -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def _drawn_charts(page) -> list[dict]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('canvas[data-chart]')).map(c => {
            const chart = window.Chart && Chart.getChart(c);
            return {id: c.dataset.chart, width: c.width, dataUrl: c.toDataURL().length,
                    points: chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0};
        })"""
    )


def _tables(page) -> list[dict]:
    """Every django-tables2 table (the Data catalog and column lists are plain listings)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('table.data:not(.catalog):not(.compact)'))
            .map(t => ({
                sortLinks: t.querySelectorAll('thead a[href*="sort="]').length,
                rows: t.querySelectorAll('tbody tr').length,
                text: t.querySelector('tbody') ? t.querySelector('tbody').innerText : '',
            }))"""
    )


def test_every_page_shows_data_sortable_tables_and_clean_csv(
    live_server, demo_user, portal_data, browser_page
):
    page = browser_page
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _login(page, live_server.url, "demo", DEMO_PASSWORD)
    for name, path, expected in PAGES:
        response = page.goto(live_server.url + path)
        assert response.status == 200, (path, response.status)
        assert "Not financial advice." in page.content()
        assert page.locator("section.card.empty").count() == 0, (path, "empty state")
        assert page.locator(".asof strong").inner_text() != "—", (path, "no data-as-of date")
        charts = _drawn_charts(page)
        assert len(charts) >= expected, (path, charts)
        for chart in charts:
            assert chart["points"] > 0 and chart["dataUrl"] > 3000, (path, chart)
        tables = _tables(page)
        exports = page.eval_on_selector_all("a.export", "links => links.map(a => a.href)")
        if name != "data":
            assert tables, (path, "no table")
            assert len(exports) >= len(tables), (path, len(exports), len(tables))
        for table in tables:
            assert table["sortLinks"] > 0, (path, "table without sort links")
            assert table["rows"] > 0 and table["text"].strip() not in ("No rows.", ""), path
        for href in exports:
            csv = page.request.get(href)
            assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv"), href
            body = csv.text()
            assert "<" not in body and body.count("\n") >= 2, (href, body[:200])
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    favicon = page.request.get(live_server.url + "/favicon.ico")
    assert favicon.status == 200 and "svg" in favicon.headers["content-type"]
    assert errors == []


def test_copy_button_and_logout(live_server, user, portal_data, browser_page):
    page = browser_page
    _login(page, live_server.url)
    page.goto(live_server.url + "/portfolio/")
    page.click("text=Log out")
    page.wait_for_url("**/accounts/login/")
    page.goto(live_server.url + "/flow/")
    assert "/accounts/login/" in page.url
