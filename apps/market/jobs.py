"""The producer jobs: ingest_candles, ingest_options_bars, snapshot_options (SPEC §6.2).

Each job asks the warehouse once, for the whole symbol set, what is already stored; then per symbol
(one partition each) it fetches only what is missing from the provider, validates it and computes
in memory; the computed partitions are written in bounded batches, each batch in one transaction
on one writer connection (``stores``), so readers get in between batches. A symbol's failure is
recorded on its own and the others go on.

A partition already stored from the same provider for the market date is recorded ``skipped`` with
reason ``up_to_date`` and nothing is written, unless the job's ``force`` option is set
(``--force``), which fetches and replaces it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction

from apps.core import greeks
from apps.core.jobs import (
    JobParams,
    JobResult,
    PartitionResult,
    RunLog,
    for_each_symbol,
    record_up_to_date,
)
from apps.ledger.services.run_logger import RunLogger
from apps.ledger.services.run_types import market_ts
from apps.market import selectors, stores
from apps.market.providers.base import (
    ChainSnapshot,
    MarketDataProvider,
    NoDataError,
    ProviderError,
    UnsupportedByProvider,
)
from apps.market.providers.registry import get_provider
from apps.market.providers.validation import (
    ChainInput,
    clean_chains,
    validate_history,
    validate_spot,
)

logger = logging.getLogger("optionshelper.jobs")

DEFAULT_CANDLE_LOOKBACK_DAYS = 400
DEFAULT_BAR_LOOKBACK_DAYS = 30
# Rows gathered in memory before one write transaction lands them (bounds memory and lock hold).
# Chains land in fewer, larger transactions: at 500 symbols, 250,000-row batches made the write
# step about 3x a raw insert of the same rows (each batch's checkpoint costing ~0.4 s), 500,000-row
# batches about 1.4x, at the same peak memory (bench/README.md, "Issue 12, eighth round").
SNAPSHOT_BATCH_ROWS = 500_000
BAR_BATCH_ROWS = 250_000
CANDLE_BATCH_SYMBOLS = 200
# Symbols whose chains are fetched, validated and enriched together (one set-based pass).
SNAPSHOT_CHUNK_SYMBOLS = 64


# A provider with nothing for the date, or no such data at all, is a skip, not a failure.
PROVIDER_SKIPS = {NoDataError: "no_data", UnsupportedByProvider: "unsupported_by_provider"}


def _ledger_batch(log: RunLog) -> contextlib.AbstractContextManager:
    """One metadata-database transaction for a landed batch's ledger events and watermarks (one
    commit per batch instead of two per symbol); nothing to open for a logger without a run."""
    return transaction.atomic() if isinstance(log, RunLogger) else contextlib.nullcontext()


@dataclass
class _Staged:
    """A partition computed in memory, waiting for its batch to be written."""

    result: PartitionResult
    started: dt.datetime
    payload: Any


class _Batch:
    """Gathers staged partitions and writes them together once ``max_rows`` are waiting.

    ``land(items)`` writes the items in one transaction and records their success; if it raises,
    every partition of the batch is recorded failed (nothing of the batch was written).
    """

    def __init__(
        self,
        *,
        log: RunLog,
        asset_keys: tuple[str, ...],
        land: Callable[[list[_Staged]], None],
        max_rows: int,
    ) -> None:
        self.log, self.asset_keys, self.land, self.max_rows = log, asset_keys, land, max_rows
        self.items: list[_Staged] = []
        self.rows = 0

    def add(self, item: _Staged, rows: int) -> PartitionResult:
        self.items.append(item)
        self.rows += rows
        if self.rows >= self.max_rows:
            self.flush()
        return item.result

    def flush(self) -> None:
        items, self.items, self.rows = self.items, [], 0
        if not items:
            return
        try:
            self.land(items)
        except Exception as exc:  # the batch is one transaction: none of it landed
            for item in items:
                for asset_key in self.asset_keys:
                    self.log.asset_failed(
                        asset_key, item.result.symbol, exc, started_at=item.started
                    )
                item.result.status = "failed"
                item.result.rows = 0
                item.result.detail = f"{type(exc).__name__}: {exc}"
        self.log.heartbeat()


# --- ingest_candles ------------------------------------------------------------------------------


def _has_corporate_action(frame: pd.DataFrame) -> bool:
    actions = frame[["dividends", "splits"]].fillna(0.0)
    return bool(
        (actions["dividends"] > 0).any()
        or ((actions["splits"] > 0) & (actions["splits"] != 1)).any()
    )


def _stage_candles(
    symbol: str,
    started: dt.datetime,
    *,
    provider: MarketDataProvider,
    market_date: dt.date,
    lookback_days: int,
    stored: tuple[dt.date, dt.date] | None,
    force: bool,
) -> _Staged:
    first, last = stored if stored else (None, None)
    if last is None or force:
        start = market_date - dt.timedelta(days=lookback_days)
    else:
        start = last + dt.timedelta(days=1)
    frame = validate_history(symbol, provider.get_history(symbol, start, market_date))
    if frame.empty:
        raise NoDataError(symbol, f"no candles between {start} and {market_date}")
    replace_all = last is not None and _has_corporate_action(frame)
    if replace_all:  # adjusted history changed: fetch and replace everything we hold
        frame = validate_history(
            symbol, provider.get_history(symbol, min(first, start), market_date)
        )
    newest = max(frame["date"])
    result = PartitionResult(symbol, "success", rows=len(frame), market_date=newest)
    return _Staged(result, started, (frame, replace_all))


def _land_candles(items: list[_Staged], *, provider: str, log: RunLog) -> None:
    stats = stores.candles_write_many(
        frames={item.result.symbol: item.payload[0] for item in items},
        provider=provider,
        replace_all=[item.result.symbol for item in items if item.payload[1]],
    )
    with _ledger_batch(log):
        for item in items:
            _candles_landed(item, stats, log)


def _candles_landed(item: _Staged, stats: dict[str, stores.WriteStats], log: RunLog) -> None:
    symbol, (frame, replace_all) = item.result.symbol, item.payload
    s = stats.get(symbol, stores.WriteStats())
    log.asset_succeeded(
        "candles_daily",
        symbol,
        started_at=item.started,
        rows_inserted=s.inserted,
        rows_updated=s.updated,
        rows_deleted=s.deleted,
        min_event_ts=market_ts(min(frame["date"])),
        max_event_ts=market_ts(item.result.market_date),
        extra={"refetched_all": replace_all} if replace_all else None,
    )
    log.advance_watermark("candles_daily", symbol, item.result.market_date)
    item.result.rows = s.written


def ingest_candles(params: JobParams, *, log: RunLog) -> JobResult:
    provider = get_provider(params.provider)
    market_date = params.as_of.market_date
    lookback = int(params.options.get("lookback_days") or DEFAULT_CANDLE_LOOKBACK_DAYS)
    force = params.force
    stored = selectors.candle_ranges(list(params.symbols))
    batch = _Batch(
        log=log,
        asset_keys=("candles_daily",),
        land=lambda items: _land_candles(items, provider=provider.name, log=log),
        max_rows=CANDLE_BATCH_SYMBOLS,
    )

    def work(symbol: str, started: dt.datetime) -> PartitionResult:
        last = stored[symbol][1] if symbol in stored else None
        if last is not None and last >= market_date and not force:
            return record_up_to_date(log, ("candles_daily",), symbol, last, started_at=started)
        staged = _stage_candles(
            symbol,
            started,
            provider=provider,
            market_date=market_date,
            lookback_days=lookback,
            stored=stored.get(symbol),
            force=force,
        )
        return batch.add(staged, rows=1)

    partitions = for_each_symbol(
        params,
        log,
        job="ingest_candles",
        asset_key="candles_daily",
        work=work,
        skip_on=PROVIDER_SKIPS,
    )
    batch.flush()
    return JobResult("ingest_candles", market_date, partitions, {"provider": provider.name})


# --- ingest_options_bars -------------------------------------------------------------------------


def _bars_meta(fetched: pd.DataFrame, bars: pd.DataFrame, *, provider: str, end) -> pd.DataFrame:
    """Per fetched contract (``contract_symbol``, ``fetch_from``): what the fetch covered (rows,
    dates), so the next run resumes after it."""
    now = dt.datetime.now(dt.UTC)
    counts = bars.groupby("contract_symbol").size() if not bars.empty else pd.Series(dtype="int64")
    names = fetched["contract_symbol"].to_numpy()
    return pd.DataFrame(
        {
            "contract_symbol": names,
            "provider": provider,
            "status": "ok",
            "rows": pd.Series(names).map(counts).fillna(0).astype("int64").to_numpy(),
            "start_date": fetched["fetch_from"].to_numpy(),
            "end_date": end,
            "last_success_at": now,
            "last_attempt_at": now,
            "last_error": None,
            "error_count": 0,
        }
    )


def _stage_bars(
    symbol: str,
    started: dt.datetime,
    *,
    provider: MarketDataProvider,
    market_date: dt.date,
    lookback_days: int,
    coverage: pd.DataFrame,
    force: bool,
    log: RunLog,
) -> _Staged | None:
    """Fetch the bars the symbol's listed contracts miss; None when nothing is missing."""
    contracts = provider.list_option_contracts(symbol, as_of=market_date)
    known = coverage[coverage["underlying"] == symbol][["contract_symbol", "end_date"]]
    todo = contracts[["contract_symbol"]].merge(known, on="contract_symbol", how="left")
    default_start = pd.Timestamp(market_date - dt.timedelta(days=lookback_days))
    if force:
        todo["fetch_from"] = default_start.date()
    else:
        resume_from = pd.to_datetime(todo["end_date"]) + pd.Timedelta(days=1)
        todo["fetch_from"] = resume_from.fillna(default_start).dt.date
    todo = todo[todo["fetch_from"] <= market_date]
    if todo.empty:
        return None
    bars_parts = []
    size = max(int(provider.option_bars_batch), 1)
    for fetch_from, group in todo.groupby("fetch_from"):
        names = group["contract_symbol"].tolist()
        for offset in range(0, len(names), size):
            batch = names[offset : offset + size]
            bars_parts.append(provider.get_option_bars(batch, fetch_from, market_date))
            log.heartbeat()
    bars = pd.concat(bars_parts, ignore_index=True).assign(underlying=symbol)
    meta = _bars_meta(todo, bars, provider=provider.name, end=market_date).assign(underlying=symbol)
    newest = max(bars["date"]) if not bars.empty else None
    result = PartitionResult(symbol, "success", rows=len(bars), market_date=newest)
    return _Staged(result, started, (contracts, bars, meta, len(todo)))


