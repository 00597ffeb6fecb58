"""The analytics jobs: compute_flow, compute_derived, build_briefing, build_dashboard (SPEC §6.4–6.6).

Each job reads stored inputs through selectors (short reads), computes with the pure modules in
``apps.analytics.compute`` and lands the result with one short write (stores). Nothing here calls a
market-data provider.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings

from apps.analytics import briefing, stores
from apps.analytics import selectors as analytics_selectors
from apps.core import chain as chain_metrics
from apps.core import derived, flow
from apps.core.jobs import (
    UP_TO_DATE,
    JobParams,
    JobResult,
    PartitionResult,
    RunLog,
    record_up_to_date,
)
from apps.ledger.services.run_types import market_ts
from apps.market import selectors
from apps.market import stores as warehouse_stores
from apps.market.selectors import StoredSnapshot
from optionshelper import warehouse

# --- compute_flow --------------------------------------------------------------------------------

# Per warehouse read + metadata-DB transaction: at most this many symbols and chain rows read (the
# read holds them, ~400 B each with the pairing).
FLOW_CHUNK_SYMBOLS = 100
FLOW_CHUNK_ROWS = 1_000_000


def _chunks(sizes: dict[str, tuple[int, int]], caps: tuple[int, int]) -> list[list[str]]:
    """The symbols of ``sizes`` in order, whole, in chunks whose summed sizes stay within
    ``caps`` (a symbol over a cap on its own is a chunk of its own)."""
    chunks: list[list[str]] = []
    total = (0, 0)
    for symbol, size in sizes.items():
        if not chunks or any(t + s > cap for t, s, cap in zip(total, size, caps, strict=True)):
            chunks.append([])
            total = (0, 0)
        chunks[-1].append(symbol)
        total = (total[0] + size[0], total[1] + size[1])
    return chunks


def _flow_sizes(
    symbols: tuple[str, ...], stored: dict[str, list[StoredSnapshot]], window: int
) -> dict[str, tuple[int, int]]:
    """Per symbol: (1, the chain rows of the window + 1 snapshots its flow reads)."""
    return {
        s: (1, sum(snap.contracts for snap in stored.get(s, [])[-(window + 1) :])) for s in symbols
    }


def _symbol_totals(rows: pa.Table) -> dict[str, dict[str, float | int | None]]:
    """Per symbol: its row count and net ΔOI $ / volume $ (None where every input is missing)."""
    if rows.num_rows == 0:
        return {}
    grouped = rows.group_by("symbol").aggregate(
        [("symbol", "count"), ("delta_oi_notional", "sum"), ("volume_notional", "sum")]
    )
    return {
        record["symbol"]: {
            "rows": record["symbol_count"],
            "net_delta_oi_notional": record["delta_oi_notional_sum"],
            "net_volume_notional": record["volume_notional_sum"],
        }
        for record in grouped.to_pylist()
    }


def _top_records(rows: pa.Table, top: int) -> dict[str, dict[str, list[dict]]]:
    """Per symbol: its ``top`` building and unwinding rows (ranked in SQL), JSON-safe."""
    if rows.num_rows == 0:
        return {}
    ranked = rows.filter(pc.less_equal(rows["top_rank"], top))
    out: dict[str, dict[str, list[dict]]] = {}
    for record in ranked.sort_by([("symbol", "ascending"), ("top_rank", "ascending")]).to_pylist():
        record.pop("top_rank")
        symbol = record.pop("symbol")
        record["expiry"] = record["expiry"].isoformat() if record["expiry"] else None
        out.setdefault(symbol, {}).setdefault(record["flow_class"], []).append(record)
    return out


def _total(rows: pd.DataFrame, column: str) -> float | None:
    if column not in rows or not len(rows):
        return None
    total = pd.to_numeric(rows[column], errors="coerce").sum(min_count=1)
    return None if pd.isna(total) else float(total)


def _gap_note(result: flow.FlowResult) -> str:
    if not result.gap_sessions:
        return ""
    return "gap sessions: " + ", ".join(d.isoformat() for d in result.gap_sessions)


def _flow_chunk(
    symbols: list[str], *, params: JobParams, log: RunLog, window, group_by, persist, top, tops
) -> list[PartitionResult]:
    """One warehouse read for the chunk, one metadata-DB transaction, then the ledger events."""
    started = dt.datetime.now(dt.UTC)
    batch = analytics_selectors.flow_batch(
        symbols=symbols,
        as_of=params.as_of.market_date,
        window=window,
        group_by=group_by,
        skip_persisted=persist and not params.force,
    )
    ok = batch.ok()
    written = (
        stores.flow_partitions_replace(
            partitions=ok,
            rows=batch.rows,
            window=window,
            group_by=group_by,
            run_id=log.run_id or None,
        )
        if persist
        else {}
    )
    ranked = _top_records(batch.rows, top)
    totals = _symbol_totals(batch.rows)
    stored = analytics_selectors.flow_persisted_tops(
        [p for p in batch.partitions if p.status == UP_TO_DATE],
        window=window,
        group_by=group_by,
        top=top,
    )
    results = []
    for part in batch.partitions:
        symbol = part.symbol
        if part.status == UP_TO_DATE:
            results.append(
                record_up_to_date(
                    log,
                    ("options_flow",),
                    symbol,
                    part.to_date,
                    started_at=started,
                    extra=part.meta(),
                )
            )
            if symbol in stored:
                tops[symbol] = {**stored[symbol], "meta": part.meta()}
            continue
        if part.status != "ok":
            log.asset_skipped(
                "options_flow",
                symbol,
                "insufficient_snapshots",
                started_at=started,
                extra={"needed": window + 1, "available": len(part.snapshot_dates)},
            )
            results.append(PartitionResult(symbol, "skipped", detail="insufficient_snapshots"))
            continue
        if persist:
            log.asset_succeeded(
                "options_flow",
                symbol,
                started_at=started,
                rows_inserted=written[symbol],
                min_event_ts=market_ts(part.from_date),
                max_event_ts=market_ts(part.to_date),
                extra=part.meta(),
            )
            log.advance_watermark("options_flow", symbol, part.to_date)
        else:
            log.asset_skipped("options_flow", symbol, "not_persisted", started_at=started)
        # Computed is a success either way; --no-persist only means nothing was written.
        notes = (_gap_note(part), "" if persist else "not persisted")
        results.append(
            PartitionResult(
                symbol,
                "success",
                rows=written.get(symbol, 0),
                detail="; ".join(note for note in notes if note),
                market_date=part.to_date,
            )
        )
        sides = ranked.get(symbol, {})
        tops[symbol] = {
            "building": sides.get("building", []),
            "unwinding": sides.get("unwinding", []),
            "meta": part.meta(),
            **totals.get(symbol, {"rows": 0}),
        }
    return results


def compute_flow(params: JobParams, *, log: RunLog) -> JobResult:
    """Flow of every symbol at the as-of, set-based: per chunk of symbols one DuckDB question
    (Arrow out) and one bulk replace of the partitions; ledger events per symbol. A partition
    persisted from exactly the snapshots stored now is ``up_to_date`` (unless ``force``)."""
    window = int(params.options.get("window", flow.DEFAULT_WINDOW))
    group_by = params.options.get("group_by", flow.DEFAULT_GROUP_BY)
    flow.validate(window, group_by)
    persist = bool(params.options.get("persist", True))
    top = int(params.options.get("top", 0))  # ranked rows only when asked (compute_flow --top)
    tops: dict[str, dict] = {}
    partitions: list[PartitionResult] = []
    stored = selectors.stored_snapshots(list(params.symbols), up_to=params.as_of.market_date)
    sizes = _flow_sizes(params.symbols, stored, window)
    for chunk in _chunks(sizes, (FLOW_CHUNK_SYMBOLS, FLOW_CHUNK_ROWS)):
        try:
            partitions += _flow_chunk(
                chunk,
                params=params,
                log=log,
                window=window,
                group_by=group_by,
                persist=persist,
                top=top,
                tops=tops,
            )
        except Exception as exc:  # one chunk's failure must not stop the others
            started = dt.datetime.now(dt.UTC)
            for symbol in chunk:
                log.asset_failed("options_flow", symbol, exc, started_at=started)
                partitions.append(
                    PartitionResult(symbol, "failed", detail=f"{type(exc).__name__}: {exc}")
                )
        log.heartbeat()
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
            "data_provider": _data_provider(stored),
        },
    )


# --- compute_derived -----------------------------------------------------------------------------


def derived_for_date(symbol: str, day: dt.date) -> dict:
    """The derived_daily row of one symbol and date from stored inputs only (no look-ahead).

    The straightforward per-row path (what the set-based job must reproduce)."""
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


# Per warehouse read: whole symbols, at most this many snapshots and chain rows (one symbol over
# either is a read of its own). The chain rows bound memory: the read holds them (~200 B each).
DERIVED_CHUNK_SNAPSHOTS = 2000
DERIVED_CHUNK_ROWS = 2_000_000
DERIVED_WRITE_ROWS = 5000  # rows per write: a write costs about the same for 250 rows or 5,000


def _derived_failed(
    symbols: list[str], exc: Exception, *, log: RunLog, started: dict[str, dt.datetime]
) -> list[PartitionResult]:
    results = []
    for symbol in symbols:
        log.asset_failed("derived_daily", symbol, exc, started_at=started[symbol])
        results.append(PartitionResult(symbol, "failed", detail=f"{type(exc).__name__}: {exc}"))
    return results


class _DerivedWrites:
    """Rows read chunk by chunk, landed by one write per DERIVED_WRITE_ROWS rows, then the ledger
    events of their symbols."""

    def __init__(self, *, log: RunLog, started: dict[str, dt.datetime]) -> None:
        self.log, self.started = log, started
        self.todo: dict[str, list[dt.date]] = {}
        self.frames: list[pd.DataFrame] = []
        self.read_at: dt.datetime | None = None

    def add(
        self, todo: dict[str, list[dt.date]], rows: pd.DataFrame, read_at: dt.datetime
    ) -> list[PartitionResult]:
        self.todo.update(todo)
        self.frames.append(rows)
        self.read_at = self.read_at or read_at  # the earliest read: the inputs as read from then on
        if sum(len(frame) for frame in self.frames) >= DERIVED_WRITE_ROWS:
            return self.flush()
        return []

    def flush(self) -> list[PartitionResult]:
        todo, frames, read_at = self.todo, self.frames, self.read_at
        self.todo, self.frames, self.read_at = {}, [], None
        if not todo:
            return []
        frames = [frame for frame in frames if len(frame)]
        try:
            if frames:
                rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
                warehouse_stores.derived_write(rows=rows, provider="derived", computed_at=read_at)
        except Exception as exc:  # this write's symbols failed; the others go on
            return _derived_failed(list(todo), exc, log=self.log, started=self.started)
        results = []
        for symbol, days in todo.items():
            self.log.asset_succeeded(
                "derived_daily",
                symbol,
                started_at=self.started[symbol],
                rows_inserted=len(days),
                min_event_ts=market_ts(days[0]),
                max_event_ts=market_ts(days[-1]),
            )
            self.log.advance_watermark("derived_daily", symbol, days[-1])
            results.append(PartitionResult(symbol, "success", rows=len(days), market_date=days[-1]))
        return results


def compute_derived(params: JobParams, *, log: RunLog) -> JobResult:
    """derived_daily for every symbol (the newest snapshot date, or ``all_dates``), set-based: per
    chunk of symbols (bounded by their chain rows) one warehouse read computes the chain metrics
    of every (symbol, date) to do and RV and IV percentile/rank (window functions over prior rows
    only); the rows of several chunks land in one write.

    Without ``all_dates`` or ``force``, a symbol whose newest row was computed after its inputs
    were stored is skipped (``up_to_date``)."""
    all_dates = bool(params.options.get("all_dates", False))
    with warehouse.read():  # the plan's two queries share one connection
        stored = selectors.stored_snapshots(list(params.symbols), up_to=params.as_of.market_date)
        fresh = (
            set()
            if all_dates or params.force
            else selectors.derived_up_to_date(
                {symbol: snaps[-1].snapshot_date for symbol, snaps in stored.items() if snaps}
            )
        )
    started: dict[str, dt.datetime] = {}
    partitions: dict[str, PartitionResult] = {}
    todo: dict[str, list[dt.date]] = {}
    chain_rows: dict[str, int] = {}
    for symbol in params.symbols:
        started[symbol] = dt.datetime.now(dt.UTC)
        snaps = stored.get(symbol, [])
        dates = [snap.snapshot_date for snap in snaps]
        if not dates:
            log.asset_skipped("derived_daily", symbol, "no_snapshots", started_at=started[symbol])
            partitions[symbol] = PartitionResult(symbol, "skipped", detail="no_snapshots")
            continue
        if symbol in fresh:
            partitions[symbol] = record_up_to_date(
                log, ("derived_daily",), symbol, dates[-1], started_at=started[symbol]
            )
            continue
        todo[symbol] = dates if all_dates else dates[-1:]
        chain_rows[symbol] = sum(snap.contracts for snap in (snaps if all_dates else snaps[-1:]))
    writes = _DerivedWrites(log=log, started=started)
    sizes = {s: (len(days), chain_rows[s]) for s, days in todo.items()}
    for chunk in _chunks(sizes, (DERIVED_CHUNK_SNAPSHOTS, DERIVED_CHUNK_ROWS)):
        read_at = dt.datetime.now(dt.UTC)  # stored as updated_at: the inputs as read from here on
        try:
            rows = selectors.derived_batch({s: todo[s] for s in chunk})
        except Exception as exc:  # one chunk's failure must not stop the others
            results = _derived_failed(chunk, exc, log=log, started=started)
        else:
            results = writes.add({s: todo[s] for s in chunk}, rows, read_at)
        partitions.update((p.symbol, p) for p in results)
        log.heartbeat()
    partitions.update((p.symbol, p) for p in writes.flush())
    ordered = [partitions[s] for s in params.symbols]
    dates = [p.market_date for p in ordered if p.market_date]
    return JobResult(
        "compute_derived",
        max(dates) if dates else None,
        ordered,
        {"data_provider": _data_provider(stored)},
    )


def _data_provider(stored: dict[str, list[StoredSnapshot]]) -> str:
    """The provider(s) of the symbols' newest stored snapshots, computed from ("" for none)."""
    return ",".join(sorted({snaps[-1].provider for snaps in stored.values() if snaps[-1].provider}))


