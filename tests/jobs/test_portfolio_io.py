"""Portfolio JSON round trip, watchlist normalisation, demo_setup twice (SPEC §2)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from apps.portfolio.models import Watchlist
from apps.portfolio.services import portfolio_export, portfolio_import, watchlists_import
from tests.jobs.test_bad_inputs import PORTFOLIO


@pytest.mark.django_db
def test_portfolio_import_export_round_trip(tmp_path):
    path = tmp_path / "portfolio.json"
    path.write_text(json.dumps(PORTFOLIO))
    call_command("import_portfolio", str(path), stdout=io.StringIO())
    out = io.StringIO()
    call_command("export_portfolio", stdout=out)
    exported = json.loads(out.getvalue())
    assert exported["positions"][0] == PORTFOLIO["positions"][0]  # single-leg
    assert exported["positions"] == PORTFOLIO["positions"]  # multi-leg legs in file order
    assert exported["cash"] == PORTFOLIO["cash"] and exported["base_currency"] == "USD"
    assert exported["risk_profile"]["max_portfolio_risk_pct"] == 0.25
    # export → import → export is a fixed point
    again = tmp_path / "again.json"
    call_command("export_portfolio", "--output", str(again), stdout=io.StringIO())
    call_command("import_portfolio", str(again), stdout=io.StringIO())
    assert portfolio_export() == exported


@pytest.mark.django_db
def test_portfolio_round_trip_is_a_fixed_point_after_one_export(tmp_path):
    path = tmp_path / "portfolio.json"
    path.write_text(json.dumps(PORTFOLIO))
    call_command("import_portfolio", str(path), stdout=io.StringIO())
    exported = portfolio_export()
    assert exported["positions"][0] == PORTFOLIO["positions"][0]
    multi = exported["positions"][1]
    assert multi["net_debit"] == 450.0
    assert sorted(map(json.dumps, multi["legs"])) == sorted(
        map(json.dumps, PORTFOLIO["positions"][1]["legs"])
    )
    again = tmp_path / "again.json"
    call_command("export_portfolio", "--output", str(again), stdout=io.StringIO())
    call_command("import_portfolio", str(again), stdout=io.StringIO())
    assert portfolio_export() == exported


@pytest.mark.django_db
def test_watchlist_import_normalises_brk_b():
    watchlists_import(data={"watchlists": {"core": ["brk.b", "BRK-B", "aapl", " spy "]}})
    symbols = list(
        Watchlist.objects.get(name="core").symbols.order_by("pk").values_list("symbol", flat=True)
    )
    assert symbols == ["BRK-B", "AAPL", "SPY"]


@pytest.mark.django_db
def test_demo_setup_works_twice():
    for _ in range(2):
        call_command("demo_setup", stdout=io.StringIO(), stderr=io.StringIO())
    assert Watchlist.objects.filter(name="demo").count() == 1
    assert set(Watchlist.objects.get(name="demo").symbols.values_list("symbol", flat=True)) == {
        "AAPL",
        "MSFT",
        "SPY",
        "QQQ",
        "NVDA",
    }
    assert portfolio_export()["positions"]


@pytest.mark.django_db
def test_demo_setup_keeps_what_the_user_changed_and_never_echoes_a_given_password(monkeypatch):
    call_command("demo_setup", stdout=io.StringIO())
    edited = portfolio_export()
    edited["cash"] = 12345.0
    portfolio_import(data=edited)
    watchlists_import(data={"watchlists": {"demo": ["AAPL"]}})
    monkeypatch.setenv("OPTIONS_HELPER_DEMO_PASSWORD", "Secr3tPassw0rdXYZ")
    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    assert portfolio_export()["cash"] == 12345.0
    assert list(Watchlist.objects.get(name="demo").symbols.values_list("symbol", flat=True)) == [
        "AAPL"
    ]
    assert "Secr3tPassw0rdXYZ" not in out.getvalue()
    assert "kept the stored portfolio" in out.getvalue()
    from django.contrib.auth import authenticate

    assert authenticate(username="demo", password="Secr3tPassw0rdXYZ") is not None
