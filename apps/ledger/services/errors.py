"""Turning exceptions into the ledger's error fields, and args into safe canonical JSON."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import traceback
from pathlib import Path
from typing import Any

from django.conf import settings

_SECRET_KEY_PATTERN = re.compile(
    r"(secret|password|passwd|token|api[_-]?key|key[_-]?id|credential|auth)", re.IGNORECASE
)
_SECRET_ENV_VARS = (
    "APCA_API_KEY_ID",
    "APCA_API_SECRET_KEY",
    "DJANGO_SECRET_KEY",
    "OPTIONS_HELPER_HEALTH_TOKEN",
)
REDACTED = "***"


def _frame_location(filename: str) -> str:
    """A path that is the same on every machine: relative to the project, else the last two parts."""
    path = Path(filename)
    try:
        return path.resolve().relative_to(settings.BASE_DIR).as_posix()
    except ValueError:
        return "/".join(path.parts[-2:])


def stack_hash(exc: BaseException) -> str:
    """sha256 of the exception type and the traceback's (file, function) frames.

    Line numbers and the message are left out on purpose, so the same bug hashes the same after an
    unrelated edit moves lines, and with different ids in the message.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    parts = [f"{type(exc).__module__}.{type(exc).__qualname__}"]
    parts += [f"{_frame_location(frame.filename)}:{frame.name}" for frame in frames]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def error_fields(exc: BaseException) -> dict[str, str]:
    return {
        "error_type": type(exc).__qualname__,
        "error_message": redact_text(str(exc))[:4000],
        "error_stack_hash": stack_hash(exc),
    }


def _secret_values() -> list[str]:
    return [v for v in (os.environ.get(name, "") for name in _SECRET_ENV_VARS) if len(v) >= 4]


def redact_text(text: str) -> str:
    """Replace any known secret value that slipped into a message."""
    for value in _secret_values():
        text = text.replace(value, REDACTED)
    return text


class RedactingFormatter(logging.Formatter):
    """A log formatter that masks the same secret values as the ledger, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def redact(value: Any, *, key: str = "") -> Any:
    """A JSON-safe copy of ``value`` with secret-looking keys and known secret values masked."""
    if key and _SECRET_KEY_PATTERN.search(key):
        return REDACTED
    if isinstance(value, dict):
        return {str(k): redact(v, key=str(k)) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [redact(item) for item in items]
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def canonical_args(args: dict[str, Any]) -> dict[str, Any]:
    """Args as canonical JSON (sorted keys, JSON types only) with secrets redacted."""
    return json.loads(json.dumps(redact(args), sort_keys=True))
