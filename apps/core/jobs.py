"""The contract between a job function and whatever runs it (pure types, no Django).

A job is ``fn(params: JobParams, *, log: RunLog) -> JobResult``; the registry names it, the job
runner (``apps.pipeline.jobs.execute_job``) opens the ledger run that provides ``log``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from apps.core.asof import AsOf
from apps.core.progress import progress


class RunLog(Protocol):
    """What a job may tell the ledger about its run (``RunLogger`` and ``NullRunLogger`` implement it)."""

    @property
    def run_id(self) -> str: ...

    def heartbeat(self, *, force: bool = False) -> None: ...

    def batched(self) -> contextlib.AbstractContextManager[None]: ...

    def asset_succeeded(self, asset_key: str, partition_key: str, **fields: Any) -> None: ...

    def asset_failed(self, asset_key: str, partition_key: str, error: Any, **fields: Any) -> None: ...

    def asset_skipped(
        self, asset_key: str, partition_key: str, reason: str, **fields: Any
    ) -> None: ...

    def advance_watermark(self, asset_key: str, scope_key: str, market_date: dt.date) -> bool: ...

    def record_checks(self, outcomes: list) -> None: ...

    def record_provider(self, provider: str) -> None: ...


# The skip reason of a partition whose result is already stored from the same inputs; the job
# option ``force`` (``--force``) computes and replaces it anyway.
UP_TO_DATE = "up_to_date"


@dataclass(frozen=True)
class JobParams:
    """Everything a job run needs; ``as_of`` is resolved once by the door that started the run."""

    as_of: AsOf
    symbols: tuple[str, ...] = ()
    provider: str = "demo"
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def force(self) -> bool:
        """True when partitions already stored must be computed/fetched and replaced anyway."""
        return bool(self.options.get("force"))

    def ledger_args(self, job_name: str) -> dict[str, Any]:
        """The run's ``args`` in the ledger: LEDGER_PARAM_KEYS, then the job's options."""
        return {
            "job": job_name,
            "as_of": self.as_of.market_date.isoformat(),
            "as_of_requested": self.as_of.requested,
            "symbols": list(self.symbols),
            "provider": self.provider,
            **self.options,
        }


# The keys of JobParams.ledger_args that are not job options (a re-run passes the rest back).
LEDGER_PARAM_KEYS = frozenset({"job", "as_of", "as_of_requested", "symbols", "provider"})


@dataclass
class PartitionResult:
    symbol: str
    status: str  # success | failed | skipped
    rows: int = 0
    detail: str = ""
    market_date: dt.date | None = None


@dataclass
class JobResult:
    """What a job function returns: per-partition outcomes plus job-specific output."""

    job_name: str
    market_date: dt.date | None = None
    partitions: list[PartitionResult] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)

    def symbols_with(self, status: str) -> list[str]:
        return [p.symbol for p in self.partitions if p.status == status]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["market_date"] = self.market_date.isoformat() if self.market_date else None
        for partition in data["partitions"]:
            day = partition["market_date"]
            partition["market_date"] = day.isoformat() if day else None
        return data


def record_up_to_date(
    log: RunLog,
    asset_keys: tuple[str, ...],
    symbol: str,
    day: dt.date,
    *,
    started_at: dt.datetime,
    extra: dict[str, Any] | None = None,
    watermarked: tuple[str, ...] | None = None,
) -> PartitionResult:
    """Record a partition that is already stored from the same inputs: ``skipped``
    (``up_to_date``), its watermark kept at ``day`` (of ``watermarked``, default every asset)."""
    for asset_key in asset_keys:
        log.asset_skipped(
            asset_key,
            symbol,
            UP_TO_DATE,
            started_at=started_at,
            extra=extra if extra is not None else {"stored": day.isoformat()},
        )
    for asset_key in asset_keys if watermarked is None else watermarked:
        log.advance_watermark(asset_key, symbol, day)
    return PartitionResult(symbol, "skipped", detail=UP_TO_DATE, market_date=day)


def for_each_symbol(
    params: JobParams,
    log: RunLog,
    *,
    job: str,
    asset_key: str,
    work: Callable[[str, dt.datetime], PartitionResult],
    skip_on: Mapping[type[Exception], str] | None = None,
) -> list[PartitionResult]:
    """Run ``work(symbol, started_at)`` per symbol (one partition each), isolating failures.

    An exception of a type in ``skip_on`` records the partition ``skipped`` with that reason (e.g. a
    provider with no data for the date); any other exception records it ``failed`` and the loop
    goes on with the next symbol.
    """
    skip_on = skip_on or {}
    return [
        _one_symbol(symbol, log, asset_key=asset_key, work=work, skip_on=skip_on)
        for symbol in progress(params.symbols, desc=job)
    ]


def _one_symbol(
    symbol: str,
    log: RunLog,
    *,
    asset_key: str,
    work: Callable[[str, dt.datetime], PartitionResult],
    skip_on: Mapping[type[Exception], str],
) -> PartitionResult:
    """One symbol's partition: its work, or the skip or failure its exception means."""
    started = dt.datetime.now(dt.UTC)
    try:
        return work(symbol, started)
    except tuple(skip_on) as exc:
        reason = next(r for kind, r in skip_on.items() if isinstance(exc, kind))
        detail = getattr(exc, "cause", str(exc))
        log.asset_skipped(asset_key, symbol, reason, started_at=started, extra={"detail": detail})
        return PartitionResult(symbol, "skipped", detail=f"{reason}: {detail}")
    except Exception as exc:  # one symbol's failure must not stop the others
        log.asset_failed(asset_key, symbol, exc, started_at=started)
        return PartitionResult(symbol, "failed", detail=f"{type(exc).__name__}: {exc}")
