"""Portfolio: stored positions valued on the latest stored snapshots, greeks, stress and limits."""

from __future__ import annotations

import django_tables2 as tables
from django.http import HttpRequest, HttpResponse

from apps.portal.middleware import portal_view
from apps.portal.selectors.portfolio import portfolio_view
from apps.portal.tables import NumberColumn, PortalTable
from apps.portal.views._common import configure, export_or_none, page
from optionshelper import generation, warehouse


class PositionsTable(PortalTable):
    position_id = tables.Column(verbose_name="Position")
    symbol = tables.Column()
    legs = tables.Column(orderable=False)
    expiry = tables.DateColumn(format="Y-m-d")
    spot = NumberColumn()
    mark = NumberColumn()
    cost = NumberColumn(verbose_name="Cost $")
    market_value = NumberColumn(verbose_name="Value $")
    pnl = NumberColumn(verbose_name="P&L $", signed=True)
    pnl_pct = NumberColumn(verbose_name="P&L %", decimals=1, signed=True)
    spread_pct = NumberColumn(verbose_name="Spread %", decimals=1)
    delta = NumberColumn(verbose_name="Δ shares", decimals=1, signed=True)
    theta = NumberColumn(verbose_name="Θ $/day", signed=True)
    vega = NumberColumn(verbose_name="Vega $/pt", signed=True)

    class Meta(PortalTable.Meta):
        order_by = ("symbol", "position_id")


def _portfolio_view_model() -> dict:
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
    view, generation_ = generation.cached("portfolio", (), _portfolio_view_model)
    table = PositionsTable(view["positions"])
    exported = export_or_none(request, {"positions": table}, "portfolio")
    if exported:
        return exported
    return page(
        request,
        "portal/portfolio.html",
        {
            **view,
            "table": configure(request, table),
            "data_as_of": view.get("as_of"),
            "nav": "portfolio",
            "generation": generation_,
        },
    )
