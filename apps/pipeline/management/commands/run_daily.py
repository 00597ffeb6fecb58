"""The whole daily pipeline for one as-of, or a backfill over a range of sessions."""

from __future__ import annotations

import datetime as dt
import json
import sys

from apps.core import calendar, flow_contract, registry
from apps.core.jobs import JobParams
from apps.pipeline.cli import (
    JobCommand,
    UsageError,
    day_label,
    json_default,
    parse_day,
    partition_counts,
    quiet_progress,
    run_durations,
    seconds,
)
from apps.pipeline.daily import FanOut, PipelineResult, run_pipeline, run_range


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
        parser.add_argument(
            "--fan-out",
            action="store_true",
            help="run each job's symbols as django-q2 tasks on the running qcluster(s) and wait",
        )
        parser.add_argument(
            "--shard-size", type=int, default=1, help="symbols per fan-out task (default 1)"
        )
        parser.add_argument(
            "--fan-out-wait",
            type=float,
            default=None,
            help="seconds to wait for one job's tasks (default: the job's timeout)",
        )
        parser.add_argument(
            "--window", type=int, default=flow_contract.DEFAULT_WINDOW, help="compute_flow window"
        )
        parser.add_argument(
            "--group-by", default=flow_contract.DEFAULT_GROUP_BY, help="compute_flow group-by"
        )

    def job_options(self, options):
        chosen = {"compute_flow": {"window": options["window"], "group_by": options["group_by"]}}
        if options.get("force"):
            for job in registry.FORCEABLE_JOBS:
                chosen[job] = {**chosen.get(job, {}), "force": True}
        return chosen

    def handle(self, *args, **options) -> None:
        params = self.build_params(options)
        self.quiet = bool(options["quiet"])
        quiet_progress(self.quiet or options["json"])
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
        if options["start"] and options["as_of"] != "latest":
            raise UsageError("--as-of and --from/--to are alternatives (the range names its dates)")
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
        fan_out = self._fan_out(options)  # its flags are checked on a dry run too
        if options["dry_run"]:
            self._print_plan(params, start, end)
            return
        as_json = options["json"]
        if start and end:
            sessions = calendar.sessions_between(start, end)
            if not as_json:
                self.stdout.write(
                    f"run_daily backfill {day_label(sessions[0] if sessions else start)} → "
                    f"{day_label(sessions[-1] if sessions else end)}: {len(sessions)} session(s)"
                )
            results = run_range(
                params,
                start=start,
                end=end,
                fan_out=fan_out,
                on_result=None if as_json else self._print_session,
            )
        else:
            results = [run_pipeline(params, fan_out=fan_out)]
            if not as_json:
                self._print_session(results[0])
        self._report(results, as_json=as_json)
        code = max((r.exit_code for r in results), default=0)
        if code:
            sys.exit(code)

    @staticmethod
    def _fan_out(options) -> FanOut | None:
        if not options["fan_out"]:
            if options["shard_size"] != 1 or options["fan_out_wait"] is not None:
                raise UsageError("--shard-size and --fan-out-wait need --fan-out")
            return None
        if not 1 <= options["shard_size"] <= 10000:
            raise UsageError("--shard-size must be between 1 and 10000")
        if options["fan_out_wait"] is not None and options["fan_out_wait"] <= 0:
            raise UsageError("--fan-out-wait must be positive")
        return FanOut(shard_size=options["shard_size"], wait_s=options["fan_out_wait"])

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

    def _print_session(self, result: PipelineResult) -> None:
        """One session: resolved date, then per job its counts, rows and duration."""
        if result.refused:
            self.stderr.write(result.refused)
            return
        durations = run_durations(
            [result.outcome.run_id] + [ex.outcome.run_id for _, ex in result.jobs]
        )
        self.stdout.write(
            f"run_daily {day_label(result.as_of.market_date)}: {result.outcome.status} · "
            f"{seconds(durations.get(result.outcome.run_id))} · run {result.outcome.run_id}"
        )
        if not self.quiet:
            self.stdout.write(
                f"  {'job':<20} {'status':<9} {'success':>7} {'skipped':>7} {'failed':>6} "
                f"{'rows':>9} {'duration':>10}"
            )
        no_data: list[str] = []
        for job_name, execution in result.jobs:
            counts = partition_counts(execution.result)
            status = "refused" if execution.refused else execution.outcome.status
            rows = sum(p.rows for p in execution.result.partitions) if execution.result else 0
            if not self.quiet:
                self.stdout.write(
                    f"  {job_name:<20} {status:<9} {counts['success']:>7} {counts['skipped']:>7} "
                    f"{counts['failed']:>6} {rows:>9,} "
                    f"{seconds(durations.get(execution.outcome.run_id)):>10}"
                )
            for partition in execution.result.partitions if execution.result else []:
                if partition.status == "failed" or (
                    partition.status == "skipped" and partition.detail != "upstream_failed"
                ):
                    reason = partition.detail or partition.status
                    no_data.append(f"{job_name} {partition.symbol} {partition.status}: {reason}")
        if no_data and not self.quiet:
            self.stdout.write("  skipped or failed this session:")
            for line in no_data:
                self.stdout.write(f"    {line}")

    def _report(self, results: list[PipelineResult], *, as_json: bool) -> None:
        if as_json:
            payload = [r.to_dict() for r in results]
            self.stdout.write(
                json.dumps(
                    payload[0] if len(payload) == 1 else payload, default=json_default, indent=2
                )
            )
            return
        if len(results) > 1:
            statuses = [r.outcome.status if not r.refused else "refused" for r in results]
            summary = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
            self.stdout.write(f"run_daily: {len(results)} session(s): {summary}")
        self.stdout.write(
            "Open the portal (python manage.py runserver) or the admin to look. Not financial advice."
        )
