"""Small value types of the run service: outcomes, the refusal, and how a market date is stored."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from apps.ledger.models import IngestionRun, RunStatus


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


@dataclass
class RunOutcome:
    """Filled in when the ``job_run`` block ends: what a command needs to print and exit with."""

    run_id: str = ""
    status: str = RunStatus.STARTED
    exit_code: int = 0
    error: str = ""
    counts: tuple[int, int, int] = (0, 0, 0)


def market_ts(day: dt.date | None) -> dt.datetime | None:
    """Market dates are stored as midnight UTC of that date (watermarks, event times)."""
    return None if day is None else dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
