"""Assembling the daily briefing from stored data, writing its files, and the dashboard view model.

Reads only (selectors, flow rows, positions); the rendering is pure (``compute.briefing``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.models import Max, Q, Sum
from django.utils import timezone

from apps.analytics.dashboard import DashboardSymbolRow
from apps.analytics.models import OptionsFlow, OptionsFlowPartition
from apps.analytics.valuation import portfolio_valuation
from apps.core.briefing import DISCLAIMER, SCHEMA_VERSION, render_markdown
from apps.core.derived import SHORT_IV_HISTORY
from apps.core.values import json_safe
from apps.ledger.models import AssetStatus, IngestionRunAsset
from apps.market import selectors
from apps.portfolio.selectors import select_symbols
from optionshelper import warehouse

TOP_FLOW = 3


def _derived_pairs(symbols: list[str], day: dt.date) -> dict[str, tuple[dict, dict]]:
    """Per symbol, the derived row at ``day`` and the one before it (for the change section)."""
    recent = selectors.derived_recent_many(symbols, up_to=day, limit=2)
    pairs = {}
    for symbol in symbols:
        rows = [json_safe(row) for row in recent.get(symbol, [])]
        pairs[symbol] = (rows[0] if rows else {}), (rows[1] if len(rows) > 1 else {})
    return pairs


_FLOW_VALUES = ("strike", "delta_oi", "delta_oi_notional")
_NO_FLOW = {"building": [], "unwinding": [], "gap_sessions": [], "window": None}


def _newest_partitions(symbols: list[str], day: dt.date) -> dict[str, OptionsFlowPartition]:
    """Per symbol, its newest stored flow partition ending on or before ``day`` (shortest window,
    then newest computation, first); two queries for the set."""
    newest = dict(
        OptionsFlowPartition.objects.filter(symbol__in=symbols, to_date__lte=day)
        .values_list("symbol")
        .annotate(newest=Max("to_date"))
        .order_by()
    )
    if not newest:
        return {}
    wanted = Q()
    for symbol, to_date in newest.items():
        wanted |= Q(symbol=symbol, to_date=to_date)
    picked: dict[str, OptionsFlowPartition] = {}
    for partition in OptionsFlowPartition.objects.filter(wanted).order_by(
        "symbol", "window", "-computed_at"
    ):
        picked.setdefault(partition.symbol, partition)
    return picked


def _flow_summaries(
    symbols: list[str], day: dt.date, partitions: dict[str, OptionsFlowPartition] | None = None
) -> dict[str, dict[str, Any]]:
    """Per symbol: top building/unwinding strikes of its newest stored partition ending on or
    before ``day`` (``partitions``, when already picked; ``stale_from`` names its end date when it
    is older than ``day``); summed per strike in SQL, for every symbol's partition in one query."""
    if partitions is None:
        partitions = _newest_partitions(symbols, day)
    by_partition: dict[int, list[dict[str, Any]]] = {}
    strikes = (
        OptionsFlow.objects.filter(
            partition__in=[p.pk for p in partitions.values()], strike__isnull=False
        )
        .values("partition_id", "option_type", "strike")
        .annotate(delta_oi=Sum("delta_oi"), delta_oi_notional=Sum("delta_oi_notional"))
        .order_by()
    )
    for row in strikes:
        by_partition.setdefault(row["partition_id"], []).append(row)
    summaries = {}
    for symbol in symbols:
        partition = partitions.get(symbol)
        if partition is None:
            summaries[symbol] = dict(_NO_FLOW)
            continue
        rows = by_partition.get(partition.pk, [])
        building = sorted(
            (r for r in rows if (r["delta_oi_notional"] or 0) > 0),
            key=lambda r: (-r["delta_oi_notional"], r["option_type"], r["strike"]),
        )
        unwinding = sorted(
            (r for r in rows if (r["delta_oi_notional"] or 0) < 0),
            key=lambda r: (r["delta_oi_notional"], r["option_type"], r["strike"]),
        )
        summaries[symbol] = {
            "window": partition.window,
            "net_delta_oi_notional": partition.net_delta_oi_notional,
            "building": json_safe([_flow_row(row) for row in building[:TOP_FLOW]]),
            "unwinding": json_safe([_flow_row(row) for row in unwinding[:TOP_FLOW]]),
            "gap_sessions": list(partition.gap_sessions),
            "stale_from": partition.to_date.isoformat() if partition.to_date < day else None,
        }
    return summaries


