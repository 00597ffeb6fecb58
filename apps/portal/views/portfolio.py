"""Portfolio: stored positions valued on the latest stored snapshots, greeks, stress and limits."""

from __future__ import annotations

import django_tables2 as tables
from django.http import HttpRequest, HttpResponse

from apps.portal.middleware import portal_view
from apps.portal.selectors.portfolio import portfolio_view
from apps.portal.tables import (
    DayColumn,
    LimitsTable,
    MoneyColumn,
    NumberColumn,
    PctColumn,
    PortalTable,
    StressTable,
    UnderlyingGreeksTable,
    per_underlying,
)
from apps.portal.views._common import configure, export_or_none, page


class PositionsTable(PortalTable):
    position_id = tables.Column(verbose_name="Position")
    symbol = tables.Column()
    legs = tables.Column(orderable=False)
    expiry = DayColumn()
    spot = MoneyColumn(verbose_name="Spot $")
    mark = MoneyColumn(verbose_name="Mark $")
    cost = MoneyColumn(verbose_name="Cost $")
    market_value = MoneyColumn(verbose_name="Value $")
    pnl = MoneyColumn(verbose_name="P&L $", signed=True)
    pnl_pct = PctColumn(verbose_name="P&L %", signed=True)
    spread_pct = PctColumn(verbose_name="Spread %")
    delta = NumberColumn(verbose_name="Δ (shares)", decimals=1, signed=True)
    theta = MoneyColumn(verbose_name="Θ ($/day)", signed=True)
    vega = MoneyColumn(verbose_name="Vega ($/vol pt)", signed=True)

    class Meta(PortalTable.Meta):
        order_by = ("symbol", "position_id")


@portal_view("Portfolio")
def portfolio(request: HttpRequest) -> HttpResponse:
    view = portfolio_view()
    tables_ = {
        "positions": PositionsTable(view["positions"], prefix="positions-"),
        "underlyings": UnderlyingGreeksTable(
            per_underlying(view["positions"]), prefix="underlyings-"
        ),
        "stress": StressTable(view["stress"], prefix="stress-"),
        "limits": LimitsTable(view["limits"], prefix="limits-"),
    }
    exported = export_or_none(request, tables_, "portfolio")
    if exported:
        return exported
    return page(
        request,
        "portal/portfolio.html",
        {
            **view,
            **{f"{name}_table": configure(request, t) for name, t in tables_.items()},
            "data_as_of": view.get("as_of"),
            "nav": "portfolio",
        },
    )
