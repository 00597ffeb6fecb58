"""The shared door for job management commands: common flags, usage errors, output, exit codes.

Commands stay thin: they parse flags into :class:`JobParams` and call ``execute_job``; the ledger
context decides status and exit code. Usage errors exit 2 with one line; failed or partial runs exit 1.
Error text printed here is masked like the ledger's (``execute_job`` redacts it; warehouse errors here).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.core import registry
from apps.core.jobs import JobParams
from apps.ledger.services.errors import redact_text
from apps.market.providers.registry import PROVIDER_NAMES
from apps.pipeline.jobs import JobExecution, execute_job
from apps.pipeline.requests import JobRequestError, job_params
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


def json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


class JobCommand(BaseCommand):
    """Base class of every job command (SPEC §6.1 common flags)."""

    job_name: str = ""
    uses_provider = True

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
        self.add_job_arguments(parser)

    def add_job_arguments(self, parser) -> None:
        """Job-specific flags."""

    def job_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Validated job-specific options (raise UsageError for bad values)."""
        return {}

    def build_params(self, options: dict[str, Any]) -> JobParams:
        try:
            return job_params(
                as_of=options["as_of"],
                symbols=options["symbol"],
                watchlists=options["watchlist"],
                provider=options.get("provider") if self.uses_provider else None,
                options=self.job_options(options),
            )
        except JobRequestError as exc:
            raise UsageError(str(exc)) from None

    def handle(self, *args, **options) -> None:
        params = self.build_params(options)
        if options["dry_run"]:
            self.print_plan(params, as_json=options["json"])
            return
        try:
            execution = execute_job(self.job_name, params, ledger=not options["no_ledger"])
        except WarehouseError as exc:
            raise CommandError(redact_text(str(exc)), returncode=1) from None
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
        outcome, result = execution.outcome, execution.result
        if outcome.error:
            self.stderr.write(f"{self.job_name} failed: {outcome.error}")
        for partition in result.partitions if result else []:
            detail = f"  {partition.detail}" if partition.detail else ""
            self.stdout.write(
                f"  {partition.symbol:<8} {partition.status:<8} {partition.rows:>9,} rows{detail}"
            )
        ok, failed, skipped = outcome.counts
        market = result.market_date.isoformat() if result and result.market_date else "—"
        run = f" run {outcome.run_id}" if outcome.run_id else ""
        self.stdout.write(
            f"{self.job_name}: {outcome.status} (market date {market}; {ok} ok, {failed} failed, "
            f"{skipped} skipped){run}"
        )
