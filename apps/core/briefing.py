"""The daily briefing as data and as Markdown (SPEC §6.6). Pure: a dict in, text out."""

from __future__ import annotations

import itertools
from typing import Any

SCHEMA_VERSION = 2  # 2: greeks per underlying, iv_history_sessions, position_totals
DISCLAIMER = "Informational and educational only. Not financial advice."

_NUMBER = {"type": ["number", "null"]}
_STRING = {"type": ["string", "null"]}

BRIEFING_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "options-helper daily briefing",
    "type": "object",
    "required": [
        "schema_version",
        "market_date",
        "generated_at",
        "disclaimer",
        "portfolio",
        "symbols",
    ],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "market_date": {"type": "string", "format": "date"},
        "generated_at": {"type": "string"},
        "inputs_digest": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "disclaimer": {"type": "string"},
        "portfolio": {
            "type": "object",
            "required": ["positions", "greeks", "stress"],
            "properties": {
                "positions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["position_id", "symbol", "option_type", "expiry", "strike"],
                        "properties": {
                            "position_id": {"type": "string"},
                            "symbol": {"type": "string"},
                            "side": {"type": "string"},
                            "option_type": {"enum": ["call", "put"]},
                            "expiry": {"type": "string"},
                            "strike": {"type": "number"},
                            "contracts": {"type": "number"},
                            "cost": _NUMBER,
                            "mark": _NUMBER,
                            "pnl": _NUMBER,
                            "pnl_pct": _NUMBER,
                            "spread_pct": _NUMBER,
                        },
                    },
                },
                "greeks": {
                    "type": "object",
                    "properties": {
                        "delta_shares_by_underlying": {
                            "type": "object",
                            "additionalProperties": _NUMBER,
                        },
                        "gamma_by_underlying": {"type": "object", "additionalProperties": _NUMBER},
                        "theta_per_day": _NUMBER,
                        "vega_per_vol_point": _NUMBER,
                    },
                },
                "stress": {"type": "array", "items": {"type": "object"}},
                "position_totals": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["position_id"],
                        "properties": {
                            "position_id": {"type": "string"},
                            "cost": _NUMBER,
                            "market_value": _NUMBER,
                            "pnl": _NUMBER,
                            "pnl_pct": _NUMBER,
                            "spread_pct": _NUMBER,
                        },
                    },
                },
                "totals": {"type": "object"},
            },
        },
        "symbols": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "symbol",
                    "snapshot_date",
                    "overview",
                    "volatility",
                    "chain",
                    "change",
                    "flow",
                    "warnings",
                ],
                "properties": {
                    "symbol": {"type": "string"},
                    "snapshot_date": _STRING,
                    "overview": {"type": "object"},
                    "volatility": {"type": "object"},
                    "chain": {"type": "object"},
                    "change": {"type": "object"},
                    "flow": {
                        "type": "object",
                        "properties": {
                            "building": {"type": "array"},
                            "unwinding": {"type": "array"},
                            "gap_sessions": {"type": "array"},
                        },
                    },
                    "warnings": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def fmt(value: Any, spec: str = ",.2f", suffix: str = "") -> str:
    """A number for a Markdown cell; missing values are an em dash."""
    if value is None:
        return "—"
    try:
        return f"{float(value):{spec}}{suffix}"
    except (TypeError, ValueError):
        return str(value)


def _history(sessions: Any) -> str:
    return "" if sessions is None else f" (over {sessions} prior sessions)"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _leg_row(p: dict[str, Any]) -> list[str]:
    return [
        p["position_id"],
        p["symbol"],
        f"{p.get('side', 'long')} {p['option_type']}",
        p["expiry"],
        fmt(p["strike"], "g"),
        fmt(p.get("contracts"), "g"),
        fmt(p.get("cost")),
        fmt(p.get("mark")),
        fmt(p.get("pnl")),
        fmt(p.get("pnl_pct"), ".1f", "%"),
        fmt(p.get("spread_pct"), ".1f", "%"),
    ]


def _position_row(first_leg: dict[str, Any], total: dict[str, Any], legs: int) -> list[str]:
    return [
        first_leg["position_id"],
        first_leg["symbol"],
        f"position ({legs} legs)",
        "",
        "",
        "",
        fmt(total.get("cost")),
        "—",
        fmt(total.get("pnl")),
        fmt(total.get("pnl_pct"), ".1f", "%"),
        fmt(total.get("spread_pct"), ".1f", "%"),
    ]


def _portfolio_section(portfolio: dict[str, Any]) -> list[str]:
    lines = ["## Portfolio", ""]
    positions = portfolio.get("positions") or []
    if not positions:
        return [
            *lines,
            "No positions. Import some with `python manage.py import_portfolio FILE`.",
            "",
        ]
    totals = {t["position_id"]: t for t in portfolio.get("position_totals") or []}
    rows: list[list[str]] = []
    for position_id, group in itertools.groupby(positions, key=lambda p: p["position_id"]):
        legs = list(group)
        rows += [_leg_row(p) for p in legs]
        if len(legs) > 1 and position_id in totals:  # a spread: its cost and P&L are its own
            rows.append(_position_row(legs[0], totals[position_id], len(legs)))
    headers = [
        "Position",
        "Symbol",
        "Type",
        "Expiry",
        "Strike",
        "Contracts",
        "Cost",
        "Mark",
        "P&L $",
        "P&L %",
        "Spread %",
    ]
    lines += _table(headers, rows)
    greeks = portfolio.get("greeks") or {}
    deltas = greeks.get("delta_shares_by_underlying") or {}
    per_underlying = ", ".join(
        f"{symbol} {fmt(value, ',.0f')}" for symbol, value in sorted(deltas.items())
    )
    lines += [
        "",
        f"**Greeks:** delta in shares of each underlying: {per_underlying or '—'} · "
        f"theta {fmt(greeks.get('theta_per_day'))} $/day · "
        f"vega {fmt(greeks.get('vega_per_vol_point'))} $ per vol point (model figures)",
        "",
        "### Stress (full Black–Scholes revaluation)",
        "",
    ]
    stress_rows = [
        [s["scenario"], fmt(s.get("pnl")), fmt(s.get("pnl_pct"), ".1f", "%")]
        for s in portfolio.get("stress") or []
    ]
    return [*lines, *_table(["Scenario", "P&L $", "P&L %"], stress_rows), ""]


def _flow_lines(flow: dict[str, Any]) -> list[str]:
    lines = []
    for kind in ("building", "unwinding"):
        items = flow.get(kind) or []
        text = ", ".join(
            f"{i['option_type']} {fmt(i['strike'], 'g')} ({fmt(i['delta_oi_notional'], ',.0f')} $)"
            for i in items
        )
        lines.append(f"- Top {kind}: {text or 'none'}")
    if flow.get("gap_sessions"):
        lines.append(f"- Flow window spans missing sessions: {', '.join(flow['gap_sessions'])}")
    return lines


def _symbol_section(item: dict[str, Any]) -> list[str]:
    ov, vol, ch, chg = item["overview"], item["volatility"], item["chain"], item["change"]
    lines = [
        f"### {item['symbol']} (snapshot {item.get('snapshot_date') or '—'})",
        "",
        f"- Overview: spot {fmt(ov.get('spot'))}, next earnings {ov.get('next_earnings') or 'unknown'}, "
        f"quotes missing bid/ask {fmt(ov.get('missing_bid_ask_pct'), '.1f', '%')}, "
        f"median spread {fmt(ov.get('median_spread_pct'), '.1f', '%')}",
        f"- Volatility regime: RV20 {fmt(vol.get('rv_20d'), '.1%')}, RV60 {fmt(vol.get('rv_60d'), '.1%')}, "
        f"IV/RV {fmt(vol.get('iv_rv_20d'), '.2f')}, IV percentile {fmt(vol.get('atm_iv_percentile'), '.0f')}, "
        f"IV rank {fmt(vol.get('atm_iv_rank'), '.0f')}{_history(vol.get('iv_history_sessions'))}, "
        f"term slope {fmt(vol.get('iv_term_slope'), '+.3f')}",
        f"- Chain: call wall {fmt(ch.get('call_wall'), 'g')}, put wall {fmt(ch.get('put_wall'), 'g')}, "
        f"max pain {fmt(ch.get('max_pain'), 'g')} ({ch.get('max_pain_expiry') or '—'}), "
        f"expected move {fmt(ch.get('em_near_pct'), '.1%')}, ATM IV {fmt(ch.get('atm_iv_near'), '.1%')}, "
        f"skew {fmt(ch.get('skew_near_pp'), '+.1f')} pp, gamma peak {fmt(ch.get('gamma_peak_strike'), 'g')}",
        f"- Change since {chg.get('previous_date') or 'previous snapshot'}: "
        f"spot {fmt(chg.get('spot'), '+,.2f')}, P/C OI {fmt(chg.get('pc_oi'), '+.2f')}, "
        f"P/C vol {fmt(chg.get('pc_vol'), '+.2f')}, ATM IV {fmt(chg.get('atm_iv_near'), '+.3f')}, "
        f"expected move {fmt(chg.get('em_near_pct'), '+.3f')}",
        *_flow_lines(item["flow"]),
    ]
    for warning in item["warnings"]:
        lines.append(f"- ⚠ {warning}")
    return [*lines, ""]


def render_markdown(report: dict[str, Any]) -> str:
    """The briefing as Markdown: title and disclaimer, portfolio, then one section per symbol."""
    lines = [
        f"# Daily options briefing — {report['market_date']}",
        "",
        f"> {report['disclaimer']}",
        "",
        *_portfolio_section(report["portfolio"]),
        "## Symbols",
        "",
    ]
    if not report["symbols"]:
        lines += ["No tracked symbols. Add some to a watchlist or the portfolio.", ""]
    for item in report["symbols"]:
        lines += _symbol_section(item)
    lines += [f"_Generated {report['generated_at']}. {report['disclaimer']}_", ""]
    return "\n".join(lines)
