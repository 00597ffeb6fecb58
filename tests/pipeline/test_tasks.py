"""django-q2 tasks, schedules and the staff actions, run in-process (SPEC §10).

Tasks go through ``async_task(..., sync=True)`` so django-q2 itself assigns the task id, sends its
signals and saves the Success/Failure row, exactly as a worker would, without a cluster.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule, Task
from django_q.tasks import async_task

from apps.core import registry
from apps.ledger.models import IngestionRun, JobLease, RunStatus
from apps.ledger.services.runs import job_run
from apps.pipeline import schedules, tasks
from apps.pipeline.daily import fan_out_default
from apps.pipeline.planner import PlanStep

AS_OF = dt.date(2026, 11, 20)
SYMBOLS = ["SPY", "AAPL"]
NY = zoneinfo.ZoneInfo("America/New_York")

pytestmark = pytest.mark.django_db


def _sync_task(func: str, *args, **kwargs) -> str:
    return async_task(func, *args, sync=True, **kwargs)


def test_scheduled_run_daily_records_schedule_runs_with_task_id(warehouse_db):
    task_id = _sync_task(tasks.SCHEDULED_RUN_DAILY, as_of=AS_OF.isoformat(), symbols=SYMBOLS)

    pipeline = IngestionRun.objects.get(job_name=registry.PIPELINE_JOB)
    assert pipeline.triggered_by == "schedule"
    assert pipeline.parent_run_id == task_id
    assert pipeline.as_of == AS_OF
    assert pipeline.status != RunStatus.STARTED
    children = IngestionRun.objects.exclude(pk=pipeline.pk)
    # With a Redis broker and >= 2 workers the scheduled run fans out (here: its shards run sync).
    per_shard = 2 if fan_out_default() is not None else 1
    expected = {j: per_shard if registry.job(j).per_symbol else 1 for j in registry.pipeline_order()}
    assert Counter(children.values_list("job_name", flat=True)) == expected
    assert set(children.values_list("triggered_by", flat=True)) == {"schedule"}
    assert set(children.values_list("parent_run_id", flat=True)) == {str(pipeline.run_id)}
    assert set(children.filter(job_name="ingest_candles").values_list("status", flat=True)) == {
        "success"
    }

    task = Task.objects.get(id=task_id)
    assert task.success
    assert task.result["run_id"] == str(pipeline.run_id)
    assert task.result["task_id"] == task_id
    assert task.result["refused"] is False
    assert tasks.current_task_id() == ""  # cleared once the task finished


def test_schedule_firing_while_the_job_runs_starts_it_once(warehouse_db):
    """The pipeline for an as-of is running (it holds its lease); two more fires are refused."""
    with job_run(job_name=registry.PIPELINE_JOB, triggered_by="schedule", as_of=AS_OF) as log:
        first = tasks.scheduled_run_daily(as_of=AS_OF, symbols=SYMBOLS)
        task_id = _sync_task(tasks.SCHEDULED_RUN_DAILY, as_of=AS_OF.isoformat(), symbols=SYMBOLS)
        second = Task.objects.get(id=task_id)
        running = log.run_id

    assert first["status"] == "refused" and first["refused"] is True
    assert "already running" in first["message"]
    assert second.success, "a refused fire is a successful no-op, not a failure to retry"
    assert second.result["refused"] is True
    assert list(IngestionRun.objects.values_list("run_id", flat=True)) == [
        IngestionRun.objects.get(pk=running).pk
    ]
    assert not JobLease.objects.exists()


def test_run_job_task_records_admin_trigger_and_task_id(warehouse_db):
    task_id = tasks.enqueue_job(
        "ingest_candles",
        as_of=AS_OF,
        symbols=["SPY"],
        provider="demo",
        triggered_by="admin",
        q_options={"sync": True},
    )
    run = IngestionRun.objects.get()
    assert (run.job_name, run.triggered_by, run.parent_run_id) == (
        "ingest_candles",
        "admin",
        task_id,
    )
    assert run.status == RunStatus.SUCCESS
    assert run.args["symbols"] == ["SPY"]
    result = Task.objects.get(id=task_id).result
    assert result["status"] == "success" and result["run_id"] == str(run.run_id)


def test_run_job_task_refuses_while_the_partition_runs(warehouse_db):
    with job_run(
        job_name="ingest_candles", triggered_by="cli", as_of=AS_OF, symbols=["SPY"]
    ) as log:
        result = tasks.run_job_task("ingest_candles", as_of=AS_OF.isoformat(), symbols=["SPY"])
    assert result["refused"] is True and result["status"] == "refused"
    assert list(IngestionRun.objects.values_list("run_id", flat=True)) == [log.run.pk]


def test_enqueue_job_rejects_unknown_job_and_trigger():
    with pytest.raises(registry.UnknownName):
        tasks.enqueue_job("no_such_job")
    with pytest.raises(ValueError, match="triggered_by"):
        tasks.enqueue_job("ingest_candles", triggered_by="cli")


def test_housekeeping_abandons_stale_runs_and_prunes(settings):
    now = timezone.now()
    stale = IngestionRun.objects.create(
        job_name="ingest_candles",
        triggered_by="schedule",
        started_at=now - dt.timedelta(hours=5),
        heartbeat_at=now - dt.timedelta(hours=5),
        as_of=AS_OF,
        hostname="elsewhere",
    )
    old = IngestionRun.objects.create(
        job_name="ingest_candles",
        triggered_by="cli",
        status=RunStatus.SUCCESS,
        started_at=now - dt.timedelta(days=settings.RETENTION_RUNS_DAYS + 1),
        heartbeat_at=now - dt.timedelta(days=settings.RETENTION_RUNS_DAYS + 1),
        as_of=AS_OF,
    )
    task_id = _sync_task(tasks.HOUSEKEEPING_TASK)

    result = Task.objects.get(id=task_id).result
    assert result["abandoned"] == [str(stale.run_id)]
    stale.refresh_from_db()
    assert stale.status == RunStatus.ABANDONED
    assert not IngestionRun.objects.filter(pk=old.pk).exists()


# --- schedules ---------------------------------------------------------------------------------


def test_setup_schedules_is_idempotent_and_reports(capsys, monkeypatch):
    # One fixed "now" for both calls: a fire time passing between them would move next_run.
    now_local = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo("America/New_York"))
    monkeypatch.setattr("django_q.models.localtime", lambda value=None: now_local)
    call_command("setup_schedules")
    first = capsys.readouterr().out
    call_command("setup_schedules")
    second = capsys.readouterr().out

    assert first.count("created") == 2
    assert second.count("unchanged") == 2
    assert Schedule.objects.count() == 2
    daily = Schedule.objects.get(name=schedules.DAILY_SCHEDULE)
    assert (daily.func, daily.schedule_type, daily.cron) == (
        tasks.SCHEDULED_RUN_DAILY,
        Schedule.CRON,
        "30 18 * * 1-5",
    )
    assert daily.repeats == -1 and daily.cluster is None
    assert timezone.localtime(daily.next_run, NY).time() == dt.time(18, 30)
    assert (
        Schedule.objects.get(name=schedules.HOUSEKEEPING_SCHEDULE).func == tasks.HOUSEKEEPING_TASK
    )


def test_setup_schedules_updates_by_name(settings, capsys):
    call_command("setup_schedules")
    Schedule.objects.create(name=schedules.DAILY_SCHEDULE, func="x.y", schedule_type="D")
    settings.DAILY_AT = "17:05"
    call_command("setup_schedules")
    out = capsys.readouterr().out

    assert "updated   options-helper: run_daily" in out
    daily = Schedule.objects.get(name=schedules.DAILY_SCHEDULE)  # the duplicate is gone
    assert (daily.cron, daily.func) == ("5 17 * * 1-5", tasks.SCHEDULED_RUN_DAILY)
    assert timezone.localtime(daily.next_run, NY).time() == dt.time(17, 5)


def test_setup_schedules_rejects_a_bad_time():
    with pytest.raises(Exception, match="HH:MM"):
        call_command("setup_schedules", "--daily-at", "25:00")
    assert not Schedule.objects.exists()


@pytest.mark.parametrize(
    ("now_local", "expected_utc"),
    [
        # winter (EST, UTC-5): 18:30 New York is 23:30 UTC
        (
            dt.datetime(2026, 12, 1, 12, 0, tzinfo=NY),
            dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC),
        ),
        # summer (EDT, UTC-4): 22:30 UTC
        (dt.datetime(2026, 7, 1, 12, 0, tzinfo=NY), dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC)),
        # Friday after the run → Monday
        (
            dt.datetime(2026, 11, 20, 19, 0, tzinfo=NY),
            dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC),
        ),
    ],
)
def test_daily_cron_fires_at_market_time_whatever_time_zone_is(
    monkeypatch, settings, now_local, expected_utc
):
    """django-q2 evaluates cron in Q_CLUSTER["time_zone"]; TIME_ZONE stays UTC."""
    assert settings.TIME_ZONE == "UTC"
    assert Conf.TIME_ZONE == settings.SCHEDULE_TIME_ZONE == "America/New_York"
    monkeypatch.setattr("django_q.models.localtime", lambda value=None: now_local)
    spec = schedules.desired_schedules()[0]
    assert spec.cron == "30 18 * * 1-5"
    assert (
        Schedule(schedule_type=Schedule.CRON, cron=spec.cron).calculate_next_run() == expected_utc
    )


def test_q_cluster_never_hands_a_running_task_to_a_second_worker(settings):
    q = settings.Q_CLUSTER
    assert q["retry"] > q["timeout"] >= registry.job_timeout_s(registry.PIPELINE_JOB)
    assert q["max_attempts"] == 1 and q["ack_failures"] is True
    assert q["catch_up"] is False
    assert ("redis" in q) == bool(settings.REDIS_URL) and ("orm" in q) != bool(settings.REDIS_URL)


# --- admin -------------------------------------------------------------------------------------


@pytest.fixture
def enqueued(monkeypatch):
    """Capture async_task calls instead of queueing them."""
    calls: list[tuple[tuple, dict]] = []

    def fake_async_task(func, *args, **kwargs):
        calls.append(((func, *args), kwargs))
        return f"task{len(calls)}"

    monkeypatch.setattr("django_q.tasks.async_task", fake_async_task)
    return calls


def _run(status: str, **fields) -> IngestionRun:
    now = timezone.now()
    values = {
        "job_name": "snapshot_options",
        "triggered_by": "schedule",
        "status": status,
        "started_at": now,
        "heartbeat_at": now,
        "provider": "demo",
        "as_of": AS_OF,
        "args": {
            "job": "snapshot_options",
            "as_of": AS_OF.isoformat(),
            "symbols": ["SPY", "QQQ"],
            "provider": "demo",
        },
    }
    values.update(fields)
    return IngestionRun.objects.create(**values)


def test_rerun_failed_runs_action_enqueues_the_same_job_as_admin(admin_client, enqueued):
    failed = _run(RunStatus.FAILED)
    ok = _run(RunStatus.SUCCESS)
    response = admin_client.post(
        reverse("admin:ledger_ingestionrun_changelist"),
        {"action": "rerun_failed_runs", "_selected_action": [failed.pk, ok.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert len(enqueued) == 1
    (func, job_name), kwargs = enqueued[0]
    assert (func, job_name) == (tasks.RUN_JOB_TASK, "snapshot_options")
    assert kwargs["triggered_by"] == "admin"
    assert (kwargs["as_of"], kwargs["symbols"], kwargs["provider"]) == (
        "2026-11-20",
        ["SPY", "QQQ"],
        "demo",
    )
    text = response.content.decode()
    assert "Enqueued 1" in text and "Skipped 1" in text


def test_gap_plan_view_lists_and_enqueues_steps(admin_client, enqueued, monkeypatch):
    steps = [
        PlanStep(1, "candles_daily", "SPY", "ingest_candles", "watermark missing", "python ..."),
        PlanStep(2, "options_flow", "ALL", "compute_flow", "upstream for: x", "python ..."),
    ]
    monkeypatch.setattr("apps.pipeline.planner.plan_gaps", lambda **kw: steps)
    url = reverse("admin:ledger_ingestionrun_gap_plan")

    page = admin_client.get(url)
    assert page.status_code == 200
    assert page.content.decode().count('value="Enqueue"') == 2
    assert "csrfmiddlewaretoken" in page.content.decode()

    admin_client.post(
        url, {"job_name": "compute_flow", "asset_key": "options_flow", "scope_key": "ALL"}
    )
    admin_client.post(
        url, {"job_name": "ingest_candles", "asset_key": "candles_daily", "scope_key": "SPY"}
    )
    admin_client.post(url, {"job_name": "build_briefing", "asset_key": "x", "scope_key": "ALL"})
    assert [(c[0][1], c[1]["symbols"], c[1]["triggered_by"]) for c in enqueued] == [
        ("compute_flow", [], "admin"),
        ("ingest_candles", ["SPY"], "admin"),
    ]


def test_gap_plan_view_is_staff_only_and_csrf_protected(client, admin_user, django_user_model):
    url = reverse("admin:ledger_ingestionrun_gap_plan")
    assert client.get(url).status_code == 302  # anonymous → login
    django_user_model.objects.create_user("viewer", password="pw-123456789")
    client.login(username="viewer", password="pw-123456789")
    assert client.get(url).status_code == 302  # not staff → login

    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    response = strict.post(url, {"job_name": "ingest_candles"})
    assert response.status_code == 403


def test_links_between_runs_and_django_q_tasks(admin_client, warehouse_db):
    task_id = tasks.enqueue_job(
        "ingest_candles", as_of=AS_OF, symbols=["SPY"], q_options={"sync": True}
    )
    run = IngestionRun.objects.get()
    runs_link = f"/admin/ledger/ingestionrun/?parent_run_id={task_id}"

    change = admin_client.get(reverse("admin:ledger_ingestionrun_change", args=(run.pk,)))
    assert reverse("admin:django_q_success_change", args=(task_id,)) in change.content.decode()

    success = admin_client.get(reverse("admin:django_q_success_changelist"))
    assert runs_link in success.content.decode()
    filtered = admin_client.get(runs_link)
    assert filtered.status_code == 200
    assert str(run.run_id) in filtered.content.decode()

    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert admin_client.get(reverse("admin:django_q_schedule_changelist")).status_code == 200
    runs_page = admin_client.get(reverse("admin:ledger_ingestionrun_changelist"))
    assert reverse("admin:ledger_ingestionrun_gap_plan") in runs_page.content.decode()