def _flow_row(row: dict[str, Any]) -> dict[str, Any]:
    values = {k: None if row[k] is None else float(row[k]) for k in _FLOW_VALUES}
    return {"option_type": row["option_type"], **values}


def _change(today: dict, before: dict) -> dict[str, Any]:
    fields = ("spot", "pc_oi", "pc_vol", "atm_iv_near", "em_near_pct")
    change = {"previous_date": before.get("date")}
    for name in fields:
        a, b = today.get(name), before.get(name)
        change[name] = None if a is None or b is None else a - b
    return change


def _warnings(header: dict, today: dict, flow: dict, market_date: dt.date) -> list[str]:
    warnings = []
    snapshot_date = header.get("snapshot_date")
    if snapshot_date and snapshot_date < market_date.isoformat():
        warnings.append(f"snapshot is from {snapshot_date}, older than {market_date}")
    quality = header.get("quote_quality") or {}
    missing = quality.get("missing_bid_ask_share")
    if missing is not None and missing > 0.25:
        warnings.append(f"{missing:.0%} of contracts have no two-sided quote")
    if today.get("atm_iv_rank") is not None and today["atm_iv_rank"] >= 80:
        warnings.append(f"ATM IV rank is high ({today['atm_iv_rank']:.0f})")
    history = today.get("iv_history")
    if today.get("atm_iv_rank") is not None and history is not None and history < SHORT_IV_HISTORY:
        warnings.append(
            f"IV rank and percentile rest on only {history} prior sessions: they swing to 0 or "
            "100 easily"
        )
    earnings = (header.get("meta") or {}).get("next_earnings")
    if earnings and (dt.date.fromisoformat(earnings) - market_date).days <= 21:
        warnings.append(f"earnings on {earnings}")
    if flow.get("gap_sessions"):
        warnings.append("flow window spans missing sessions: " + ", ".join(flow["gap_sessions"]))
    if not today:
        warnings.append("no derived metrics yet: run compute_derived")
    return warnings


def _parsed_header(raw: dict[str, Any] | None) -> dict[str, Any]:
    """A stored snapshot header as JSON-safe data, its JSON columns decoded."""
    header = json_safe(raw or {})
    for key in ("quote_quality", "meta"):
        if isinstance(header.get(key), str):
            header[key] = json.loads(header[key])
    return header


def _stale_note(
    header: dict, today: dict, flow: dict, market_date: dt.date, failure: str | None
) -> str | None:
    """Why a section shows older values (its inputs for ``market_date`` are missing), or None."""
    day = market_date.isoformat()
    old = [
        f"{what} from {when}"
        for what, when in (
            ("snapshot", header.get("snapshot_date")),
            ("derived metrics", today.get("date")),
            ("flow", flow.get("stale_from")),
        )
        if when and str(when) < day
    ]
    if not old and not failure:
        return None
    cause = f"{failure}; " if failure else ""
    shown = ", ".join(old) if old else "no newer values"
    return f"stale: {cause}showing {shown} (not {day})"


