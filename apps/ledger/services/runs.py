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
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

import optionshelper
from apps.core import registry
from apps.ledger.models import (
    IngestionRun,
    JobLease,
    RunStatus,
    TriggeredBy,
)
from apps.ledger.services.errors import canonical_args, error_fields
from apps.ledger.services.housekeeping import abandon_if_dead
from apps.ledger.services.run_logger import NullRunLogger, RunLogger
from apps.ledger.services.run_types import JobAlreadyRunning, RunOutcome


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


def decide_status(*, ok: int, failed: int) -> str:
    """``partial`` when some partitions failed and some succeeded; ``failed`` when all failed."""
    if failed and ok:
        return RunStatus.PARTIAL
    if failed:
        return RunStatus.FAILED
    return RunStatus.SUCCESS


def exit_code_for(status: str) -> int:
    return 0 if status == RunStatus.SUCCESS else 1


def _create_run_with_lease(*, lease_key: str, **fields: Any) -> IngestionRun:
    """The run and its lease in one transaction; IntegrityError when the lease is taken."""
    with transaction.atomic():
        # Read the clock once the transaction holds SQLite's write lock: a claim that waited
        # behind the previous holder's close must not be stamped as started before that close.
        now = timezone.now()
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
