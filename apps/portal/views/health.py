"""Health page and ``/health/status.json`` (SPEC §8, §9).

The rules (freshness, roll-up, grouping) live in :mod:`apps.ledger.selectors.health`; this view only
lays them out. status.json answers the ``db_health --json`` payload for monitors: 200 when healthy,
warning or unknown, 503 when degraded; it needs a session or the bearer token, and names no server
file paths.
"""

from __future__ import annotations

import hmac
from pathlib import PurePath
from typing import Any

import django_tables2 as tables
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.ledger.selectors import health as ledger_health
from apps.portal import charts
from apps.portal.forms import HealthForm
from apps.portal.middleware import portal_view
from apps.portal.selectors import health as selectors
from apps.portal.tables import (
    BadgeColumn,
    CheckGroupsTable,
    DayColumn,
    GapPlanTable,
    NumberColumn,
    PortalTable,
    RecurringFailuresTable,
    TextColumn,
    TimeColumn,
    status_grid_table,
)
from apps.portal.views._common import configure, export_or_none, page
from optionshelper.warehouse import WarehouseBusy

# Run status → (bar colour, its name for the chart's title).
STATUS_COLORS = {
    "success": ("#48bb78", "green"),
    "partial": ("#ecc94b", "yellow"),
    "started": ("#63b3ed", "blue"),
    "failed": ("#f56565", "red"),
    "abandoned": ("#a0aec0", "grey"),
}
_GREY = STATUS_COLORS["abandoned"]


class FreshnessTable(PortalTable):
    asset_key = tables.Column(verbose_name="Asset")
    scope_key = tables.Column(verbose_name="Scope")
    status = BadgeColumn(verbose_name="Health", kind="status")
    watermark_date = DayColumn(verbose_name="Watermark")
    expected_date = DayColumn(verbose_name="Expected")
    sessions_behind = NumberColumn(verbose_name="Sessions behind", decimals=0)
    latest_run_status = BadgeColumn(verbose_name="Latest run", kind="run")
    reasons = tables.Column(orderable=False)

    class Meta(PortalTable.Meta):
        pass

    def render_reasons(self, value: list[str]) -> str:
        return "; ".join(value) if value else "—"

    def value_reasons(self, value: list[str]) -> str:
        return "; ".join(value or [])


class LatestRunsTable(PortalTable):
    job_name = tables.Column(verbose_name="Job")
    status = BadgeColumn(verbose_name="Status", kind="run")
    triggered_by = tables.Column(verbose_name="Trigger")
    started_at = TimeColumn(verbose_name="Started (UTC)")
    duration_ms = NumberColumn(verbose_name="Duration (ms)", decimals=0)
    as_of = DayColumn(verbose_name="As of")
    partitions_ok = NumberColumn(verbose_name="OK", decimals=0)
    partitions_failed = NumberColumn(verbose_name="Failed", decimals=0)
    partitions_skipped = NumberColumn(verbose_name="Skipped", decimals=0)
    error_message = TextColumn(verbose_name="Error", orderable=False)

    class Meta(PortalTable.Meta):
        pass


