"""Portfolio: stored positions valued on the latest stored snapshots, greeks, stress and limits."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.http import HttpRequest, HttpResponse

from apps.portal.middleware import portal_view
from apps.portal.selectors.common import view_model
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
from apps.portal.views._common import configure, export_or_none, page, positive_int_param
from optionshelper import warehouse


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


def portfolio_view_model() -> dict[str, Any]:
    """The portfolio view model with every warehouse query on one connection.

    Without a warehouse file, stored positions (or none) still show: the selector reads the
    warehouse only when there are legs to value.
    """
    if not warehouse.warehouse_path().exists():
        return portfolio_view()
    with warehouse.read():
        return portfolio_view()


@portal_view("Portfolio")
def portfolio(request: HttpRequest) -> HttpResponse:
    fresh = "_export" in request.GET  # an export is never answered from a cache
    view, generation_ = view_model("portfolio", (), portfolio_view_model, fresh=fresh)
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
    # A plain ``per_page`` sets every table's page size (each table's own parameter wins).
    per_page = positive_int_param(request, "per_page") or 25
    return page(
        request,
        "portal/portfolio.html",
        {
            **view,
            **{
                f"{name}_table": configure(request, t, per_page=per_page)
                for name, t in tables_.items()
            },
            "data_as_of": view.get("as_of"),
            "nav": "portfolio",
            "generation": generation_,
        },
    )
