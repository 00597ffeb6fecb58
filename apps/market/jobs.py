"""The producer jobs: ingest_candles, ingest_options_bars, snapshot_options (SPEC §6.2).

Each job loops over symbols (one partition each). Per symbol it reads what is stored (selectors),
fetches only what is missing from the provider, validates it, computes in memory, and lands it with
one short write (stores). A symbol's failure is recorded on its own and the others go on.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from apps.core import greeks
from apps.core.jobs import JobParams, JobResult, PartitionResult, RunLog, for_each_symbol
from apps.ledger.services.runs import market_ts
from apps.market import selectors, stores
from apps.market.providers.base import MarketDataProvider, NoDataError, UnsupportedByProvider
from apps.market.providers.registry import get_provider
from apps.market.providers.validation import clean_chain, validate_history, validate_spot

DEFAULT_CANDLE_LOOKBACK_DAYS = 400
DEFAULT_BAR_LOOKBACK_DAYS = 30
BAR_BATCH = 500


# A provider with nothing for the date, or no such data at all, is a skip, not a failure.
PROVIDER_SKIPS = {NoDataError: "no_data", UnsupportedByProvider: "unsupported_by_provider"}


# --- ingest_candles ------------------------------------------------------------------------------


def _has_corporate_action(frame: pd.DataFrame) -> bool:
    actions = frame[["dividends", "splits"]].fillna(0.0)
    return bool(
        (actions["dividends"] > 0).any()
        or ((actions["splits"] > 0) & (actions["splits"] != 1)).any()
    )


def _ingest_candles_symbol(
    symbol: str,
    started: dt.datetime,
    *,
    provider: MarketDataProvider,
    market_date: dt.date,
    lookback_days: int,
    log,
) -> PartitionResult:
    last = selectors.latest_candle_date(symbol)
    if last is not None and last >= market_date:
        log.asset_succeeded("candles_daily", symbol, started_at=started, extra={"up_to_date": True})
        log.advance_watermark("candles_daily", symbol, last)
        return PartitionResult(symbol, "success", detail="up to date", market_date=last)
    start = last + dt.timedelta(days=1) if last else market_date - dt.timedelta(days=lookback_days)
    frame = validate_history(symbol, provider.get_history(symbol, start, market_date))
    if frame.empty:
        raise NoDataError(symbol, f"no candles between {start} and {market_date}")
    replace_all = last is not None and _has_corporate_action(frame)
    if replace_all:  # adjusted history changed: fetch and replace everything we hold
        first = selectors.first_candle_date(symbol) or start
        frame = validate_history(symbol, provider.get_history(symbol, first, market_date))
    stats = stores.candles_write(
        symbol=symbol, frame=frame, provider=provider.name, replace_all=replace_all
    )
    newest = max(frame["date"])
    log.asset_succeeded(
        "candles_daily",
        symbol,
        started_at=started,
        rows_inserted=stats.inserted,
        rows_updated=stats.updated,
        rows_deleted=stats.deleted,
        min_event_ts=market_ts(min(frame["date"])),
        max_event_ts=market_ts(newest),
        extra={"refetched_all": replace_all} if replace_all else None,
    )
    log.advance_watermark("candles_daily", symbol, newest)
    return PartitionResult(symbol, "success", rows=stats.written, market_date=newest)


def ingest_candles(params: JobParams, *, log: RunLog) -> JobResult:
    provider = get_provider(params.provider)
    market_date = params.as_of.market_date
    lookback = int(params.options.get("lookback_days") or DEFAULT_CANDLE_LOOKBACK_DAYS)
    partitions = for_each_symbol(
        params,
        log,
        job="ingest_candles",
        asset_key="candles_daily",
        work=lambda s, started: _ingest_candles_symbol(
            s, started, provider=provider, market_date=market_date, lookback_days=lookback, log=log
        ),
        skip_on=PROVIDER_SKIPS,
    )
    return JobResult("ingest_candles", market_date, partitions, {"provider": provider.name})


# --- ingest_options_bars -------------------------------------------------------------------------


def _bars_meta(
    contracts: list[str], bars: pd.DataFrame, *, provider: str, start, end
) -> pd.DataFrame:
    """Per contract: what this fetch covered (rows, dates), so the next run resumes after it."""
    now = dt.datetime.now(dt.UTC)
    counts = bars.groupby("contract_symbol").size() if not bars.empty else pd.Series(dtype="int64")
    meta = pd.DataFrame({"contract_symbol": contracts})
    meta["provider"] = provider
    meta["status"] = "ok"
    meta["rows"] = meta["contract_symbol"].map(counts).fillna(0).astype("int64")
    meta["start_date"] = start
    meta["end_date"] = end
    meta["last_success_at"] = now
    meta["last_attempt_at"] = now
    meta["last_error"] = None
    meta["error_count"] = 0
    return meta


def _ingest_bars_symbol(
    symbol: str,
    started: dt.datetime,
    *,
    provider: MarketDataProvider,
    market_date: dt.date,
    lookback_days: int,
    log,
) -> PartitionResult:
    if not provider.supports_option_bars:
        for asset_key in ("option_contracts", "option_bars"):
            log.asset_skipped(asset_key, symbol, "unsupported_by_provider", started_at=started)
        return PartitionResult(symbol, "skipped", detail="unsupported_by_provider")
    contracts = provider.list_option_contracts(symbol, as_of=market_date)
    contract_stats = stores.contracts_write(frame=contracts, provider=provider.name)
    log.asset_succeeded(
        "option_contracts",
        symbol,
        started_at=started,
        rows_inserted=contract_stats.inserted,
        rows_updated=contract_stats.updated,
    )
    coverage = selectors.bar_coverage(symbol, provider.name)
    coverage = coverage[coverage["contract_symbol"].isin(set(contracts["contract_symbol"]))]
    default_start = market_date - dt.timedelta(days=lookback_days)
    resume_from = pd.to_datetime(coverage["end_date"]) + pd.Timedelta(days=1)
    coverage["fetch_from"] = resume_from.fillna(pd.Timestamp(default_start)).dt.date
    todo = coverage[coverage["fetch_from"] <= market_date]
    written = inserted = updated = 0
    for fetch_from, group in todo.groupby("fetch_from"):
        names = list(group["contract_symbol"])
        for offset in range(0, len(names), BAR_BATCH):
            batch = names[offset : offset + BAR_BATCH]
            bars = provider.get_option_bars(batch, fetch_from, market_date)
            stats = stores.bars_write(frame=bars, provider=provider.name)
            stores.bars_meta_write(
                frame=_bars_meta(
                    batch, bars, provider=provider.name, start=fetch_from, end=market_date
                )
            )
            inserted, updated, written = (
                inserted + stats.inserted,
                updated + stats.updated,
                written + stats.written,
            )
            log.heartbeat()
    newest = selectors.latest_bar_date(symbol, provider.name)
    log.asset_succeeded(
        "option_bars",
        symbol,
        started_at=started,
        rows_inserted=inserted,
        rows_updated=updated,
        max_event_ts=market_ts(newest),
        extra={"contracts_fetched": int(len(todo))},
    )
    if newest:
        log.advance_watermark("option_bars", symbol, newest)
    return PartitionResult(symbol, "success", rows=written, market_date=newest)


def ingest_options_bars(params: JobParams, *, log: RunLog) -> JobResult:
    provider = get_provider(params.provider)
    market_date = params.as_of.market_date
    lookback = int(params.options.get("lookback_days") or DEFAULT_BAR_LOOKBACK_DAYS)
    partitions = for_each_symbol(
        params,
        log,
        job="ingest_options_bars",
        asset_key="option_bars",
        work=lambda s, started: _ingest_bars_symbol(
            s, started, provider=provider, market_date=market_date, lookback_days=lookback, log=log
        ),
        skip_on=PROVIDER_SKIPS,
    )
    return JobResult("ingest_options_bars", market_date, partitions, {"provider": provider.name})


# --- snapshot_options ----------------------------------------------------------------------------


def _snapshot_symbol(
    symbol: str,
    started: dt.datetime,
    *,
    provider: MarketDataProvider,
    as_of: dt.date | None,
    rate: float,
    log,
) -> PartitionResult:
    snapshot = provider.get_chain_snapshot(symbol, as_of=as_of)
    spot = validate_spot(symbol, snapshot.spot)
    cleaned = clean_chain(
        symbol, snapshot.chain, snapshot_date=snapshot.snapshot_date, spot=spot
    )
    enriched = greeks.enrich_chain(
        cleaned.chain, spot=spot, as_of=snapshot.snapshot_date, risk_free_rate=rate
    )
    quality = greeks.quote_quality(enriched)
    meta = {
        "iv_sources": enriched["iv_source"].value_counts().to_dict(),
        "expiries": int(enriched["expiry"].nunique()),
        "next_earnings": _iso(provider.next_earnings(symbol, as_of=snapshot.snapshot_date)),
        "rows_received": cleaned.rows_received,
        "dropped_rows": cleaned.dropped,
    }
    stats = stores.snapshot_write(
        symbol=symbol,
        snapshot_date=snapshot.snapshot_date,
        provider=provider.name,
        spot=spot,
        risk_free_rate=rate,
        chain=enriched,
        quote_quality=quality,
        meta=meta,
    )
    log.asset_succeeded(
        "options_snapshots",
        symbol,
        started_at=started,
        rows_inserted=stats.inserted,
        rows_updated=stats.updated,
        rows_deleted=stats.deleted,
        max_event_ts=market_ts(snapshot.snapshot_date),
        extra={
            "snapshot_date": snapshot.snapshot_date.isoformat(),
            "contracts": len(enriched),
            "dropped_rows": cleaned.dropped_total,
        },
    )
    log.advance_watermark("options_snapshots", symbol, snapshot.snapshot_date)
    return PartitionResult(
        symbol, "success", rows=len(enriched), market_date=snapshot.snapshot_date
    )


def snapshot_options(params: JobParams, *, log: RunLog) -> JobResult:
    provider = get_provider(params.provider)
    rate = float(params.options.get("risk_free_rate") or 0.0)
    partitions = for_each_symbol(
        params,
        log,
        job="snapshot_options",
        asset_key="options_snapshots",
        work=lambda s, started: _snapshot_symbol(
            s, started, provider=provider, as_of=params.as_of.market_date, rate=rate, log=log
        ),
        skip_on=PROVIDER_SKIPS,
    )
    dates = [p.market_date for p in partitions if p.market_date]
    market_date = max(dates) if dates else params.as_of.market_date
    return JobResult("snapshot_options", market_date, partitions, {"provider": provider.name})


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
