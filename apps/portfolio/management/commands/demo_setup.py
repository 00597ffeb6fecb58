"""Seed a demo watchlist, a demo portfolio near today's demo prices, and a demo portal login."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.core import calendar
from apps.ledger.services.roles import OPERATORS, VIEWERS, roles_ensure
from apps.market.providers.registry import get_provider
from apps.portfolio.models import PortfolioSettings, Position, Watchlist
from apps.portfolio.services import portfolio_import, watchlists_import
from optionshelper.commands import ProductCommand

DEMO_WATCHLIST = {"demo": ["AAPL", "MSFT", "SPY", "QQQ", "NVDA"]}


def _strike(spot: float, factor: float, step: float) -> float:
    return round(spot * factor / step) * step


def demo_portfolio() -> dict:
    """Positions a few percent around the demo provider's latest prices, expiring 1–3 months out."""
    provider = get_provider("demo")
    today = calendar.last_completed_session()
    month = (today.month % 12) + 1
    year = today.year + (1 if month == 1 else 0)
    near = calendar.monthly_expiry(year, month)
    far = calendar.monthly_expiry(year + (1 if month > 10 else 0), (month + 1) % 12 + 1)
    aapl, spy, nvda = (provider.get_quote(s, as_of=today) for s in ("AAPL", "SPY", "NVDA"))
    return {
        "base_currency": "USD",
        "cash": 25000.0,
        "risk_profile": {"max_portfolio_risk_pct": 0.25, "max_single_position_risk_pct": 0.07},
        "positions": [
            {
                "id": "aapl-call",
                "symbol": "AAPL",
                "option_type": "call",
                "expiry": near.isoformat(),
                "strike": _strike(aapl, 1.03, 5),
                "contracts": 2,
                "cost_basis": round(aapl * 0.025, 2),
            },
            {
                "id": "spy-put",
                "symbol": "SPY",
                "option_type": "put",
                "expiry": far.isoformat(),
                "strike": _strike(spy, 0.95, 5),
                "contracts": 3,
                "cost_basis": round(spy * 0.012, 2),
            },
            {
                "id": "nvda-spread",
                "symbol": "NVDA",
                "net_debit": round(nvda * 0.9, 2),
                "legs": [
                    {
                        "side": "long",
                        "option_type": "call",
                        "expiry": far.isoformat(),
                        "strike": _strike(nvda, 1.0, 5),
                        "contracts": 1,
                    },
                    {
                        "side": "short",
                        "option_type": "call",
                        "expiry": far.isoformat(),
                        "strike": _strike(nvda, 1.10, 5),
                        "contracts": 1,
                    },
                ],
            },
        ],
    }


class Command(ProductCommand):
    help = (
        "Create the demo watchlist, portfolio and a 'demo' login (password printed once) in the "
        "viewers and operators groups."
    )

    def handle(self, *args, **options) -> None:
        # Seeds only what is missing: a re-run (scripts/demo is safe to repeat) keeps a watchlist or
        # portfolio the user has edited or imported since.
        if Watchlist.objects.filter(name="demo").exists():
            self.stdout.write("demo watchlist: kept the stored 'demo' watchlist")
        else:
            watchlists_import(data={"watchlists": DEMO_WATCHLIST})
            self.stdout.write(f"demo watchlist: {', '.join(DEMO_WATCHLIST['demo'])}")
        if Position.objects.exists() or PortfolioSettings.objects.exists():
            self.stdout.write(
                f"demo portfolio: kept the stored portfolio ({Position.objects.count()} "
                "positions; import_portfolio replaces it)"
            )
        else:
            summary = portfolio_import(data=demo_portfolio())
            self.stdout.write(f"demo portfolio: {summary['positions']} positions")
        self._demo_user()

    def _demo_user(self) -> None:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username="demo")
        chosen = os.environ.get("OPTIONS_HELPER_DEMO_PASSWORD")
        if created or chosen:
            password = chosen or secrets.token_urlsafe(9)
            user.set_password(password)
            user.is_staff = True  # so the demo can open the admin too
            user.save()
            if chosen:  # the user knows it; a password is echoed only when it was generated
                self.stdout.write("demo login: user 'demo', password from OPTIONS_HELPER_DEMO_PASSWORD")
            else:
                self.stdout.write(f"demo login: user 'demo', password '{password}' (shown once)")
        else:
            self.stdout.write(
                "demo login 'demo' already exists (set OPTIONS_HELPER_DEMO_PASSWORD to reset it)"
            )
        roles_ensure()
        user.groups.add(*Group.objects.filter(name__in=(VIEWERS, OPERATORS)))
        self.stdout.write(f"demo login is in the groups {VIEWERS} and {OPERATORS}")
