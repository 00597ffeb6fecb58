"""Derived History: price/walls/max pain, volatility regime and ratios from derived_daily."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from django.http import HttpRequest, HttpResponse

from apps.core.derived import SHORT_IV_HISTORY
from apps.core.values import json_safe
from apps.portal import charts
from apps.portal.forms import DerivedForm
from apps.portal.middleware import portal_view
from apps.portal.selectors import market
from apps.portal.selectors.common import view_model
from apps.portal.tables import DerivedTable
from apps.portal.views._common import configure, export_or_none, page
from optionshelper import warehouse


def derived_charts(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """One chart per family: levels ($), volatility (%, IV/RV on the right), positioning."""
    dates = df["date"]
    pct = charts.percent
    return {
        "levels": charts.chart(
            "line",
            dates,
            {
                "Spot $": df["spot"],
                "Call wall $": df["call_wall"],
                "Put wall $": df["put_wall"],
                "Max pain $": df["max_pain"],
                "Gamma peak $": df["gamma_peak_strike"],
            },
            title="Levels: price, walls, max pain and gamma peak ($)",
        ),
        "vol": charts.chart(
            "line",
            dates,
            {
                "ATM IV %": pct(df["atm_iv_near"]),
                "RV 20d %": pct(df["rv_20d"]),
                "RV 60d %": pct(df["rv_60d"]),
                "Expected move %": pct(df["em_near_pct"]),
                "Term slope (pp)": pct(df["iv_term_slope"]),
                "Skew (pp)": df["skew_near_pp"],
                "IV/RV20 (×)": df["iv_rv_20d"],
            },
            axis={"IV/RV20 (×)": "y2"},
            title="Volatility (%, IV/RV20 on the right axis)",
        ),
        "ratios": charts.chart(
            "line",
            dates,
            {
                "P/C OI (×)": df["pc_oi"],
                "P/C volume (×)": df["pc_vol"],
                "IV rank": df["atm_iv_rank"],
                "IV percentile": df["atm_iv_percentile"],
            },
            axis={"IV rank": "y2", "IV percentile": "y2"},
            title="Positioning: put/call ratios (×), IV rank and percentile 0–100 (right axis)",
        ),
    }


def derived_view_model(symbol: str, days: int) -> dict[str, Any]:
    """The symbol's derived rows over the lookback, their charts and how much IV history stands
    behind the ranks: one warehouse connection."""
    with warehouse.read():
        latest = market.latest_date("derived_daily", symbol)
        df = market.derived_history(symbol, since=latest - dt.timedelta(days=days))
    ranked = df[df["atm_iv_rank"].notna() | df["atm_iv_percentile"].notna()]
    short = ranked[ranked["iv_history"] < SHORT_IV_HISTORY]
    return {
        "rows": [{k: json_safe(v) for k, v in r.items()} for r in df.to_dict("records")],
        "charts": derived_charts(df),
        "data_as_of": latest,
        "short_history": {
            "sessions": len(short),
            "latest": int(ranked["iv_history"].iloc[-1]) if len(ranked) else None,
            "threshold": SHORT_IV_HISTORY,
        },
    }


@portal_view("Derived History")
def derived(request: HttpRequest) -> HttpResponse:
    fresh = "_export" in request.GET  # an export is never answered from a cache
    known, generation_ = view_model("derived_symbols", (), market.derived_symbols, fresh=fresh)
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
    model, generation_ = view_model(
        "derived", (symbol, days), lambda: derived_view_model(symbol, days), fresh=fresh
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
        short_history=model["short_history"],
        generation=generation_,
    )
    return page(request, "portal/derived.html", context)
