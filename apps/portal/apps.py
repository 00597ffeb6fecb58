from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "apps.portal"
    label = "portal"

    def ready(self) -> None:
        from optionshelper import generation

        # Every process loads this app (web, task workers, commands), so every metadata write bumps.
        generation.watch_metadata_writes()
