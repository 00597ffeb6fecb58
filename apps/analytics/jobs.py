"""The analytics jobs: compute_flow, compute_derived, build_briefing, build_dashboard (SPEC §6.4–6.6).

Each job reads stored inputs through selectors (short reads), computes with the pure modules in
``apps.analytics.compute`` and lands the result with one short write (stores). Nothing here calls a
market-data provider.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
from django.conf import settings

from apps.analytics import briefing, stores
from apps.core import chain as chain_metrics
from apps.core import derived, flow
from apps.core.jobs import JobParams, JobResult, PartitionResult, RunLog, for_each_symbol
from apps.ledger.services.runs import market_ts
from apps.market import selectors
from apps.market import stores as warehouse_stores

DEFAULT_WINDOW = 1
DEFAULT_GROUP_BY = "contract"


# --- compute_flow --------------------------------------------------------------------------------


def _flow_symbol(
    symbol, started, *, params: JobParams, log, window, group_by, persist, top, tops: dict
) -> PartitionResult:
    """One symbol's flow partition; its top rows go into ``tops`` for the command's output."""
    dates = selectors.snapshot_dates(symbol, up_to=params.as_of.market_date)
    if len(dates) < window + 1:
        log.asset_skipped(
            "options_flow",
            symbol,
            "insufficient_snapshots",
            started_at=started,
            extra={"needed": window + 1, "available": len(dates)},
        )
        return PartitionResult(symbol, "skipped", detail="insufficient_snapshots")
    used = dates[-(window + 1) :]
    chains = selectors.snapshot_chains(symbol, used)
    result = flow.compute_flow(chains, as_of_date=used[-1], window=window, group_by=group_by)
    written = 0
    if persist:
        written = stores.flow_partition_replace(
            symbol=symbol,
            result=result,
            window=window,
            group_by=group_by,
            provider=str(chains["provider"].iloc[0]) if len(chains) else "",
            run_id=log.run_id or None,
        )
        log.asset_succeeded(
            "options_flow",
            symbol,
            started_at=started,
            rows_inserted=written,
            min_event_ts=market_ts(result.from_date),
            max_event_ts=market_ts(result.to_date),
            extra=result.meta(),
        )
        log.advance_watermark("options_flow", symbol, result.to_date)
    else:
        log.asset_skipped("options_flow", symbol, "not_persisted", started_at=started)
    partition = PartitionResult(
        symbol, "success" if persist else "skipped", rows=written, market_date=result.to_date
    )
    partition.detail = _gap_note(result)
    tops[symbol] = {
        "building": _records(flow.top_rows(result.rows, top, "building")),
        "unwinding": _records(flow.top_rows(result.rows, top, "unwinding")),
        "meta": result.meta(),
    }
    return partition


def _gap_note(result: flow.FlowResult) -> str:
    if not result.gap_sessions:
        return ""
    return "gap sessions: " + ", ".join(d.isoformat() for d in result.gap_sessions)


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso")) if len(frame) else []


def compute_flow(params: JobParams, *, log: RunLog) -> JobResult:
    window = int(params.options.get("window", DEFAULT_WINDOW))
    group_by = params.options.get("group_by", DEFAULT_GROUP_BY)
    persist = bool(params.options.get("persist", True))
    top = int(params.options.get("top", 10))
    tops: dict[str, dict] = {}

    def work(symbol, started):
        return _flow_symbol(
            symbol,
            started,
            params=params,
            log=log,
            window=window,
            group_by=group_by,
            persist=persist,
            top=top,
            tops=tops,
        )

    partitions = for_each_symbol(
        params, log, job="compute_flow", asset_key="options_flow", work=work
    )
    dates = [p.market_date for p in partitions if p.market_date]
    return JobResult(
        "compute_flow",
        max(dates) if dates else None,
        partitions,
        {
            "window": window,
            "group_by": group_by,
            "persisted": persist,
            "top": tops,
            "data_provider": _data_provider(params),
        },
    )


# --- compute_derived -----------------------------------------------------------------------------


def derived_for_date(symbol: str, day: dt.date) -> dict:
    """The derived_daily row of one symbol and date from stored inputs only (no look-ahead)."""
    header = selectors.snapshot_header(symbol, day)
    chain = selectors.snapshot_chains(symbol, [day])
    summary = chain_metrics.summarize_chain(chain, spot=float(header["spot"]), as_of=day)
    return derived.derived_row(
        symbol=symbol,
        date=day,
        chain_summary=summary,
        closes=selectors.closes_up_to(symbol, day),
        prior_atm_iv=selectors.derived_history(symbol, before=day),
    )


def _derived_symbol(symbol, started, *, params: JobParams, log: RunLog, all_dates: bool):
    dates = selectors.snapshot_dates(symbol, up_to=params.as_of.market_date)
    if not dates:
        log.asset_skipped("derived_daily", symbol, "no_snapshots", started_at=started)
        return PartitionResult(symbol, "skipped", detail="no_snapshots")
    todo = dates if all_dates else dates[-1:]
    written = 0
    for day in todo:  # oldest first, so each percentile sees the rows written before it
        row = derived_for_date(symbol, day)
        stats = warehouse_stores.derived_write(rows=pd.DataFrame([row]), provider="derived")
        written += stats.written
        log.heartbeat()
    log.asset_succeeded(
        "derived_daily",
        symbol,
        started_at=started,
        rows_inserted=written,
        min_event_ts=market_ts(todo[0]),
        max_event_ts=market_ts(todo[-1]),
    )
    log.advance_watermark("derived_daily", symbol, todo[-1])
    return PartitionResult(symbol, "success", rows=written, market_date=todo[-1])


def compute_derived(params: JobParams, *, log: RunLog) -> JobResult:
    all_dates = bool(params.options.get("all_dates", False))
    partitions = for_each_symbol(
        params,
        log,
        job="compute_derived",
        asset_key="derived_daily",
        work=lambda s, started: _derived_symbol(
            s, started, params=params, log=log, all_dates=all_dates
        ),
    )
    dates = [p.market_date for p in partitions if p.market_date]
    return JobResult(
        "compute_derived",
        max(dates) if dates else None,
        partitions,
        {"data_provider": _data_provider(params)},
    )


def _data_provider(params: JobParams) -> str:
    """The provider(s) of the stored snapshots these symbols were computed from ("" for none)."""
    headers = selectors.latest_snapshot_headers(
        list(params.symbols), up_to=params.as_of.market_date
    )
    return ",".join(sorted({str(h["provider"]) for h in headers.values() if h.get("provider")}))


# --- build_briefing / build_dashboard ------------------------------------------------------------


def _briefing_date(symbols: list[str], params: JobParams) -> dt.date:
    """The newest snapshot date of any of ``symbols`` at or before the as-of (else the calendar's)."""
    headers = selectors.latest_snapshot_headers(symbols, up_to=params.as_of.market_date)
    dates = [header["snapshot_date"] for header in headers.values()]
    return max(dates) if dates else params.as_of.market_date


def build_briefing(params: JobParams, *, log: RunLog) -> JobResult:
    """The briefing of the whole tracked set from stored data (a subset run refreshes its symbols;
    the others are rebuilt from the same stored data, so they stay as they were)."""
    started = dt.datetime.now(dt.UTC)
    directory = settings.REPORTS_DIR / "daily"
    candidates = briefing.briefing_symbols(
        requested=list(params.symbols), market_date=params.as_of.market_date, directory=directory
    )
    market_date = _briefing_date(candidates, params)
    symbols = briefing.briefing_symbols(
        requested=list(params.symbols), market_date=market_date, directory=directory
    )
    report = briefing.assemble(symbols=symbols, market_date=market_date)
    paths = briefing.write_files(report, directory=directory)
    for asset_key, path in (("briefing_markdown", paths.markdown), ("briefing_json", paths.json)):
        log.asset_succeeded(
            asset_key,
            "ALL",
            started_at=started,
            rows_inserted=1,
            bytes_written=path.stat().st_size,
            max_event_ts=market_ts(market_date),
            extra={"path": str(path)},
        )
        log.advance_watermark(asset_key, "ALL", market_date)
    partition = PartitionResult("ALL", "success", rows=1, market_date=market_date)
    output = {"markdown_path": str(paths.markdown), "json_path": str(paths.json)}
    return JobResult("build_briefing", market_date, [partition], output)


def build_dashboard(params: JobParams, *, log: RunLog) -> JobResult:
    started = dt.datetime.now(dt.UTC)
    source = briefing.newest_json(settings.REPORTS_DIR / "daily", up_to=params.as_of.market_date)
    if source is None:
        log.asset_skipped("dashboard_view", "ALL", "no_briefing", started_at=started)
        return JobResult("build_dashboard", None, [PartitionResult("ALL", "skipped")])
    payload = briefing.dashboard_payload(source)
    market_date = dt.date.fromisoformat(payload["market_date"])
    stores.dashboard_view_save(market_date=market_date, payload=payload, run_id=log.run_id or None)
    log.asset_succeeded(
        "dashboard_view",
        "ALL",
        started_at=started,
        rows_inserted=1,
        max_event_ts=market_ts(market_date),
    )
    log.advance_watermark("dashboard_view", "ALL", market_date)
    partition = PartitionResult("ALL", "success", rows=1, market_date=market_date)
    return JobResult("build_dashboard", market_date, [partition])
