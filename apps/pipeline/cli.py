"""The shared door for job management commands: common flags, usage errors, output, exit codes.

Commands stay thin: they parse flags into :class:`JobParams` and call ``execute_job``; the ledger
context decides status and exit code. Usage errors exit 2 with one line; failed or partial runs exit 1.
Error text printed here is masked like the ledger's (``execute_job`` redacts it; warehouse errors here).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sys
import time
import uuid
from typing import Any

from django.core.management.base import CommandError

from apps.core import registry
from apps.core.jobs import JobParams, JobResult
from apps.ledger.models import IngestionRun
from apps.ledger.services.errors import redact_text
from apps.market.providers.registry import PROVIDER_NAMES
from apps.pipeline.jobs import JobExecution, execute_job
from apps.pipeline.requests import JobRequestError, job_params
from optionshelper.commands import ProductCommand
from optionshelper.warehouse import WarehouseError


class UsageError(CommandError):
    def __init__(self, message: str) -> None:
        super().__init__(message, returncode=2)


def parse_day(value: str | None, flag: str) -> dt.date | None:
    """A plain ``YYYY-MM-DD`` flag (``--from``/``--to``); None when absent."""
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag} must be YYYY-MM-DD, got {value!r}") from None


def day_label(day: dt.date | None) -> str:
    """``2026-11-27 (Fri)``: the resolved market date as every command prints it."""
    return f"{day.isoformat()} ({day:%a})" if day else "—"


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} s"


def partition_counts(result: JobResult | None) -> dict[str, int]:
    """success / skipped / failed partitions of a job result (all three keys always present)."""
    counts = {"success": 0, "skipped": 0, "failed": 0}
    for partition in result.partitions if result else []:
        counts[partition.status] = counts.get(partition.status, 0) + 1
    return counts


def _run_uuids(run_id: str) -> list[uuid.UUID]:
    """The run ids behind a job's outcome: one, or a fanned-out job's shard runs ("a,b,c")."""
    found = []
    for part in (run_id or "").split(","):
        with contextlib.suppress(ValueError):
            found.append(uuid.UUID(part.strip()))
    return found


def run_durations(run_ids: list[str]) -> dict[str, float]:
    """Ledger duration (seconds) of finished runs, by the outcome's run id (one query); a
    fanned-out job's shards ran side by side, so its duration is its longest shard's."""
    wanted = {run_id: _run_uuids(run_id) for run_id in run_ids if run_id}
    ids = [u for uuids in wanted.values() for u in uuids]
    if not ids:
        return {}
    rows = IngestionRun.objects.filter(run_id__in=ids).values_list("run_id", "duration_ms")
    seconds = {run_id: ms / 1000 for run_id, ms in rows if ms is not None}
    return {
        key: max(seconds[u] for u in uuids if u in seconds)
        for key, uuids in wanted.items()
        if any(u in seconds for u in uuids)
    }


def quiet_progress(quiet: bool) -> None:
    """``--quiet``: no per-symbol progress (the job logger drops to WARNING for the command)."""
    if quiet:
        logging.getLogger("optionshelper.jobs").setLevel(logging.WARNING)


def json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


class JobCommand(ProductCommand):
    """Base class of every job command (SPEC §6.1 common flags)."""

    job_name: str = ""
    uses_provider = True
    # Django's system checks (admin, templates, URLs) are for the site, not a data job, and build the
    # template engines at every start; `manage.py check --deploy`, runserver and migrate run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--as-of", default="latest", help="latest (default) or YYYY-MM-DD")
        parser.add_argument(
            "--symbol",
            action="append",
            default=[],
            help="symbol(s), repeatable, comma lists allowed",
        )
        parser.add_argument(
            "--watchlist", action="append", default=[], help="watchlist name, repeatable"
        )
        if self.uses_provider:
            parser.add_argument(
                "--provider", default=None, help=f"one of {', '.join(PROVIDER_NAMES)}"
            )
        parser.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
        parser.add_argument("--no-ledger", action="store_true", help="do not record the run")
        parser.add_argument(
            "--json", action="store_true", help="machine-readable summary on stdout"
        )
        parser.add_argument(
            "--quiet",
            action="store_true",
            help="only the summary line: no progress, no per-symbol lines",
        )
        if self.forceable:
            parser.add_argument(
                "--force",
                action="store_true",
                help="fetch and replace partitions already stored (default: skip, up_to_date)",
            )
        self.add_job_arguments(parser)

    @property
    def forceable(self) -> bool:
        return self.job_name in (*registry.FORCEABLE_JOBS, registry.PIPELINE_JOB)

    def add_job_arguments(self, parser) -> None:
        """Job-specific flags."""

    def job_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Job-specific options as given; ``apps.pipeline.requests.job_options`` validates them."""
        return {}

    def build_params(self, options: dict[str, Any]) -> JobParams:
        forced = options.get("force") and self.job_name in registry.FORCEABLE_JOBS
        try:
            return job_params(
                as_of=options["as_of"],
                symbols=options["symbol"],
                watchlists=options["watchlist"],
                provider=options.get("provider") if self.uses_provider else None,
                options={
                    **self.job_options(options),
                    **({"force": True} if forced else {}),
                },
                job=self.job_name,
            )
        except JobRequestError as exc:
            raise UsageError(str(exc)) from None

    quiet = False
    elapsed_s: float | None = None

    def execute(self, *args, **options):
        """Runs the command; ``--quiet`` lowers the job logger only while it runs."""
        logger = logging.getLogger("optionshelper.jobs")
        level = logger.level
        try:
            return super().execute(*args, **options)
        finally:
            logger.setLevel(level)

    def handle(self, *args, **options) -> None:
        params = self.build_params(options)
        self.quiet = bool(options.get("quiet"))
        quiet_progress(self.quiet or options["json"])
        if options["dry_run"]:
            self.print_plan(params, as_json=options["json"])
            return
        started = time.monotonic()
        try:
            execution = execute_job(self.job_name, params, ledger=not options["no_ledger"])
        except WarehouseError as exc:
            raise CommandError(redact_text(str(exc)), returncode=1) from None
        self.elapsed_s = time.monotonic() - started
        self.report(execution, as_json=options["json"])
        if execution.exit_code:
            sys.exit(execution.exit_code)

    def print_plan(self, params: JobParams, *, as_json: bool) -> None:
        plan = {
            "job": self.job_name,
            "dry_run": True,
            "as_of": params.as_of.market_date.isoformat(),
            "symbols": list(params.symbols),
            "provider": params.provider,
            "assets": [a.key for a in registry.job(self.job_name).assets],
            "options": params.options,
        }
        if as_json:
            self.stdout.write(json.dumps(plan, default=json_default, indent=2))
            return
        self.stdout.write(
            f"dry run: {self.job_name} would process {len(params.symbols)} symbol(s) "
            f"({', '.join(params.symbols) or 'none'}) as of {plan['as_of']} with provider "
            f"{params.provider}, writing {', '.join(plan['assets'])}. Nothing was written."
        )

    def report(self, execution: JobExecution, *, as_json: bool) -> None:
        if execution.refused:
            self.stderr.write(execution.refused)
            if as_json:
                self.stdout.write(
                    json.dumps(
                        {"job": self.job_name, "status": "refused", "message": execution.refused}
                    )
                )
            return
        outcome, result = execution.outcome, execution.result
        if as_json:
            payload = {
                "job": self.job_name,
                "run_id": outcome.run_id or None,
                "status": outcome.status,
                "exit_code": outcome.exit_code,
                "error": outcome.error or None,
                **(result.to_dict() if result else {}),
            }
            self.stdout.write(json.dumps(payload, default=json_default, indent=2))
            return
        self.print_result(execution)

    def print_result(self, execution: JobExecution) -> None:
        """A header row, one line per symbol (not with --quiet), then the summary line."""
        outcome, result = execution.outcome, execution.result
        if outcome.error:
            self.stderr.write(f"{self.job_name} failed: {outcome.error}")
        partitions = result.partitions if result else []
        if partitions and not self.quiet:
            self.stdout.write(f"  {'symbol':<8} {'status':<8} {'rows':>9}  detail")
            for partition in partitions:
                self.stdout.write(
                    f"  {partition.symbol:<8} {partition.status:<8} {partition.rows:>9,}  "
                    f"{partition.detail or ''}".rstrip()
                )
        self.stdout.write(self.summary_line(execution))

    def summary_line(self, execution: JobExecution) -> str:
        """``job: status · as of DATE (Day) · N success, N skipped, N failed · rows · seconds``."""
        outcome, result = execution.outcome, execution.result
        counts = partition_counts(result)
        if not result:
            ok, failed, skipped = outcome.counts
            counts = {"success": ok, "skipped": skipped, "failed": failed}
        rows = sum(p.rows for p in result.partitions) if result else 0
        run = f" · run {outcome.run_id}" if outcome.run_id else ""
        return (
            f"{self.job_name}: {outcome.status} · as of "
            f"{day_label(result.market_date if result else None)} · "
            f"{counts['success']} success, {counts['skipped']} skipped, {counts['failed']} failed"
            f" · {rows:,} rows · {seconds(self.elapsed_s)}{run}"
        )
