"""Health page and ``/health/status.json`` (SPEC §8, §9).

The rules (freshness, roll-up, grouping) live in :mod:`apps.ledger.selectors.health`; this view only
lays them out. status.json answers the ``db_health --json`` payload for monitors: 200 when healthy,
warning or unknown, 503 when degraded; it needs a session or the bearer token.
"""

from __future__ import annotations

import hmac
from typing import Any

import django_tables2 as tables
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html

from apps.ledger.selectors import health as ledger_health
from apps.portal import charts
from apps.portal.forms import HealthForm
from apps.portal.middleware import portal_view
from apps.portal.selectors import health as selectors
from apps.portal.tables import NumberColumn, PortalTable
from apps.portal.views._common import configure, export_or_none, page
from optionshelper.warehouse import WarehouseBusy

STATUS_COLORS = {
    "success": "#48bb78",
    "partial": "#ecc94b",
    "started": "#63b3ed",
    "failed": "#f56565",
    "abandoned": "#a0aec0",
}


def badge(kind: str, value: str) -> str:
    """A status badge; a method renderer is far cheaper than a template per cell on big tables."""
    return format_html('<span class="badge {}-{}">{}</span>', kind, value, value)


class FreshnessTable(PortalTable):
    asset_key = tables.Column(verbose_name="Asset")
    scope_key = tables.Column(verbose_name="Scope")
    status = tables.Column(verbose_name="Health")
    watermark_date = tables.DateColumn(format="Y-m-d", verbose_name="Watermark")
    expected_date = tables.DateColumn(format="Y-m-d", verbose_name="Expected")
    sessions_behind = NumberColumn(verbose_name="Sessions behind", decimals=0)
    latest_run_status = tables.Column(verbose_name="Latest run")
    reasons = tables.Column(orderable=False)

    class Meta(PortalTable.Meta):
        pass

    def render_status(self, value: str) -> str:
        return badge("status", value)

    def render_reasons(self, value: list[str]) -> str:
        return "; ".join(value) if value else "—"

    def value_reasons(self, value: list[str]) -> str:
        return "; ".join(value or [])


class LatestRunsTable(PortalTable):
    job_name = tables.Column(verbose_name="Job")
    status = tables.Column(verbose_name="Status")
    triggered_by = tables.Column(verbose_name="Trigger")
    started_at = tables.DateTimeColumn(format="Y-m-d H:i")
    duration_ms = NumberColumn(verbose_name="Duration ms", decimals=0)
    as_of = tables.DateColumn(format="Y-m-d", verbose_name="As of")
    partitions_ok = NumberColumn(verbose_name="OK", decimals=0)
    partitions_failed = NumberColumn(verbose_name="Failed", decimals=0)
    error_message = tables.Column(verbose_name="Error", orderable=False)

    class Meta(PortalTable.Meta):
        pass

    def render_status(self, value: str) -> str:
        return badge("run", value)


class FailedChecksTable(PortalTable):
    checked_at = tables.DateTimeColumn(format="Y-m-d H:i")
    asset_key = tables.Column(verbose_name="Asset")
    partition_key = tables.Column(verbose_name="Partition")
    check_name = tables.Column(verbose_name="Check")
    severity = tables.Column()
    job_name = tables.Column(verbose_name="Job")
    message = tables.Column(orderable=False)

    class Meta(PortalTable.Meta):
        pass


def timeline_chart(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not runs:
        return None
    return charts.chart(
        "bar",
        [f"{r['started_at']:%m-%d %H:%M} {r['job_name']}" for r in runs],
        {"Duration (s)": [(r["duration_ms"] or 0) / 1000 for r in runs]},
        colors={"Duration (s)": [STATUS_COLORS.get(r["status"], "#a0aec0") for r in runs]},
        title="Runs over the lookback: duration, coloured by status",
    )


def _filters(form: HealthForm) -> dict[str, Any]:
    return {"days": form.value("days"), "stale": form.value("stale"), "rows": form.value("rows")}


@portal_view("Health", clock=True)
def health(request: HttpRequest) -> HttpResponse:
    form = HealthForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "nav": "health"}
    if form.is_bound and not form.is_valid():
        return page(request, "portal/health.html", context)
    f = _filters(form)
    model, generation = selectors.cached_health_view_model(
        days=f["days"], stale=f["stale"], rows=f["rows"]
    )
    tables_ = {
        "freshness": FreshnessTable(model["freshness"], prefix="freshness-"),
        "runs": LatestRunsTable(model["runs"], prefix="runs-"),
        "checks": FailedChecksTable(model["checks"], prefix="checks-"),
    }
    exported = export_or_none(request, tables_, "health")
    if exported:
        return exported
    context.update(
        filters=f,
        overall=model["overall"],
        kpis=model["kpis"],
        timeline=timeline_chart(model["timeline"]),
        recurring=model["recurring"],
        abandoned=model["abandoned"],
        grid=model["grid"],
        plan=model["plan"],
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
    return JsonResponse(report, status=status, json_dumps_params={"allow_nan": False})