def _land_bars(
    items: list[_Staged], *, provider: str, stored_newest: dict[str, dt.date], log: RunLog
) -> None:
    stats = stores.bars_batch_write(
        contracts=pd.concat([item.payload[0] for item in items], ignore_index=True),
        bars=pd.concat([item.payload[1] for item in items], ignore_index=True),
        meta=pd.concat([item.payload[2] for item in items], ignore_index=True),
        provider=provider,
    )
    with _ledger_batch(log):
        for item in items:
            symbol = item.result.symbol
            contract_stats = stats.contracts.get(symbol, stores.WriteStats())
            bar_stats = stats.bars.get(symbol, stores.WriteStats())
            log.asset_succeeded(
                "option_contracts",
                symbol,
                started_at=item.started,
                rows_inserted=contract_stats.inserted,
                rows_updated=contract_stats.updated,
            )
            dates = [d for d in (stored_newest.get(symbol), item.result.market_date) if d]
            newest = max(dates) if dates else None
            log.asset_succeeded(
                "option_bars",
                symbol,
                started_at=item.started,
                rows_inserted=bar_stats.inserted,
                rows_updated=bar_stats.updated,
                max_event_ts=market_ts(newest),
                extra={"contracts_fetched": int(item.payload[3])},
            )
            if newest:
                log.advance_watermark("option_bars", symbol, newest)
            item.result.market_date = newest
            item.result.rows = bar_stats.written


