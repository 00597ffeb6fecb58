"""Derived History: price/walls/max pain, volatility regime and ratios from derived_daily."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from django.http import HttpRequest, HttpResponse

from apps.portal import charts
from apps.portal.forms import DerivedForm
from apps.portal.middleware import portal_view
from apps.portal.selectors import market
from apps.portal.tables import DerivedTable
from apps.portal.views._common import configure, export_or_none, page
from optionshelper import generation, warehouse


def derived_charts(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    dates = df["date"]
    return {
        "levels": charts.chart(
            "line",
            dates,
            {
                "Spot": df["spot"],
                "Call wall": df["call_wall"],
                "Put wall": df["put_wall"],
                "Max pain": df["max_pain"],
            },
            title="Price, walls and max pain",
        ),
        "vol": charts.chart(
            "line",
            dates,
            {"ATM IV (near)": df["atm_iv_near"], "RV 20d": df["rv_20d"], "RV 60d": df["rv_60d"]},
            title="Volatility regime",
        ),
        "ratios": charts.chart(
            "line",
            dates,
            {"P/C OI": df["pc_oi"], "P/C volume": df["pc_vol"], "IV rank": df["atm_iv_rank"]},
            axis={"IV rank": "y2"},
            title="Ratios (IV rank on the right axis)",
        ),
    }


def derived_view_model(symbol: str, days: int) -> dict[str, Any]:
    """The symbol's derived rows over the lookback and their charts: one warehouse connection."""
    with warehouse.read():
        latest = market.latest_date("derived_daily", symbol)
        df = market.derived_history(symbol, since=latest - dt.timedelta(days=days))
    return {
        "rows": [{k: charts.clean(v) for k, v in r.items()} for r in df.to_dict("records")],
        "charts": derived_charts(df),
        "data_as_of": latest,
    }


@portal_view("Derived History")
def derived(request: HttpRequest) -> HttpResponse:
    known, generation_ = generation.cached("derived_symbols", (), market.derived_symbols)
    form = DerivedForm(request.GET or None, symbols=known)
    context: dict[str, Any] = {
        "form": form,
        "known": known,
        "nav": "derived",
        "generation": generation_,
    }
    if not known or (form.is_bound and not form.is_valid()):
        return page(request, "portal/derived.html", context)
    symbol, days = form.value("symbol"), form.value("days")
    model, generation_ = generation.cached(
        "derived", (symbol, days), lambda: derived_view_model(symbol, days)
    )
    table = DerivedTable(model["rows"])
    exported = export_or_none(request, {"derived": table}, f"derived-{symbol}")
    if exported:
        return exported
    context.update(
        symbol=symbol,
        days=days,
        charts=model["charts"],
        table=configure(request, table),
        data_as_of=model["data_as_of"],
        generation=generation_,
    )
    return page(request, "portal/derived.html", context)
