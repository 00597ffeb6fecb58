"""What a running job tells the ledger (the ``RunLog`` protocol of ``apps.core.jobs``): asset
events, watermarks, checks and heartbeats (``RunLogger``), or nothing (``NullRunLogger``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core import registry
from apps.ledger.models import (
    AssetCheck,
    AssetStatus,
    IngestionRun,
    IngestionRunAsset,
    RunStatus,
)
from apps.ledger.services.errors import redact
from apps.ledger.services.run_types import CheckOutcome, market_ts
from apps.ledger.services.watermarks import watermark_advance, watermarks_advance

HEARTBEAT_EVERY_S = 5.0


class RunLogger:
    """Records what one run does. Created by :func:`job_run`; jobs only call its methods."""

    enabled = True

    def record_provider(self, provider: str) -> None:
        """The provider the run's data came from (jobs reading stored snapshots, not a vendor)."""
        name = provider[: IngestionRun._meta.get_field("provider").max_length]
        if name and name != self.run.provider:
            self.run.provider = name
            IngestionRun.objects.filter(pk=self.run.pk).update(provider=name)

    def __init__(self, run: IngestionRun) -> None:
        self.run = run
        self._last_heartbeat = time.monotonic()
        self._children = {"ok": 0, "failed": 0}
        # Inside ``batched()``: events by (asset, partition) and watermark moves, not yet written.
        self._events: dict[tuple[str, str], dict[str, Any]] | None = None
        self._marks: dict[tuple[str, str], dt.datetime] = {}
        self._flushed_at = time.monotonic()
        self._events_written = False  # until then no stored event can need an update

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Asset events and watermark moves of the block are written together: in one
        transaction every ``HEARTBEAT_EVERY_S`` (so the run stays visible while it works) and
        when the block ends, even by an exception."""
        if self._events is not None:
            yield
            return
        self._events, self._flushed_at = {}, time.monotonic()
        try:
            yield
        finally:
            self._flush()
            self._events = None

    def _flush(self) -> None:
        events, self._events = self._events or {}, {}
        marks, self._marks = self._marks, {}
        self._flushed_at = time.monotonic()
        if not events and not marks:
            return
        with transaction.atomic():
            stored = (
                set(
                    self.run.assets.filter(
                        asset_key__in={a for a, _ in events},
                        partition_key__in={p for _, p in events},
                    ).values_list("asset_key", "partition_key")
                )
                if self._events_written
                else set()
            )
            IngestionRunAsset.objects.bulk_create(
                IngestionRunAsset(run=self.run, asset_key=a, partition_key=p, **fields)
                for (a, p), fields in events.items()
                if (a, p) not in stored
            )
            for (asset_key, partition_key), fields in events.items():
                if (asset_key, partition_key) in stored:
                    IngestionRunAsset.objects.filter(
                        run=self.run, asset_key=asset_key, partition_key=partition_key
                    ).update(**fields)
            watermarks_advance(moves=marks, run=self.run)
        self._events_written = self._events_written or bool(events)
        self.heartbeat()  # written when due, as for every other sign of life

    def child_finished(self, status: str) -> None:
        """A pipeline counts each child run as one partition: success is ok, anything else failed."""
        self._children["ok" if status == RunStatus.SUCCESS else "failed"] += 1
        self.heartbeat()

    @property
    def run_id(self) -> str:
        return str(self.run.run_id)

    def heartbeat(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_heartbeat < HEARTBEAT_EVERY_S:
            return
        self._last_heartbeat = time.monotonic()
        IngestionRun.objects.filter(pk=self.run.pk, status=RunStatus.STARTED).update(
            heartbeat_at=timezone.now()
        )

    def asset_event(
        self,
        *,
        asset_key: str,
        partition_key: str,
        status: str,
        started_at: dt.datetime | None = None,
        rows_inserted: int = 0,
        rows_updated: int = 0,
        rows_deleted: int = 0,
        bytes_written: int = 0,
        min_event_ts: dt.datetime | None = None,
        max_event_ts: dt.datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Record (or replace) the event for (run, asset, partition)."""
        spec = registry.asset(asset_key)
        now = timezone.now()
        started_at = started_at or now
        fields = {
            "asset_kind": spec.kind,
            "status": status,
            "rows_inserted": rows_inserted,
            "rows_updated": rows_updated,
            "rows_deleted": rows_deleted,
            "bytes_written": bytes_written,
            "min_event_ts": min_event_ts,
            "max_event_ts": max_event_ts,
            "extra": redact(extra or {}),
            "started_at": started_at,
            "ended_at": now,
            "duration_ms": int((now - started_at).total_seconds() * 1000),
        }
        if self._events is not None:
            self._events[(asset_key, partition_key)] = fields
            if time.monotonic() - self._flushed_at >= HEARTBEAT_EVERY_S:
                self._flush()
            return
        IngestionRunAsset.objects.update_or_create(
            run=self.run, asset_key=asset_key, partition_key=partition_key, defaults=fields
        )
        self._events_written = True
        self.heartbeat()

    def asset_succeeded(self, asset_key: str, partition_key: str, **fields: Any) -> None:
        self.asset_event(
            asset_key=asset_key, partition_key=partition_key, status=AssetStatus.SUCCESS, **fields
        )

    def asset_failed(
        self, asset_key: str, partition_key: str, error: BaseException | str, **fields: Any
    ) -> None:
        extra = dict(fields.pop("extra", None) or {})
        if isinstance(error, BaseException):
            extra.update(error=str(error), error_type=type(error).__name__)
        else:
            extra["error"] = error
        self.asset_event(
            asset_key=asset_key,
            partition_key=partition_key,
            status=AssetStatus.FAILED,
            extra=extra,
            **fields,
        )

    def asset_skipped(self, asset_key: str, partition_key: str, reason: str, **fields: Any) -> None:
        extra = {"reason": reason, **(fields.pop("extra", None) or {})}
        self.asset_event(
            asset_key=asset_key,
            partition_key=partition_key,
            status=AssetStatus.SKIPPED,
            extra=extra,
            **fields,
        )

    def advance_watermark(self, asset_key: str, scope_key: str, market_date: dt.date) -> bool:
        """Move the watermark forward (inside ``batched()``: queued, and True)."""
        watermark_ts = market_ts(market_date)
        if self._events is not None:
            key = (asset_key, scope_key)
            self._marks[key] = max(watermark_ts, self._marks.get(key, watermark_ts))
            return True
        return watermark_advance(
            asset_key=asset_key, scope_key=scope_key, watermark_ts=watermark_ts, run=self.run
        )

    def record_checks(self, outcomes: list[CheckOutcome]) -> None:
        now = timezone.now()
        AssetCheck.objects.bulk_create(
            AssetCheck(
                run=self.run,
                asset_key=o.asset_key,
                partition_key=o.partition_key,
                check_name=o.check_name,
                severity=o.severity,
                status=o.status,
                checked_at=now,
                metrics=redact(o.metrics),
                message=o.message[:2000],
            )
            for o in outcomes
        )

    def partition_counts(self) -> tuple[int, int, int]:
        """(ok, failed, skipped) partitions: a partition failed if any of its events failed."""
        by_partition: dict[str, set[str]] = {}
        for partition, status in self.run.assets.values_list("partition_key", "status"):
            by_partition.setdefault(partition, set()).add(status)
        ok, failed, skipped = self._children["ok"], self._children["failed"], 0
        for statuses in by_partition.values():
            if AssetStatus.FAILED in statuses:
                failed += 1
            elif AssetStatus.SUCCESS in statuses:
                ok += 1
            else:
                skipped += 1
        return ok, failed, skipped


class NullRunLogger:
    """The logger behind ``--no-ledger``: accepts every call and writes nothing."""

    enabled = False
    run = None
    run_id = ""

    def record_provider(self, provider: str) -> None:
        return None

    def batched(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def heartbeat(self, *, force: bool = False) -> None:
        return None

    def asset_event(self, **fields: Any) -> None:
        return None

    def asset_succeeded(self, asset_key: str, partition_key: str, **fields: Any) -> None:
        return None

    def asset_failed(self, asset_key: str, partition_key: str, error: Any, **fields: Any) -> None:
        return None

    def asset_skipped(self, asset_key: str, partition_key: str, reason: str, **fields: Any) -> None:
        return None

    def advance_watermark(self, asset_key: str, scope_key: str, market_date: dt.date) -> bool:
        return False

    def record_checks(self, outcomes: list[CheckOutcome]) -> None:
        return None

    def child_finished(self, status: str) -> None:
        return None
