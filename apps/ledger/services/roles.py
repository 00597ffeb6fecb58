"""The two roles of the product as Django groups (SPEC §11): who may look, who may run jobs.

* ``viewers``: view permission on every model of the product's apps (runs, asset events, checks,
  watermarks, flow, dashboards, portfolio, watchlists), so the admin pages the README names open.
* ``operators``: ``ledger.run_jobs`` (the gap planner's Enqueue and "Re-run selected failed runs")
  plus view permission on the ledger (the runs those actions start from and link to), django-q2's
  tasks and schedules, and the login throttle's attempts and lock-outs (django-axes).

``roles_ensure`` only adds what is missing, so it is safe to repeat and keeps permissions an admin
granted by hand. It runs after every ``migrate`` (so ``db_init`` and test databases have the groups)
and from ``demo_setup``. Permissions are found by app label and codename; nothing here imports the
apps above the ledger.
"""

from __future__ import annotations

from django.apps import AppConfig, apps
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

VIEWERS = "viewers"
OPERATORS = "operators"
RUN_JOBS = "ledger.run_jobs"
VIEWER_APPS = ("ledger", "market", "analytics", "portfolio")
OPERATOR_VIEW_APPS = ("ledger", "django_q", "axes")


def _view_permissions(app_labels: tuple[str, ...]) -> Q:
    return Q(content_type__app_label__in=app_labels, codename__startswith="view_")


def roles_ensure(*, using: str = "default") -> dict[str, int]:
    """Create the viewers and operators groups and add their permissions; returns counts."""
    app_label, codename = RUN_JOBS.split(".")
    wanted = {
        VIEWERS: _view_permissions(VIEWER_APPS),
        OPERATORS: Q(content_type__app_label=app_label, codename=codename)
        | _view_permissions(OPERATOR_VIEW_APPS),
    }
    counts = {}
    for name, query in wanted.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        permissions = list(Permission.objects.using(using).filter(query))
        group.permissions.add(*permissions)
        counts[name] = len(permissions)
    return counts


def _last_app_with_models() -> str:
    return [c.label for c in apps.get_app_configs() if c.models_module is not None][-1]


def roles_after_migrate(sender: AppConfig, using: str = "default", **kwargs) -> None:
    """post_migrate receiver: once per migrate, after every app's permissions exist."""
    if sender.label == _last_app_with_models():
        roles_ensure(using=using)
