"""The run logger every job uses (SPEC §5, §6.1).

``job_run(...)`` is the one context manager that wraps a job: it opens the run (claiming the job's
partition so a second copy refuses to start), hands the job a :class:`RunLogger` for asset events,
watermarks and checks, and on exit decides the final status and exit code. A command never parses
console text to decide a status.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

import optionshelper
from apps.core import registry
from apps.ledger.models import (
    AssetCheck,
    AssetStatus,
    AssetWatermark,
    IngestionRun,
    IngestionRunAsset,
    JobLease,
    RunStatus,
    TriggeredBy,
)
from apps.ledger.services.errors import canonical_args, error_fields, redact
from apps.ledger.services.housekeeping import abandon_if_dead

HEARTBEAT_EVERY_S = 5.0


class JobAlreadyRunning(Exception):
    """Another run holds the same job partition."""

    def __init__(self, run: IngestionRun) -> None:
        self.run = run
        where = f"pid {run.pid} on {run.hostname}" if run.pid else run.hostname
        super().__init__(
            f"{run.job_name} is already running for this partition (run {run.run_id}, {where}, "
            f"started {run.started_at:%Y-%m-%d %H:%M:%S} UTC); not starting a second copy"
        )


@dataclass
class CheckOutcome:
    """A data-quality result as produced by a check, before it is persisted."""

    asset_key: str
    check_name: str
    severity: str
    status: str
    partition_key: str = "ALL"
    metrics: dict[str, Any] = field(default_factory=dict)
    message: str = ""


def market_ts(day: dt.date | None) -> dt.datetime | None:
    """Market dates are stored as midnight UTC of that date (watermarks, event times)."""
    return None if day is None else dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def watermark_advance(
    *, asset_key: str, scope_key: str, watermark_ts: dt.datetime, run: IngestionRun | None = None
) -> bool:
    """Move a watermark forward; an older value never overwrites a newer one.

    One conditional UPDATE (``WHERE watermark_ts < new``) does the move, so two processes racing
    cannot move it backwards; the INSERT path handles the first write and its race.
    """
    now = timezone.now()
    values = {"watermark_ts": watermark_ts, "updated_at": now, "last_run": run}
    rows = AssetWatermark.objects.filter(asset_key=asset_key, scope_key=scope_key)
    if rows.filter(watermark_ts__lt=watermark_ts).update(**values):
        return True
    if rows.exists():
        return False
    try:
        with transaction.atomic():
            AssetWatermark.objects.create(asset_key=asset_key, scope_key=scope_key, **values)
        return True
    except IntegrityError:
        return bool(rows.filter(watermark_ts__lt=watermark_ts).update(**values))


@functools.cache
def _git_sha() -> str:
    if os.environ.get("GIT_SHA"):
        return os.environ["GIT_SHA"][:40]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()[:40] if out.returncode == 0 else ""


def lease_key_for(*, as_of: dt.date, symbols: list[str] | None) -> str:
    """The partition a run claims: its resolved market date plus its symbol set (hashed when long).

    Keyed by the market date and the normalised symbol set, never by how either was spelt:
    ``--as-of latest`` and the same explicit date claim the same partition.
    """
    names = sorted({s.strip().upper() for s in symbols or () if s and s.strip()})
    scope = ",".join(names) if names else registry.ALL_SCOPE
    key = f"{as_of.isoformat()}|{scope}"
    if len(key) > 128:
        key = f"{key[:60]}|{hashlib.sha256(scope.encode()).hexdigest()}"
    return key


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
        IngestionRunAsset.objects.update_or_create(
            run=self.run,
            asset_key=asset_key,
            partition_key=partition_key,
            defaults={
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
            },
        )
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
        return watermark_advance(
            asset_key=asset_key,
            scope_key=scope_key,
            watermark_ts=market_ts(market_date),
            run=self.run,
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


def decide_status(*, ok: int, failed: int) -> str:
    """``partial`` when some partitions failed and some succeeded; ``failed`` when all failed."""
    if failed and ok:
        return RunStatus.PARTIAL
    if failed:
        return RunStatus.FAILED
    return RunStatus.SUCCESS


def exit_code_for(status: str) -> int:
    return 0 if status == RunStatus.SUCCESS else 1


@dataclass
class RunOutcome:
    """Filled in when the ``job_run`` block ends: what a command needs to print and exit with."""

    run_id: str = ""
    status: str = RunStatus.STARTED
    exit_code: int = 0
    error: str = ""
    counts: tuple[int, int, int] = (0, 0, 0)


def _create_run_with_lease(*, lease_key: str, **fields: Any) -> IngestionRun:
    """The run and its lease in one transaction; IntegrityError when the lease is taken."""
    now = timezone.now()
    with transaction.atomic():
        run = IngestionRun.objects.create(
            status=RunStatus.STARTED,
            started_at=now,
            heartbeat_at=now,
            git_sha=_git_sha(),
            app_version=optionshelper.__version__,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            **fields,
        )
        JobLease.objects.create(
            job_name=fields["job_name"], lease_key=lease_key, run=run, acquired_at=now
        )
    return run


def _open_run(*, lease_key: str, attempts: int = 3, **fields: Any) -> IngestionRun:
    """Create the run and claim its partition, or raise JobAlreadyRunning.

    A lease held by a dead run (stale heartbeat, or process gone on this host) is reaped and the
    claim retried; a lease released between our insert and our read is simply retried.
    """
    for _ in range(attempts):
        try:
            return _create_run_with_lease(lease_key=lease_key, **fields)
        except IntegrityError:
            holder = (
                JobLease.objects.select_related("run")
                .filter(job_name=fields["job_name"], lease_key=lease_key)
                .first()
            )
            if holder is not None and not abandon_if_dead(holder.run):
                raise JobAlreadyRunning(holder.run) from None
    raise RuntimeError(f"could not claim {fields['job_name']} [{lease_key}] after {attempts} tries")


def _close_run(run: IngestionRun, *, status: str, error: BaseException | None, counts) -> None:
    """Finish the run with a conditional UPDATE, so a reaper's ``abandoned`` is never overwritten."""
    now = timezone.now()
    ok, failed, skipped = counts
    values: dict[str, Any] = {
        "status": status,
        "ended_at": now,
        "heartbeat_at": now,
        "duration_ms": int((now - run.started_at).total_seconds() * 1000),
        "partitions_ok": ok,
        "partitions_failed": failed,
        "partitions_skipped": skipped,
    }
    if error is not None:
        values.update(error_fields(error))
    with transaction.atomic():
        IngestionRun.objects.filter(pk=run.pk, status=RunStatus.STARTED).update(**values)
        JobLease.objects.filter(run=run).delete()
    run.refresh_from_db()


