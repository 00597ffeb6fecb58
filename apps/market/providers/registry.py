"""Provider lookup by name, with lazy imports so optional extras are only needed when used."""

from __future__ import annotations

import importlib
from typing import Any

from .base import MarketDataProvider, UnknownProviderError

PROVIDER_NAMES: tuple[str, ...] = ("demo", "yahoo", "alpaca", "files")

_CLASSES: dict[str, tuple[str, str]] = {
    "demo": ("apps.market.providers.demo", "DemoProvider"),
    "yahoo": ("apps.market.providers.yahoo", "YahooProvider"),
    "alpaca": ("apps.market.providers.alpaca", "AlpacaProvider"),
    "files": ("apps.market.providers.files", "FilesProvider"),
}


def _default_name() -> str:
    """OPTIONS_HELPER_PROVIDER via settings when Django is configured, else 'demo'."""
    try:
        from django.conf import settings

        return str(getattr(settings, "DEFAULT_PROVIDER", "demo") or "demo")
    except Exception:  # settings not configured (plain scripts, benches)
        return "demo"


def get_provider(name: str | None = None, **options: Any) -> MarketDataProvider:
    """Build the named provider; ``None`` means the configured default.

    Unknown names raise UnknownProviderError listing the valid names (the CLI turns that into
    a one-line message with exit code 2).
    """
    raw = name or _default_name()
    key = raw.strip().lower()
    if key not in _CLASSES:
        valid = ", ".join(PROVIDER_NAMES)
        source = "" if name else " (from OPTIONS_HELPER_PROVIDER)"
        raise UnknownProviderError(raw, f"unknown provider{source}; valid names: {valid}")
    module_name, class_name = _CLASSES[key]
    cls = getattr(importlib.import_module(module_name), class_name)
    if key == "files" and "directory" not in options:
        options["directory"] = _default_files_dir()
    return cls(**options)


def _default_files_dir() -> str:
    """settings.FILES_PROVIDER_DIR, else $DATA_DIR/vendor, when no directory is given."""
    import os

    try:
        from django.conf import settings

        explicit = str(getattr(settings, "FILES_PROVIDER_DIR", "") or "")
        base = str(getattr(settings, "DATA_DIR", "") or "")
    except Exception:  # settings not configured
        explicit, base = "", ""
    explicit = explicit or os.environ.get("OPTIONS_HELPER_FILES_DIR", "")
    base = base or os.environ.get("OPTIONS_HELPER_DATA_DIR", "./data")
    return explicit or os.path.join(base, "vendor")
