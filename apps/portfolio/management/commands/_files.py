"""Reading a JSON file given on the command line, with one-line errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

MAX_FILE_BYTES = 10_000_000


def _no_constants(token: str) -> Any:
    raise ValueError(f"{token} is not allowed (numbers must be finite)")


def read_json(path: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file", returncode=2)
    if file.stat().st_size > MAX_FILE_BYTES:
        raise CommandError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes", returncode=2)
    try:
        return json.loads(file.read_text(encoding="utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise CommandError(f"{path}: not valid JSON ({exc})", returncode=2) from None
    except RecursionError:
        raise CommandError(f"{path}: not valid JSON (nested too deeply)", returncode=2) from None
