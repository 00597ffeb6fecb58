"""Job actions need ``ledger.run_jobs``; the viewers/operators groups; demo's admin access; console
redaction of job errors (SPEC §11)."""

from __future__ import annotations

import datetime as dt
import io
import logging
import sys

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from apps.core.asof import resolve_as_of
from apps.core.jobs import JobParams
from apps.ledger.models import IngestionRun, RunStatus
from apps.ledger.services import roles
from apps.ledger.services.errors import RedactingFormatter
from apps.pipeline.planner import PlanStep

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 20)
SECRET = "sup3r-secret-value-42"


@pytest.fixture
def enqueued(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda *a, **k: calls.append((a, k)) or f"t{len(calls)}"
    )
    return calls


@pytest.fixture
def steps(monkeypatch):
    plan = [PlanStep(1, "candles_daily", "SPY", "ingest_candles", "watermark missing", "python")]
    monkeypatch.setattr("apps.pipeline.planner.plan_gaps", lambda **kw: plan)
    return plan


def _failed_run() -> IngestionRun:
    now = timezone.now()
    return IngestionRun.objects.create(
        job_name="ingest_candles",
        triggered_by="schedule",
        status=RunStatus.FAILED,
        started_at=now,
        heartbeat_at=now,
        as_of=AS_OF,
        # What a run really stores (JobParams.ledger_args), options included.
        args=JobParams(
            as_of=resolve_as_of("latest"), symbols=("SPY",), options={"force": True}
        ).ledger_args("ingest_candles"),
    )


def _staff(client, django_user_model, *groups: str):
    user = django_user_model.objects.create_user("staffer", password="pw-x-123456", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=groups))
    client.force_login(user)
    return client


def test_staff_without_run_jobs_gets_403_everywhere(client, django_user_model, enqueued, steps):
    staff = _staff(client, django_user_model, roles.VIEWERS)
    url = reverse("admin:ledger_ingestionrun_gap_plan")
    assert staff.get(url).status_code == 403
    post = {"job_name": "ingest_candles", "asset_key": "candles_daily", "scope_key": "SPY"}
    assert staff.post(url, post).status_code == 403
    changelist = reverse("admin:ledger_ingestionrun_changelist")
    page = staff.get(changelist)
    assert page.status_code == 200  # viewers may look at runs ...
    assert "rerun_failed_runs" not in page.content.decode()  # ... but are not offered the action
    assert url not in page.content.decode()
    run = _failed_run()
    response = staff.post(changelist, {"action": "rerun_failed_runs", "_selected_action": [run.pk]})
    assert response.status_code == 403
    assert enqueued == []


def test_operators_may_run_jobs(client, django_user_model, enqueued, steps):
    operator = _staff(client, django_user_model, roles.OPERATORS)  # operators alone suffice
    url = reverse("admin:ledger_ingestionrun_gap_plan")
    assert operator.get(url).status_code == 200
    operator.post(
        url, {"job_name": "ingest_candles", "asset_key": "candles_daily", "scope_key": "SPY"}
    )
    run = _failed_run()
    changelist = reverse("admin:ledger_ingestionrun_changelist")
    page = operator.get(changelist)
    html = page.content.decode()
    assert page.status_code == 200 and "rerun_failed_runs" in html
    title = html.split("<title>")[1].split("</title>")[0]
    assert "Gap planner" in title and "&lt;a" not in title and "<a" not in title
    assert "Informational and educational only. Not financial advice." in html
    response = operator.post(
        changelist, {"action": "rerun_failed_runs", "_selected_action": [run.pk]}
    )
    assert response.status_code == 302
    assert [call[0][1] for call in enqueued] == ["ingest_candles", "ingest_candles"]
    rerun = enqueued[1][1]  # the same session, symbols and options; the ledger's own keys left out
    assert (rerun["as_of"], rerun["symbols"], rerun["options"]) == (
        AS_OF.isoformat(),
        ["SPY"],
        {"force": True},
    )


def test_a_malformed_run_selection_is_a_bad_request(client, django_user_model, enqueued):
    operator = _staff(client, django_user_model, roles.OPERATORS)
    response = operator.post(
        reverse("admin:ledger_ingestionrun_changelist"),
        {"action": "rerun_failed_runs", "_selected_action": ["not-a-run-id"]},
    )
    assert response.status_code == 400
    assert enqueued == []


