"""Symbol Explorer: candles, the latest stored chain snapshot and a derived-history snippet."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from django.http import HttpRequest, HttpResponse

from apps.core import chain as chain_calc
from apps.core.values import json_safe, to_date
from apps.portal import charts
from apps.portal.forms import SymbolForm
from apps.portal.middleware import portal_view
from apps.portal.selectors import market
from apps.portal.selectors.common import view_model
from apps.portal.tables import SymbolDerivedTable
from apps.portal.views._common import configure, export_or_none, page
from optionshelper import warehouse

CANDLE_SESSIONS = 180
DERIVED_ROWS = 10
STRIKE_BAND = 0.3  # OI chart shows strikes within ±30 % of spot


def candle_chart(df: pd.DataFrame) -> dict[str, Any]:
    return charts.chart(
        "candles",
        df["date"],
        {"open": df["open"], "high": df["high"], "low": df["low"], "close": df["close"]},
        title=f"Daily candles (last {len(df)} sessions)",
    )


def snapshot_charts(
    chain: pd.DataFrame, summary: dict, term: pd.DataFrame, as_of: dt.date
) -> dict[str, Any]:
    """OI by strike, IV smile (near expiry) and term structure of one snapshot."""
    spot = summary["spot"]
    oi = chain_calc.oi_by_strike(chain)
    oi = oi[(oi["strike"] >= spot * (1 - STRIKE_BAND)) & (oi["strike"] <= spot * (1 + STRIKE_BAND))]
    near = summary.get("near_expiry") or min(
        (e for e in pd.to_datetime(chain["expiry"]).dt.date if e >= as_of), default=None
    )
    out: dict[str, Any] = {
        "oi": charts.chart(
            "bar",
            oi["strike"],
            {"Call OI": oi["call_oi"], "Put OI": oi["put_oi"]},
            title="Open interest by strike (contracts, all expiries)",
            colors={"Call OI": "#2f855a", "Put OI": "#c53030"},
        ),
        "near_expiry": near,
    }
    if near is not None:
        smile = chain_calc.iv_smile(chain, near)
        smile = smile[(smile["strike"] >= spot * 0.7) & (smile["strike"] <= spot * 1.3)]
        out["smile"] = charts.chart(
            "line",
            smile["strike"],
            {
                "Call IV %": charts.percent(smile["call_iv"]),
                "Put IV %": charts.percent(smile["put_iv"]),
            },
            title=f"IV smile (%), expiry {near}",
            colors={"Call IV %": "#2f855a", "Put IV %": "#c53030"},
        )
    out["term"] = charts.chart(
        "line",
        term["expiry"],
        {"ATM IV %": charts.percent(pd.to_numeric(term["atm_iv"], errors="coerce"))},
        title="ATM IV term structure (%)",
    )
    return out


def snapshot_reads(symbol: str) -> dict[str, Any]:
    """The newest snapshot header of a symbol, its chain, and its chain metrics and term
    structure computed in the warehouse (reads only)."""
    header = market.latest_snapshot(symbol)
    if header is None:
        return {}
    as_of = to_date(header["snapshot_date"])
    chain = market.chain(symbol, as_of, header["provider"])
    if chain.empty or header.get("spot") is None:
        return {"header": header}
    summary, term = market.snapshot_metrics(symbol, as_of)
    return {"header": header, "chain": chain, "summary": summary, "term": term}


def snapshot_context(reads: dict[str, Any]) -> dict[str, Any]:
    """Summary and charts of one snapshot (pure computation over the reads)."""
    if "summary" not in reads:
        return {k: v for k, v in reads.items() if k == "header"}
    if reads["summary"].get("spot") is None:  # a stored spot that is not a number: no charts
        return {"header": reads["header"], "summary": reads["summary"]}
    as_of = to_date(reads["header"]["snapshot_date"])
    charts_ = snapshot_charts(reads["chain"], reads["summary"], reads["term"], as_of)
    return {"header": reads["header"], "summary": reads["summary"], **charts_}


def symbol_view_model(symbol: str) -> dict[str, Any]:
    """Candles, the latest snapshot and recent derived rows of one symbol: one warehouse connection."""
    with warehouse.read():  # reads only; the read lock is not held while computing
        candles = market.candles(symbol, sessions=CANDLE_SESSIONS)
        reads = snapshot_reads(symbol)
        latest = candles["date"].max() if not candles.empty else None
        derived = pd.DataFrame()
        if latest is not None:
            since = pd.Timestamp(latest).date() - dt.timedelta(days=30)
            derived = market.derived_recent(symbol, since=since, limit=DERIVED_ROWS)
    snap = snapshot_context(reads)
    as_of_dates = [
        d for d in (latest, snap.get("header", {}).get("snapshot_date")) if d is not None
    ]
    return {
        "symbol": symbol,
        "candle_chart": candle_chart(candles) if not candles.empty else None,
        "derived": [{k: json_safe(v) for k, v in r.items()} for r in derived.to_dict("records")],
        "data_as_of": max(pd.Timestamp(d).date() for d in as_of_dates) if as_of_dates else None,
        **snap,
    }


@portal_view("Symbol Explorer")
def symbols(request: HttpRequest) -> HttpResponse:
    fresh = "_export" in request.GET  # an export is never answered from a cache
    known, generation_ = view_model("known_symbols", (), market.known_symbols, fresh=fresh)
    form = SymbolForm(request.GET or None, symbols=known)
    context: dict[str, Any] = {
        "form": form,
        "known": known,
        "nav": "symbols",
        "generation": generation_,
    }
    symbol = form.value("symbol")
    if not known or (form.is_bound and not form.is_valid()):
        return page(request, "portal/symbols.html", context)
    model, generation_ = view_model(
        "symbol", (symbol,), lambda: symbol_view_model(symbol), fresh=fresh
    )
    model = dict(model)
    table = SymbolDerivedTable(model.pop("derived"), prefix="derived-")
    exported = export_or_none(request, {"derived": table}, f"symbol-{symbol}")
    if exported:
        return exported
    context.update(
        model,
        derived_table=configure(request, table, per_page=DERIVED_ROWS),
        generation=generation_,
    )
    return page(request, "portal/symbols.html", context)