def ingest_options_bars(params: JobParams, *, log: RunLog) -> JobResult:
    provider = get_provider(params.provider)
    market_date = params.as_of.market_date
    lookback = int(params.options.get("lookback_days") or DEFAULT_BAR_LOOKBACK_DAYS)
    force = params.force
    symbols = list(params.symbols)
    through = selectors.bar_fetched_through(symbols, provider.name)
    # A fetch as of this date (or later) already covered every contract listed then: up to date,
    # its watermark kept (the bars themselves are scanned only for the symbols to fetch).
    todo = [s for s in symbols if force or through.get(s, dt.date.min) < market_date]
    stored_newest = selectors.bar_newest(todo, provider.name)
    coverage = selectors.bar_coverage_many(todo, provider.name)
    asset_keys = ("option_contracts", "option_bars")
    batch = _Batch(
        log=log,
        asset_keys=asset_keys,
        land=lambda items: _land_bars(
            items, provider=provider.name, stored_newest=stored_newest, log=log
        ),
        max_rows=BAR_BATCH_ROWS,
    )

    def work(symbol: str, started: dt.datetime) -> PartitionResult:
        if not provider.supports_option_bars:
            for asset_key in asset_keys:
                log.asset_skipped(asset_key, symbol, "unsupported_by_provider", started_at=started)
            return PartitionResult(symbol, "skipped", detail="unsupported_by_provider")
        staged = None
        if symbol in todo:
            staged = _stage_bars(
                symbol,
                started,
                provider=provider,
                market_date=market_date,
                lookback_days=lookback,
                coverage=coverage,
                force=force,
                log=log,
            )
        if staged is None:  # the watermark follows the stored bars where they were scanned
            newest = stored_newest.get(symbol)
            day = newest or through.get(symbol) or market_date
            marks = ("option_bars",) if newest else ()
            return record_up_to_date(
                log, asset_keys, symbol, day, started_at=started, watermarked=marks
            )
        return batch.add(staged, rows=len(staged.payload[1]) + len(staged.payload[0]))

    partitions = for_each_symbol(
        params,
        log,
        job="ingest_options_bars",
        asset_key="option_bars",
        work=work,
        skip_on=PROVIDER_SKIPS,
    )
    batch.flush()
    return JobResult("ingest_options_bars", market_date, partitions, {"provider": provider.name})


