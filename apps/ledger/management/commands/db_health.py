"""``manage.py db_health``: runs, failures, freshness and failed checks at a glance (SPEC §8.2).

Read-only apart from marking dead runs ``abandoned`` (and only on a migrated metadata DB). A missing
database or warehouse is a notice (text) or ``false`` flags (JSON) with exit 0; nothing is created.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import CommandError

from apps.ledger.selectors import health
from optionshelper.commands import ProductCommand
from optionshelper.databases import metadata_db_info

FAIL_ON_LEVELS = (health.WARNING, health.DEGRADED)


# Upper bounds keep dates and SQL LIMITs in range (a 20-digit --limit overflowed the database).
_MAXIMA = {"--days": 36500, "--limit": 100_000, "--stale-days": 100_000}


def _non_negative_int(flag: str, raw: str | None, *, allow_none: bool = False) -> int | None:
    if raw is None and allow_none:
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise CommandError(f"{flag} must be a whole number, got {raw!r}", returncode=2) from None
    if value < 0:
        raise CommandError(f"{flag} must be 0 or more, got {value}", returncode=2)
    if value > _MAXIMA[flag]:
        raise CommandError(f"{flag} must be at most {_MAXIMA[flag]}, got {raw}", returncode=2)
    return value


def _cell(value: Any) -> str:
    return "-" if value in (None, "") else str(value)


class Command(ProductCommand):
    help = "Show the health of runs, watermarks and checks (exit 1 with --fail-on when unhealthy)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", default="7", help="lookback in days (default 7)")
        parser.add_argument("--limit", default="50", help="rows per section (default 50)")
        parser.add_argument(
            "--stale-days",
            default=None,
            help="only watermarks at least this many sessions stale (default: all)",
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument(
            "--fail-on",
            default=None,
            help="exit 1 when overall health is at or worse than warning|degraded",
        )

    def handle(self, *args, **options) -> None:
        days = _non_negative_int("--days", options["days"])
        limit = _non_negative_int("--limit", options["limit"])
        stale_days = _non_negative_int("--stale-days", options["stale_days"], allow_none=True)
        fail_on = options["fail_on"]
        if fail_on is not None and fail_on not in FAIL_ON_LEVELS:
            raise CommandError(
                f"--fail-on must be one of {', '.join(FAIL_ON_LEVELS)}, got {fail_on!r}",
                returncode=2,
            )
        abandoned = self._abandon_stale_runs()
        report = health.health_report(days=days, limit=limit, stale_days=stale_days)
        if options["json"]:
            self.stdout.write(json.dumps(report, allow_nan=False, indent=2))
        else:
            self._print_text(report, abandoned_now=abandoned)
        if fail_on and health.is_at_or_worse(report["overall"], fail_on):
            sys.exit(1)

    def _abandon_stale_runs(self) -> int:
        """Reap dead runs first, so the report never shows a run 'started' forever."""
        meta = metadata_db_info()
        if not (meta.reachable and meta.meta_tables_present and not meta.pending_migrations):
            return 0
        from apps.ledger.services.housekeeping import abandon_stale_runs

        return len(abandon_stale_runs())

    # --- text output ---------------------------------------------------------------------------

    def _print_text(self, report: dict[str, Any], *, abandoned_now: int) -> None:
        self._print_databases(report)
        if report["meta_tables_present"]:
            self.stdout.write(f"Overall health: {report['overall']}")
            if abandoned_now:
                self.stdout.write(f"Marked {abandoned_now} dead run(s) abandoned.")
            self._print_sections(report)
        self.stdout.write("")
        self.stdout.write(report["disclaimer"])

    def _print_databases(self, report: dict[str, Any]) -> None:
        db, wh = report["database"], report["warehouse"]
        self.stdout.write(f"Metadata DB: {db['engine']} {db['name']}")
        if not db["reachable"]:
            self.stdout.write(
                "  NOTICE: metadata DB not found or not reachable — run `python manage.py db_init`"
            )
        elif not report["meta_tables_present"]:
            self.stdout.write("  NOTICE: ledger tables missing — run `python manage.py db_init`")
        self.stdout.write(f"Warehouse: {wh['path']}")
        if not wh["exists"]:
            self.stdout.write("  NOTICE: warehouse not found — run `python manage.py db_init`")
        elif wh.get("error"):
            self.stdout.write(f"  ERROR: warehouse unreadable: {wh['error']}")
        else:
            self.stdout.write(f"  schema version {_cell(wh['schema_version'])}")

    def _print_sections(self, report: dict[str, Any]) -> None:
        limit = report["filters"]["limit"]
        self._table(
            "Latest run per job",
            report["latest_runs"],
            ("job_name", "status", "started_at", "duration_ms", "as_of", "error_type"),
        )
        self._table(
            "Recent run failures",
            report["recent_failures"],
            ("started_at", "job_name", "status", "error_type", "error_message"),
            limit=limit,
        )
        self._table(
            "Watermarks and freshness",
            report["watermarks"],
            (
                "asset_key",
                "scope_key",
                "status",
                "watermark_date",
                "expected_date",
                "sessions_behind",
                "reasons",
            ),
            total=report["watermarks_total"],
        )
        self._table(
            "Recent failed checks",
            report["recent_failed_checks"],
            ("checked_at", "check_name", "asset_key", "partition_key", "severity", "message"),
            limit=limit,
        )
        if report["abandoned_runs"]:
            self._table(
                "Abandoned runs",
                report["abandoned_runs"],
                ("started_at", "job_name", "run_id", "error_message"),
                limit=limit,
            )

    def _table(
        self,
        title: str,
        rows: list[dict[str, Any]],
        columns: tuple[str, ...],
        *,
        total: int | None = None,
        limit: int | None = None,
    ) -> None:
        """``total``: how many rows there were before ``--limit``; ``limit``: the section was
        queried with that LIMIT (a full section may have had more)."""
        self.stdout.write("")
        self.stdout.write(title)
        self.stdout.write("-" * len(title))
        if not rows:
            self.stdout.write("  (none)")
            return
        cells = [[self._format(row.get(c)) for c in columns] for row in rows]
        widths = [min(max(len(c), *(len(r[i]) for r in cells)), 60) for i, c in enumerate(columns)]
        widths[-1] = max(len(columns[-1]), *(len(r[-1]) for r in cells))  # reasons stay whole
        self.stdout.write(
            "  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
        )
        for row in cells:
            fitted = (_fit(v, w) for v, w in zip(row, widths, strict=True))
            self.stdout.write("  " + "  ".join(fitted).rstrip())
        if total is not None and total > len(rows):
            self.stdout.write(f"  ({len(rows)} of {total} shown, problems first; --limit shows more)")
        elif limit is not None and len(rows) >= limit:
            self.stdout.write(f"  (the newest {limit}; --limit shows more)")

    @staticmethod
    def _format(value: Any) -> str:
        if isinstance(value, list):
            return "; ".join(str(v) for v in value) or "-"
        text = _cell(value)
        return text.replace("\n", " ")


def _fit(text: str, width: int) -> str:
    """``text`` in ``width`` columns, cut at a word boundary with an ellipsis, never mid-word."""
    if len(text) <= width:
        return text.ljust(width)
    cut = text[: width - 1]
    if text[len(cut)] != " " and " " in cut:  # the cut falls inside a word: drop that word
        cut = cut[: cut.rindex(" ")]
    return (cut.rstrip() + "…").ljust(width)