def test_groups_exist_after_migrate_and_are_idempotent():
    viewers = Group.objects.get(name=roles.VIEWERS)
    operators = Group.objects.get(name=roles.OPERATORS)
    codenames = set(viewers.permissions.values_list("codename", flat=True))
    assert {
        "view_ingestionrun",
        "view_assetcheck",
        "view_optionsflow",
        "view_position",
    } <= codenames
    assert not [c for c in codenames if not c.startswith("view_")]
    assert "run_jobs" in set(operators.permissions.values_list("codename", flat=True))
    before = (viewers.permissions.count(), operators.permissions.count())
    assert roles.roles_ensure() == roles.roles_ensure()
    assert (viewers.permissions.count(), operators.permissions.count()) == before
    assert Group.objects.filter(name__in=(roles.VIEWERS, roles.OPERATORS)).count() == 2


def test_demo_can_open_the_admin_pages_the_readme_names(client, django_user_model, steps):
    call_command("demo_setup", stdout=io.StringIO())
    call_command("demo_setup", stdout=io.StringIO())  # repeatable
    demo = django_user_model.objects.get(username="demo")
    assert set(demo.groups.values_list("name", flat=True)) == {roles.VIEWERS, roles.OPERATORS}
    assert demo.has_perm(roles.RUN_JOBS) and not demo.is_superuser
    client.force_login(demo)
    for name in (
        "admin:ledger_ingestionrun_changelist",
        "admin:ledger_ingestionrunasset_changelist",
        "admin:ledger_assetwatermark_changelist",
        "admin:ledger_assetcheck_changelist",
        "admin:ledger_ingestionrun_gap_plan",
        "admin:django_q_success_changelist",
        "admin:django_q_failure_changelist",
        "admin:django_q_schedule_changelist",
        "admin:axes_accessattempt_changelist",
    ):
        assert client.get(reverse(name)).status_code == 200, name
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403


# --- console redaction ----------------------------------------------------------------------------


def test_job_errors_printed_by_commands_are_redacted(warehouse_db, monkeypatch, capsys):
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)

    def leaky(params, *, log):
        raise RuntimeError(f"provider said no to key {SECRET}")

    monkeypatch.setattr("apps.pipeline.jobs.job_function", lambda name: leaky)
    for extra in ([], ["--json"]):
        out, err = io.StringIO(), io.StringIO()
        with pytest.raises(SystemExit) as info:
            call_command(
                "ingest_candles",
                "--symbol",
                "SPY",
                "--as-of",
                AS_OF.isoformat(),
                *extra,
                stdout=out,
                stderr=err,
            )
        assert info.value.code == 1
        printed = out.getvalue() + err.getvalue()
        assert "provider said no to key ***" in printed and SECRET not in printed
    run = IngestionRun.objects.filter(job_name="ingest_candles").latest("started_at")
    assert SECRET not in run.error_message


def test_log_lines_and_tracebacks_are_redacted(monkeypatch):
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    try:
        raise RuntimeError(f"boom {SECRET}")
    except RuntimeError:
        record = logging.LogRecord(
            "optionshelper.jobs",
            logging.ERROR,
            __file__,
            1,
            "failed with %s",
            (SECRET,),
            sys.exc_info(),
        )
    text = RedactingFormatter("%(message)s").format(record)
    assert SECRET not in text and "failed with ***" in text and "RuntimeError: boom ***" in text


@pytest.mark.django_db
def test_admin_checks_list_keeps_rows_one_line(admin_client):
    from django.utils import timezone

    from apps.ledger.models import AssetCheck

    AssetCheck.objects.create(
        asset_key="options_snapshots",
        partition_key="AAPL",
        check_name="snapshot_iv_range",
        severity="error",
        status="fail",
        checked_at=timezone.now(),
        metrics={},
        message="AAPL: " + "very long message " * 30,
    )
    body = admin_client.get("/admin/ledger/assetcheck/").content.decode()
    assert "very long message " * 3 in body and "very long message " * 30 not in body
    assert "td.field-checked_at" in body and "white-space: nowrap" in body