# --- snapshot_options ----------------------------------------------------------------------------


def _stage_snapshot(
    symbol: str,
    started: dt.datetime,
    *,
    provider: MarketDataProvider,
    as_of: dt.date | None,
    rate: float,
) -> _Staged:
    """One symbol alone (the fallback when the set-based pass itself fails)."""
    snapshot = provider.get_chain_snapshot(symbol, as_of=as_of)
    outcome = _prepare_snapshots([snapshot], provider=provider, rate=rate)[0]
    if isinstance(outcome, Exception):
        raise outcome
    return _staged_snapshot(outcome, started)


def _staged_snapshot(rows: stores.SnapshotRows, started: dt.datetime) -> _Staged:
    result = PartitionResult(rows.symbol, "success", rows=rows.size, market_date=rows.snapshot_date)
    return _Staged(result, started, rows)


def _prepare_snapshots(
    snapshots: list[ChainSnapshot], *, provider: MarketDataProvider, rate: float
) -> list[stores.SnapshotRows | Exception]:
    """Validate and enrich many symbol-days in one pass over their concatenated rows.

    Per snapshot: its SnapshotRows (the chain is its slice of the enriched rows), or the
    exception that fails it alone (bad spot, too many bad rows, duplicate contracts, ...).
    """
    outcomes: list[stores.SnapshotRows | Exception | None] = [None] * len(snapshots)
    inputs, positions = [], []
    for position, snapshot in enumerate(snapshots):
        try:
            spot = validate_spot(snapshot.symbol, snapshot.spot)
        except ProviderError as exc:
            outcomes[position] = exc
            continue
        inputs.append(ChainInput(snapshot.symbol, snapshot.chain, snapshot.snapshot_date, spot))
        positions.append(position)
    cleaned = clean_chains(inputs)
    good = [k for k, r in enumerate(cleaned.results) if not isinstance(r, Exception)]
    for k, result in enumerate(cleaned.results):
        if isinstance(result, Exception):
            outcomes[positions[k]] = result
    if not good:
        return outcomes  # type: ignore[return-value]
    lengths = np.array([cleaned.results[k].size for k in good], dtype=np.int64)
    stops = np.cumsum(lengths)
    parts = [slice(int(stop - n), int(stop)) for stop, n in zip(stops, lengths, strict=True)]
    enriched = greeks.enrich_chain(
        cleaned.chain,
        spot=np.repeat([inputs[k].spot for k in good], lengths),
        as_of=np.repeat(
            np.array([inputs[k].snapshot_date for k in good], dtype="datetime64[D]"), lengths
        ),
        risk_free_rate=rate,
    )
    qualities = greeks.quote_qualities(enriched, parts)
    source_codes, source_names = pd.factorize(enriched["iv_source"])
    expiry_codes = pd.factorize(enriched["expiry"])[0]
    for j, k in enumerate(good):
        position, part, item_input = positions[k], parts[j], inputs[k]
        symbol, day = item_input.symbol, item_input.snapshot_date
        try:
            next_earnings = _iso(provider.next_earnings(symbol, as_of=day))
        except Exception as exc:  # this symbol fails alone, as when it was computed alone
            outcomes[position] = exc
            continue
        counts = np.bincount(source_codes[part], minlength=len(source_names))
        codes = expiry_codes[part]
        meta = {
            "iv_sources": {
                str(source_names[c]): int(counts[c]) for c in np.flatnonzero(counts).tolist()
            },
            "expiries": int(np.unique(codes[codes >= 0]).size),
            "next_earnings": next_earnings,
            "rows_received": cleaned.results[k].rows_received,
            "dropped_rows": cleaned.results[k].dropped,
        }
        outcomes[position] = stores.SnapshotRows(
            symbol=symbol,
            snapshot_date=day,
            spot=item_input.spot,
            risk_free_rate=rate,
            chain=enriched,
            quote_quality=qualities[j],
            meta=meta,
            rows=part,
        )
    return outcomes  # type: ignore[return-value]