# --- build_briefing / build_dashboard ------------------------------------------------------------


def _briefing_date(symbols: list[str], params: JobParams) -> tuple[dt.date, dict[str, dict]]:
    """The newest snapshot date of any of ``symbols`` at or before the as-of (else the calendar's),
    and the symbols' newest headers (none is newer than that date, by its definition)."""
    headers = selectors.latest_snapshot_headers(symbols, up_to=params.as_of.market_date)
    dates = [header["snapshot_date"] for header in headers.values()]
    return (max(dates) if dates else params.as_of.market_date), headers


def build_briefing(params: JobParams, *, log: RunLog) -> JobResult:
    """The briefing of the whole tracked set from stored data (a subset run refreshes its symbols;
    the others are rebuilt from the same stored data, so they stay as they were). A briefing already
    stored from exactly these inputs is ``up_to_date`` and left as it is, unless ``--force``."""
    started = dt.datetime.now(dt.UTC)
    directory = settings.REPORTS_DIR / "daily"
    with warehouse.read():  # the date and the report's warehouse reads share one connection
        candidates = briefing.briefing_symbols(
            requested=list(params.symbols),
            market_date=params.as_of.market_date,
            directory=directory,
        )
        market_date, headers = _briefing_date(candidates, params)
        symbols = briefing.briefing_symbols(
            requested=list(params.symbols), market_date=market_date, directory=directory
        )
        inputs = briefing.briefing_inputs(
            symbols=symbols,
            market_date=market_date,
            headers=headers if set(symbols) == set(candidates) else None,
        )
    assets = ("briefing_markdown", "briefing_json")
    if not params.force and briefing.stored_digest(directory, market_date) == inputs.digest:
        partition = record_up_to_date(log, assets, "ALL", market_date, started_at=started)
        return JobResult("build_briefing", market_date, [partition])
    paths = briefing.write_files(briefing.assemble(inputs), directory=directory)
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