def timeline_chart(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not runs:
        return None
    return charts.chart(
        "bar",
        [_timeline_label(r) for r in runs],
        {"Duration (s)": [(r["duration_ms"] or 0) / 1000 for r in runs]},
        colors={"Duration (s)": [STATUS_COLORS.get(r["status"], _GREY)[0] for r in runs]},
        title="Runs over the lookback: duration, coloured by status ("
        + ", ".join(f"{status} {name}" for status, (_, name) in STATUS_COLORS.items())
        + ")",
    )


def _timeline_label(run: dict[str, Any]) -> str:
    """Job and the session it ran for (a backfill starts many sessions' runs in one minute)."""
    session = f" for {run['as_of']:%m-%d}" if run.get("as_of") else ""
    return f"{run['job_name']}{session} · {run['started_at']:%m-%d %H:%M}"


def _filters(form: HealthForm) -> dict[str, Any]:
    return {
        "days": form.value("days"),
        "stale": form.value("stale"),
        "rows": form.value("rows"),
        "all": bool(form.value("all")),
    }


def _problems_first(rows: list, *, show_all: bool) -> list:
    """Problems first (worst first, registry order within a level); healthy and not-tracked rows
    (which never count) only on request, after the problems."""
    order = {ledger_health.DEGRADED: 0, ledger_health.WARNING: 1, ledger_health.UNKNOWN: 2}
    ranked = sorted(rows, key=lambda r: order.get(r.status, 3))
    quiet = (ledger_health.HEALTHY, ledger_health.NOT_TRACKED)
    return ranked if show_all else [r for r in ranked if r.status not in quiet]


@portal_view("Health", clock=True)
def health(request: HttpRequest) -> HttpResponse:
    form = HealthForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "nav": "health"}
    if form.is_bound and not form.is_valid():
        return page(request, "portal/health.html", context)
    f = _filters(form)
    fresh = "_export" in request.GET  # an export is never answered from a cache
    model, generation = selectors.cached_health_view_model(
        days=f["days"], rows=f["rows"], fresh=fresh
    )
    rows = model["health_rows"]
    shown = _problems_first(ledger_health.at_least_behind(rows, f["stale"]), show_all=f["all"])
    tables_ = {
        "freshness": FreshnessTable([r.to_dict() for r in shown], prefix="freshness-", order_by=()),
        "runs": LatestRunsTable(model["runs"], prefix="runs-"),
        "checks": CheckGroupsTable(model["checks"], prefix="checks-"),
        "recurring": RecurringFailuresTable(model["recurring"], prefix="recurring-"),
        "grid": status_grid_table(model["grid"]),
        "plan": GapPlanTable(model["plan"], prefix="plan-"),
    }
    exported = export_or_none(request, tables_, "health")
    if exported:
        return exported
    context.update(
        filters=f,
        overall=model["overall"],
        kpis=model["kpis"],
        timeline=timeline_chart(model["timeline"]),
        healthy_hidden=0 if f["all"] else sum(r.status == ledger_health.HEALTHY for r in rows),
        abandoned=model["abandoned"],
        grid=model["grid"],
        data_as_of=model["data_as_of"],
        generation=generation,
        **{
            f"{name}_table": configure(request, t, per_page=f["rows"])
            for name, t in tables_.items()
        },
    )
    return page(request, "portal/health.html", context)


def _token_ok(request: HttpRequest) -> bool:
    token = getattr(settings, "HEALTH_TOKEN", "") or ""
    header = request.headers.get("Authorization", "")
    if not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())


def _without_paths(value: Any, prefixes: tuple[str, ...]) -> Any:
    """``value`` with the server's directories cut from every string (monitors need no paths)."""
    if isinstance(value, dict):
        return {k: _without_paths(v, prefixes) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_paths(v, prefixes) for v in value]
    if isinstance(value, str):
        for prefix in prefixes:
            value = value.replace(prefix, "")
    return value


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    """The health report without absolute file paths: the warehouse and a SQLite metadata DB are
    named by file name only, and data/project directories are cut from messages."""
    report = dict(report)
    warehouse_file = PurePath(report["warehouse"]["path"])
    report["warehouse"] = {**report["warehouse"], "path": warehouse_file.name}
    database = dict(report["database"])
    if "/" in str(database.get("name") or ""):
        database["name"] = PurePath(str(database["name"])).name
    report["database"] = database
    prefixes = sorted(
        {f"{settings.DATA_DIR}/", f"{settings.BASE_DIR}/", f"{warehouse_file.parent}/"},
        key=len,
        reverse=True,
    )
    return _without_paths(report, tuple(prefixes))


def status_json(request: HttpRequest) -> HttpResponse:
    """The db_health --json payload; 503 when degraded. Login or ``Authorization: Bearer``."""
    if not (request.user.is_authenticated or _token_ok(request)):
        response = JsonResponse({"error": "authentication required"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="health"'
        return response
    form = HealthForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return JsonResponse({"error": "invalid parameters", "fields": form.errors}, status=400)
    f = _filters(form)
    try:
        report = ledger_health.health_report(days=f["days"], limit=f["rows"], stale_days=f["stale"])
    except WarehouseBusy as exc:
        response = JsonResponse({"error": str(exc)}, status=503)
        response["Retry-After"] = str(exc.retry_after_s)
        return response
    status = 503 if report.get("overall") == ledger_health.DEGRADED else 200
    return JsonResponse(
        public_report(report), status=status, json_dumps_params={"allow_nan": False}
    )
