"""The whole daily pipeline for one as-of, or a backfill over a range of sessions."""

from __future__ import annotations

import datetime as dt
import json
import sys

from apps.core import calendar, registry
from apps.core.jobs import JobParams
from apps.pipeline.cli import JobCommand, UsageError, json_default, parse_day
from apps.pipeline.daily import PipelineResult, run_pipeline, run_range


class Command(JobCommand):
    help = "Run every job in dependency order for one as-of (or --from/--to for a backfill)."
    job_name = registry.PIPELINE_JOB

    def add_job_arguments(self, parser) -> None:
        parser.add_argument("--from", dest="start", default=None, help="backfill start YYYY-MM-DD")
        parser.add_argument("--to", dest="end", default=None, help="backfill end YYYY-MM-DD")
        parser.add_argument(
            "--sessions",
            type=int,
            default=None,
            help="backfill the last N trading sessions ending at --as-of",
        )
        parser.add_argument("--window", type=int, default=1, help="compute_flow window")
        parser.add_argument("--group-by", default="contract", help="compute_flow group-by")

    def job_options(self, options):
        return {"compute_flow": {"window": options["window"], "group_by": options["group_by"]}}

    def handle(self, *args, **options) -> None:
        params = self.build_params(options)
        start, end = parse_day(options["start"], "--from"), parse_day(options["end"], "--to")
        if options["sessions"] is not None:
            if start or end:
                raise UsageError("--sessions and --from/--to are alternatives")
            if not 1 <= options["sessions"] <= 2000:
                raise UsageError("--sessions must be between 1 and 2000")
            end = params.as_of.market_date
            start = calendar.sessions_between(
                end - dt.timedelta(days=4 * options["sessions"]), end
            )[-options["sessions"]]
        if (start is None) != (end is None):
            raise UsageError("--from and --to go together")
        if start and end and start > end:
            raise UsageError("--from must not be after --to")
        if start and end and not calendar.sessions_between(start, end):
            raise UsageError(
                f"no trading sessions between {start} and {end} (weekend or holidays only)"
            )
        if options["no_ledger"]:
            raise UsageError(
                "run_daily always records its runs; use the single jobs for --no-ledger"
            )
        if options["dry_run"]:
            self._print_plan(params, start, end)
            return
        if start and end:
            results = run_range(params, start=start, end=end)
        else:
            results = [run_pipeline(params)]
        self._report(results, as_json=options["json"])
        code = max((r.exit_code for r in results), default=0)
        if code:
            sys.exit(code)

    def _print_plan(self, params: JobParams, start, end) -> None:
        span = f"{start} → {end}" if start else str(params.as_of)
        self.stdout.write(
            f"dry run: run_daily {span} for {len(params.symbols)} symbol(s) "
            f"({', '.join(params.symbols) or 'none'}) with provider {params.provider}:"
        )
        for job_name in registry.pipeline_order():
            ups = ", ".join(registry.upstream_jobs(job_name)) or "—"
            self.stdout.write(f"  {job_name:<20} after: {ups}")
        self.stdout.write("Nothing was written.")

    def _report(self, results: list[PipelineResult], *, as_json: bool) -> None:
        if as_json:
            payload = [r.to_dict() for r in results]
            self.stdout.write(
                json.dumps(
                    payload[0] if len(payload) == 1 else payload, default=json_default, indent=2
                )
            )
            return
        for result in results:
            if result.refused:
                self.stderr.write(result.refused)
                continue
            as_of = result.as_of.market_date.isoformat()
            self.stdout.write(
                f"run_daily {as_of}: {result.outcome.status} (run {result.outcome.run_id})"
            )
            for job_name, execution in result.jobs:
                failed = execution.result.symbols_with("failed") if execution.result else []
                note = f"  failed: {', '.join(failed)}" if failed else ""
                status = "refused" if execution.refused else execution.outcome.status
                self.stdout.write(f"  {job_name:<20} {status:<9}{note}")
        self.stdout.write(
            "Open the portal (python manage.py runserver) or the admin to look. Not financial advice."
        )