def _stage_snapshots(
    symbols: list[str],
    started: dt.datetime,
    *,
    provider: MarketDataProvider,
    as_of: dt.date | None,
    rate: float,
) -> dict[str, _Staged | Exception]:
    """A chunk of symbols fetched, validated and enriched together; symbol → staged or error."""
    try:
        fetched = provider.get_chain_snapshots(symbols, as_of=as_of)
        ready = [s for s in symbols if not isinstance(fetched[s], Exception)]
        prepared = _prepare_snapshots([fetched[s] for s in ready], provider=provider, rate=rate)
    except Exception:
        logger.warning("snapshot_options: set-based pass failed; symbols one by one", exc_info=True)
        out: dict[str, _Staged | Exception] = {}
        for symbol in symbols:
            try:
                out[symbol] = _stage_snapshot(
                    symbol, started, provider=provider, as_of=as_of, rate=rate
                )
            except Exception as exc:
                out[symbol] = exc
        return out
    out = {s: fetched[s] for s in symbols if isinstance(fetched[s], Exception)}
    for symbol, outcome in zip(ready, prepared, strict=True):
        out[symbol] = (
            outcome if isinstance(outcome, Exception) else _staged_snapshot(outcome, started)
        )
    return out  # type: ignore[return-value]


def _land_snapshots(items: list[_Staged], *, provider: str, log: RunLog) -> None:
    stats = stores.snapshots_write(snapshots=[item.payload for item in items], provider=provider)
    with _ledger_batch(log):
        for item in items:
            rows: stores.SnapshotRows = item.payload
            s = stats[rows.symbol]
            log.asset_succeeded(
                "options_snapshots",
                rows.symbol,
                started_at=item.started,
                rows_inserted=s.inserted,
                rows_updated=s.updated,
                rows_deleted=s.deleted,
                max_event_ts=market_ts(rows.snapshot_date),
                extra={
                    "snapshot_date": rows.snapshot_date.isoformat(),
                    "contracts": rows.size,
                    "dropped_rows": sum((rows.meta.get("dropped_rows") or {}).values()),
                },
            )
            log.advance_watermark("options_snapshots", rows.symbol, rows.snapshot_date)


def snapshot_options(params: JobParams, *, log: RunLog) -> JobResult:
    provider = get_provider(params.provider)
    rate = float(params.options.get("risk_free_rate") or 0.0)
    market_date = params.as_of.market_date
    stored = (
        set()
        if params.force
        else selectors.stored_snapshot_symbols(list(params.symbols), market_date, provider.name)
    )
    batch = _Batch(
        log=log,
        asset_keys=("options_snapshots",),
        land=lambda items: _land_snapshots(items, provider=provider.name, log=log),
        max_rows=SNAPSHOT_BATCH_ROWS,
    )

    todo = list(dict.fromkeys(s for s in params.symbols if s not in stored))
    chunk_of = {symbol: n // SNAPSHOT_CHUNK_SYMBOLS for n, symbol in enumerate(todo)}
    staged: dict[str, _Staged | Exception] = {}

    def work(symbol: str, started: dt.datetime) -> PartitionResult:
        if symbol in stored:
            return record_up_to_date(
                log, ("options_snapshots",), symbol, market_date, started_at=started
            )
        if symbol not in staged:  # the first symbol of a chunk stages the whole chunk
            chunk = chunk_of.pop(symbol, None)
            names = [s for s in todo if chunk_of.get(s) == chunk] if chunk is not None else []
            staged.update(
                _stage_snapshots(
                    [symbol, *names], started, provider=provider, as_of=market_date, rate=rate
                )
            )
            for name in names:
                chunk_of.pop(name)
        outcome = staged.pop(symbol)
        if isinstance(outcome, Exception):
            raise outcome
        return batch.add(outcome, rows=outcome.payload.size)

    partitions = for_each_symbol(
        params,
        log,
        job="snapshot_options",
        asset_key="options_snapshots",
        work=work,
        skip_on=PROVIDER_SKIPS,
    )
    batch.flush()
    dates = [p.market_date for p in partitions if p.market_date]
    market_date = max(dates) if dates else market_date
    return JobResult("snapshot_options", market_date, partitions, {"provider": provider.name})


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
