"""Shared fixtures for provider tests: the real-data dir (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import REALDATA_DIR

REALDATA = REALDATA_DIR


@pytest.fixture
def realdata() -> Path:
    """The shared real vendor files; skipped (with a reason) where they are not checked out."""
    if not REALDATA.is_dir():
        pytest.skip(f"real option data not found at {REALDATA}")
    return REALDATA