@contextlib.contextmanager
def job_run(
    *,
    job_name: str,
    triggered_by: str = TriggeredBy.CLI,
    args: dict[str, Any] | None = None,
    provider: str = "",
    as_of: dt.date,
    symbols: list[str] | None = None,
    parent_run_id: str = "",
    ledger: bool = True,
    outcome: RunOutcome | None = None,
) -> Iterator[RunLogger | NullRunLogger]:
    """Wrap one job execution in a ledger run.

    An exception inside the block marks the run ``failed`` (with type, message and stack hash) and is
    re-raised; otherwise the status comes from the partition counts. ``outcome`` (if given) is filled
    with the final status and exit code for the caller to print.
    """
    outcome = outcome if outcome is not None else RunOutcome()
    registry.job_timeout_s(job_name)  # validates the name
    if not ledger:
        null = NullRunLogger()
        try:
            yield null
        except Exception as exc:
            outcome.status, outcome.exit_code, outcome.error = RunStatus.FAILED, 1, str(exc)
            raise
        outcome.status, outcome.exit_code = RunStatus.SUCCESS, 0
        return
    run = _open_run(
        lease_key=lease_key_for(as_of=as_of, symbols=symbols),
        job_name=job_name,
        triggered_by=triggered_by,
        args=canonical_args(args or {}),
        provider=provider,
        as_of=as_of,
        parent_run_id=parent_run_id or "",
    )
    logger = RunLogger(run)
    outcome.run_id = str(run.run_id)
    try:
        yield logger
    except BaseException as exc:
        counts = logger.partition_counts()
        _close_run(run, status=RunStatus.FAILED, error=exc, counts=counts)
        outcome.status, outcome.exit_code, outcome.error = run.status, 1, str(exc)
        outcome.counts = counts
        raise
    counts = logger.partition_counts()
    status = decide_status(ok=counts[0], failed=counts[1])
    _close_run(run, status=status, error=None, counts=counts)
    outcome.status, outcome.exit_code, outcome.counts = (
        run.status,
        exit_code_for(run.status),
        counts,
    )