def _symbol_report(
    symbol: str,
    raw_header: dict | None,
    market_date: dt.date,
    *,
    derived: tuple[dict, dict],
    flow: dict[str, Any],
    failure: str | None = None,
) -> dict[str, Any]:
    header = _parsed_header(raw_header)
    today, before = derived
    quality = header.get("quote_quality") or {}
    share = quality.get("missing_bid_ask_share")
    note = _stale_note(header, today, flow, market_date, failure)
    warnings = _warnings(header, today, flow, market_date)
    return {
        "symbol": symbol,
        "stale": note is not None,
        "stale_note": note,
        "snapshot_date": header.get("snapshot_date"),
        "overview": {
            "spot": header.get("spot"),
            "next_earnings": (header.get("meta") or {}).get("next_earnings"),
            "missing_bid_ask_pct": None if share is None else share * 100,
            "median_spread_pct": quality.get("median_spread_pct"),
            "contracts": header.get("contracts"),
        },
        "volatility": {
            k: today.get(k)
            for k in (
                "rv_20d",
                "rv_60d",
                "iv_rv_20d",
                "atm_iv_percentile",
                "atm_iv_rank",
                "iv_term_slope",
            )
        }
        | {"iv_history_sessions": today.get("iv_history")},
        "chain": {
            k: today.get(k)
            for k in (
                "call_wall",
                "put_wall",
                "max_pain",
                "max_pain_expiry",
                "em_near_pct",
                "atm_iv_near",
                "skew_near_pp",
                "gamma_peak_strike",
                "pc_oi",
                "pc_vol",
            )
        },
        "change": _change(today, before),
        "flow": flow,
        "warnings": ([note] if note else []) + warnings,
    }


def _portfolio_report(market_date: dt.date) -> dict[str, Any]:
    valuation = portfolio_valuation(up_to=market_date)
    if valuation.empty:
        return {"positions": [], "greeks": {}, "stress": [], "totals": valuation.totals}
    positions = [
        {
            "position_id": row["position_id"],
            "symbol": row["symbol"],
            "side": row["side"],
            "option_type": row["option_type"],
            "expiry": row["expiry"],
            "strike": row["strike"],
            "contracts": row["contracts"],
            "cost": row["cost_basis"],
            "mark": row["mark"],
            "pnl": row["pnl"],
            "pnl_pct": row["pnl_pct"],
            "spread_pct": row["spread_pct"],
            "market_value": row["market_value"],
        }
        for row in valuation.valued.to_dict("records")
    ]
    return json_safe(
        {
            "positions": positions,
            # Per position, as the Portfolio page shows it (a spread's cost and P&L are its own).
            "position_totals": [
                {
                    k: p[k]
                    for k in ("position_id", "cost", "market_value", "pnl", "pnl_pct", "spread_pct")
                }
                for p in valuation.positions
            ],
            "greeks": valuation.greeks(),
            "stress": valuation.stress().to_dict("records"),
            "totals": valuation.totals,
        }
    )


def _upstream_failures(symbols: list[str], market_date: dt.date) -> dict[str, str]:
    """symbol → "<job> failed: <error>" for its newest failed per-symbol event of that market date
    (a later success of the same asset clears it)."""
    events = (
        IngestionRunAsset.objects.filter(
            partition_key__in=symbols, run__as_of=market_date, asset_key__in=_UPSTREAM_ASSETS
        )
        .order_by("partition_key", "asset_key", "-run__started_at")
        .values_list("partition_key", "asset_key", "status", "pk")
    )
    # Every re-run adds events for the date: the newest per (symbol, asset) is read first, and the
    # error text only of the failed ones.
    seen: set[tuple[str, str]] = set()
    failed: dict[str, int] = {}
    for symbol, asset_key, status, pk in events:
        if (symbol, asset_key) in seen:
            continue
        seen.add((symbol, asset_key))
        if status == AssetStatus.FAILED and symbol not in failed:
            failed[symbol] = pk
    details = IngestionRunAsset.objects.filter(pk__in=failed.values()).values_list(
        "pk", "run__job_name", "extra"
    )
    described = {pk: (job_name, extra) for pk, job_name, extra in details} if failed else {}
    failures: dict[str, str] = {}
    for symbol, pk in failed.items():
        job_name, extra = described[pk]
        error = str((extra or {}).get("error") or "").splitlines()[:1]
        failures[symbol] = f"{job_name} failed" + (f": {error[0][:160]}" if error else "")
    return failures


