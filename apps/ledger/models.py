"""The control plane (SPEC §5): runs, per-asset events, freshness watermarks and data-quality checks.

Only the run logger (``apps.ledger.services``) writes these rows; selectors and the admin read them.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import models
from django.db.models import Q


class TriggeredBy(models.TextChoices):
    CLI = "cli"
    SCHEDULE = "schedule"
    ADMIN = "admin"
    TASK = "task"


class RunStatus(models.TextChoices):
    STARTED = "started"
    SUCCESS = "success"
    PARTIAL = "partial"
    FAILED = "failed"
    ABANDONED = "abandoned"


class AssetKind(models.TextChoices):
    TABLE = "table"
    FILE = "file"
    VIEW = "view"


class AssetStatus(models.TextChoices):
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


class Severity(models.TextChoices):
    ERROR = "error"
    WARN = "warn"


class CheckStatus(models.TextChoices):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


def _in_choices(field: str, choices: type[models.TextChoices]) -> Q:
    return Q(**{f"{field}__in": choices.values})


class IngestionRun(models.Model):
    """One execution of one job."""

    run_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    parent_run_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    job_name = models.CharField(max_length=64)
    triggered_by = models.CharField(max_length=16, choices=TriggeredBy.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.STARTED)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField()
    provider = models.CharField(max_length=32, blank=True, default="")
    as_of = models.DateField()  # the resolved market date the run describes (never NULL)
    args = models.JSONField(default=dict, blank=True)
    git_sha = models.CharField(max_length=40, blank=True, default="")
    app_version = models.CharField(max_length=32, blank=True, default="")
    hostname = models.CharField(max_length=255, blank=True, default="")
    pid = models.IntegerField(null=True, blank=True)
    error_type = models.CharField(max_length=255, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    error_stack_hash = models.CharField(max_length=64, blank=True, default="")
    partitions_ok = models.IntegerField(default=0)
    partitions_failed = models.IntegerField(default=0)
    partitions_skipped = models.IntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        # Enqueueing jobs from the admin (gap planner, re-run action) needs this, not just is_staff.
        permissions = [("run_jobs", "Can enqueue jobs (gap planner, re-run failed runs)")]
        constraints = [
            models.CheckConstraint(
                condition=_in_choices("status", RunStatus), name="run_status_valid"
            ),
            models.CheckConstraint(
                condition=_in_choices("triggered_by", TriggeredBy), name="run_triggered_by_valid"
            ),
        ]
        indexes = [
            # Latest run per job (health page, db_health, admin default ordering by job).
            models.Index(fields=["job_name", "-started_at"], name="run_job_latest_idx"),
            # Recent failures / abandoned candidates: WHERE status IN (...) AND started_at >= ...
            models.Index(fields=["status", "-started_at"], name="run_status_time_idx"),
            # Recurring failures grouped by stack hash.
            models.Index(fields=["error_stack_hash"], name="run_stack_hash_idx"),
            # Runs timeline chart over the lookback window.
            models.Index(fields=["-started_at"], name="run_started_idx"),
            # Asset × session status grid: WHERE as_of BETWEEN first_session AND last_session.
            models.Index(fields=["as_of"], name="run_as_of_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job_name} {self.status} {self.started_at:%Y-%m-%d %H:%M}"

    def is_stale(self, *, now: dt.datetime, timeout_s: int) -> bool:
        """A started run whose heartbeat is older than the job's timeout has been abandoned."""
        return self.status == RunStatus.STARTED and (now - self.heartbeat_at).total_seconds() > (
            timeout_s
        )


class IngestionRunAsset(models.Model):
    """What one run did to one asset partition; a later event for the same key replaces it."""

    run = models.ForeignKey(IngestionRun, on_delete=models.CASCADE, related_name="assets")
    asset_key = models.CharField(max_length=64)
    asset_kind = models.CharField(max_length=8, choices=AssetKind.choices)
    partition_key = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=AssetStatus.choices)
    rows_inserted = models.BigIntegerField(default=0)
    rows_updated = models.BigIntegerField(default=0)
    rows_deleted = models.BigIntegerField(default=0)
    bytes_written = models.BigIntegerField(default=0)
    min_event_ts = models.DateTimeField(null=True, blank=True)
    max_event_ts = models.DateTimeField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "asset_key", "partition_key"], name="run_asset_partition_unique"
            ),
            models.CheckConstraint(
                condition=_in_choices("status", AssetStatus), name="run_asset_status_valid"
            ),
            models.CheckConstraint(
                condition=_in_choices("asset_kind", AssetKind), name="run_asset_kind_valid"
            ),
        ]
        indexes = [
            # Asset × session status grid: WHERE asset_key = ? AND started_at >= ? per partition.
            models.Index(
                fields=["asset_key", "partition_key", "-started_at"], name="asset_event_grid_idx"
            ),
            # Failed partitions over time (health, admin filter).
            models.Index(fields=["status", "-started_at"], name="asset_event_status_idx"),
            # Newest first without a filter: the admin changelist's default ordering and the
            # Data Explorer's sort on started_at (500k+ rows would otherwise be sorted per page).
            models.Index(fields=["-started_at"], name="asset_event_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_key}[{self.partition_key}] {self.status}"


class AssetWatermark(models.Model):
    """Freshness of one (asset, scope): the market time of the newest data written. Only moves forward."""

    asset_key = models.CharField(max_length=64)
    scope_key = models.CharField(max_length=64)
    watermark_ts = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_run = models.ForeignKey(
        IngestionRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["asset_key", "scope_key"]
        constraints = [
            models.UniqueConstraint(fields=["asset_key", "scope_key"], name="watermark_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_key}[{self.scope_key}] @ {self.watermark_ts:%Y-%m-%d}"



class AssetCheck(models.Model):
    """One persisted data-quality result (append-only)."""

    check_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(
        IngestionRun, on_delete=models.CASCADE, null=True, blank=True, related_name="checks"
    )
    asset_key = models.CharField(max_length=64)
    partition_key = models.CharField(max_length=64, blank=True, default="ALL")
    check_name = models.CharField(max_length=64)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    status = models.CharField(max_length=8, choices=CheckStatus.choices)
    checked_at = models.DateTimeField()
    metrics = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-checked_at"]
        constraints = [
            models.CheckConstraint(
                condition=_in_choices("severity", Severity), name="check_severity_valid"
            ),
            models.CheckConstraint(
                condition=_in_choices("status", CheckStatus), name="check_status_valid"
            ),
        ]
        indexes = [
            # Recent failed checks: WHERE status = 'fail' AND checked_at >= ? ORDER BY checked_at.
            models.Index(fields=["status", "-checked_at"], name="check_status_time_idx"),
            # Newest first without a filter: the admin changelist's default ordering.
            models.Index(fields=["-checked_at"], name="check_checked_idx"),
            # Latest result per (asset, partition, check) for the health roll-up.
            models.Index(
                fields=["asset_key", "partition_key", "check_name", "-checked_at"],
                name="check_latest_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.check_name} {self.status}"


class JobLease(models.Model):
    """Claims one (job, partition) for one running run, so a second copy refuses to start.

    Created in the same transaction as the run; deleted when the run finishes or is abandoned. The
    unique key makes the claim atomic across processes and machines.
    """

    job_name = models.CharField(max_length=64)
    lease_key = models.CharField(max_length=128)
    run = models.OneToOneField(IngestionRun, on_delete=models.CASCADE, related_name="lease")
    acquired_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job_name", "lease_key"], name="job_lease_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.job_name}[{self.lease_key}]"
