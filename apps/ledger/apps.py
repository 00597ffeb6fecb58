from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LedgerConfig(AppConfig):
    name = "apps.ledger"
    label = "ledger"

    def ready(self) -> None:
        from apps.ledger.services.roles import roles_after_migrate

        post_migrate.connect(roles_after_migrate, dispatch_uid="ledger-roles")