_UPSTREAM_ASSETS = ("options_snapshots", "derived_daily", "options_flow", "candles_daily")


def briefing_symbols(*, requested: list[str], market_date: dt.date, directory: Path) -> list[str]:
    """Those already in that day's briefing, the requested ones, then every other tracked symbol
    (portfolio + watchlists): a subset run refreshes its symbols and leaves the others in place."""
    existing = newest_json(directory, up_to=market_date) or {}
    kept = (
        [item["symbol"] for item in existing.get("symbols") or []]
        if existing.get("market_date") == market_date.isoformat()
        else []
    )
    ordered = list(dict.fromkeys([*kept, *requested]))  # that day's order, then the new ones
    return ordered + sorted(set(select_symbols()) - set(ordered))


# The code that turns a briefing's inputs into its files (the inputs themselves are computed by the
# current code before they are fingerprinted).
_RENDERING_MODULES = ("apps.analytics.briefing", "apps.core.briefing", "apps.core.values")


@functools.cache
def rendering_code_digest() -> str:
    """A hash of the contents of ``_RENDERING_MODULES``' source files: the same on every host and
    checkout of one release, whatever the files' times."""
    digest = hashlib.sha256()
    for name in _RENDERING_MODULES:
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class BriefingInputs:
    """Everything a briefing is built from except the flow rows, which are identified by their
    partitions (a partition's rows never change; a recomputation is a new partition)."""

    symbols: list[str]
    market_date: dt.date
    failures: dict[str, str]
    headers: dict[str, dict]
    portfolio: dict[str, Any]
    derived: dict[str, tuple[dict, dict]]
    partitions: dict[str, OptionsFlowPartition]

    @functools.cached_property
    def digest(self) -> str:
        """A fingerprint of the inputs and of the code that assembles and renders them (a release
        that changes it rebuilds the briefing once): equal digests build equal briefings, so a
        briefing stored with this digest is up to date."""
        facts = {
            "layout": [
                SCHEMA_VERSION,
                DISCLAIMER,
                TOP_FLOW,
                SHORT_IV_HISTORY,
                rendering_code_digest(),
            ],
            "market_date": self.market_date,
            "symbols": self.symbols,
            "failures": self.failures,
            "headers": self.headers,
            "portfolio": self.portfolio,
            "derived": self.derived,
            "flow": {s: [p.pk, p.computed_at] for s, p in sorted(self.partitions.items())},
        }
        text = json.dumps(json_safe(facts), sort_keys=True, allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()


def briefing_inputs(
    *, symbols: list[str], market_date: dt.date, headers: dict[str, dict] | None = None
) -> BriefingInputs:
    """Read the briefing's inputs (every warehouse read on one connection); ``headers``, when the
    caller already holds the symbols' newest snapshot headers up to ``market_date``."""
    with warehouse.read():
        if headers is None:
            headers = selectors.latest_snapshot_headers(sorted(set(symbols)), up_to=market_date)
        portfolio = _portfolio_report(market_date)
        derived = _derived_pairs(list(symbols), market_date)
    return BriefingInputs(
        symbols=list(symbols),
        market_date=market_date,
        failures=_upstream_failures(list(symbols), market_date),
        headers=headers,
        portfolio=portfolio,
        derived=derived,
        partitions=_newest_partitions(list(symbols), market_date),
    )


def assemble(inputs: BriefingInputs) -> dict[str, Any]:
    """The whole briefing as JSON-safe data (the .json file; the .md is rendered from it).

    Built from stored data only: a symbol whose inputs for ``market_date`` are missing (its upstream
    job failed) keeps its newest older values, marked ``stale`` with a note, instead of vanishing.
    """
    symbols, market_date = inputs.symbols, inputs.market_date
    flows = _flow_summaries(symbols, market_date, inputs.partitions)
    reports = [
        _symbol_report(
            s,
            inputs.headers.get(s),
            market_date,
            derived=inputs.derived[s],
            flow=flows[s],
            failure=inputs.failures.get(s),
        )
        for s in symbols
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "market_date": market_date.isoformat(),
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "inputs_digest": inputs.digest,
        "disclaimer": DISCLAIMER,
        "portfolio": inputs.portfolio,
        "symbols": reports,
    }


def stored_digest(directory: Path, market_date: dt.date) -> str | None:
    """The inputs digest of the briefing stored for ``market_date`` (None when either of its two
    files is missing or the JSON is unreadable)."""
    json_path = directory / f"{market_date.isoformat()}.json"
    if not (json_path.exists() and json_path.with_suffix(".md").exists()):
        return None
    try:
        digest = json.loads(json_path.read_text(encoding="utf-8")).get("inputs_digest")
    except (OSError, ValueError, AttributeError):
        return None
    return digest if isinstance(digest, str) else None


@dataclass(frozen=True)
class BriefingPaths:
    markdown: Path
    json: Path


def _atomic_write(path: Path, text: str) -> None:
    """Write beside the target and rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_files(report: dict[str, Any], *, directory: Path) -> BriefingPaths:
    directory.mkdir(parents=True, exist_ok=True)
    paths = BriefingPaths(
        markdown=directory / f"{report['market_date']}.md",
        json=directory / f"{report['market_date']}.json",
    )
    # The JSON last: it carries the inputs digest, so a briefing cut off between the two files is
    # rebuilt, never taken for up to date.
    _atomic_write(paths.markdown, render_markdown(report))
    _atomic_write(paths.json, json.dumps(report, indent=2, sort_keys=True, allow_nan=False))
    return paths


def newest_json(directory: Path, *, up_to: dt.date | None = None) -> dict[str, Any] | None:
    """The newest briefing JSON dated at or before ``up_to`` (file names are ISO dates)."""
    if not directory.exists():
        return None
    candidates = sorted(
        p for p in directory.glob("*.json") if up_to is None or p.stem <= up_to.isoformat()
    )
    if not candidates:
        return None
    report = json.loads(candidates[-1].read_text(encoding="utf-8"))
    report["_paths"] = {
        "markdown_path": str(candidates[-1].with_suffix(".md")),
        "json_path": str(candidates[-1]),
    }
    return report


def dashboard_payload(report: dict[str, Any]) -> dict[str, Any]:
    """The home page's stored view model: the briefing's headline facts. Health and job status are
    not stored: the page reads them live from the ledger, as the Health page does."""
    symbols = [
        DashboardSymbolRow(
            symbol=item["symbol"],
            spot=item["overview"].get("spot"),
            change_pct=_pct(item["change"].get("spot"), item["overview"].get("spot")),
            pc_oi=item["chain"].get("pc_oi"),
            atm_iv=item["chain"].get("atm_iv_near"),
            iv_rank=item["volatility"].get("atm_iv_rank"),
            iv_history=item["volatility"].get("iv_history_sessions"),
            flow_net_notional=item["flow"].get("net_delta_oi_notional"),
            flow_window=item["flow"].get("window"),
            warnings=len(item["warnings"]),
            stale=bool(item.get("stale")),
            stale_note=item.get("stale_note"),
        ).to_payload()
        for item in report["symbols"]
    ]
    return json_safe(
        {
            "schema_version": 2,
            "market_date": report["market_date"],
            "built_at": timezone.now().isoformat(timespec="seconds"),
            "symbols": symbols,
            "portfolio": report["portfolio"].get("totals") or {},
            "briefing": report.get("_paths", {}),
            "disclaimer": "Not financial advice.",
        }
    )


def _pct(change: float | None, spot: float | None) -> float | None:
    if change is None or not spot or spot == change:
        return None
    return change / (spot - change) * 100
