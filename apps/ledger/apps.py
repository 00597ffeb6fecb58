from pathlib import Path

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LedgerConfig(AppConfig):
    name = "apps.ledger"
    label = "ledger"

    def ready(self) -> None:
        from django.conf import settings

        from apps.core import calendar

        # Processes share the built NYSE calendar through a small file under the data dir.
        calendar.CACHE_DIR = Path(settings.DATA_DIR) / "cache"

        from apps.ledger.services.roles import roles_after_migrate

        post_migrate.connect(roles_after_migrate, dispatch_uid="ledger-roles")
