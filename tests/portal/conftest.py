"""Portal fixtures: a logged-in client and a small seeded dataset (see seed.py).

The warehouse half of the dataset is seeded once per session into a template file; each test gets
a copy of that file (milliseconds) and its own metadata rows (rolled back with the test).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connections

from apps.core import calendar
from optionshelper import generation, warehouse_schema
from tests.portal import seed

PORTAL_SYMBOLS = ("AAA", "BBB")
PORTAL_SESSIONS = 70


def _clear_page_cache() -> None:
    """Empty this test process's page cache; on Redis only its own keys, since ``clear()`` would
    flush the whole database, which other test processes (``pytest -n`` workers) share."""
    cache = caches[generation.CACHE_ALIAS]
    if not isinstance(cache, RedisCache):
        cache.clear()
        return
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{cache.key_prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def empty_page_cache():
    """The page cache starts and ends empty (its entries outlive a test's data directory)."""
    _clear_page_cache()
    yield
    _clear_page_cache()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("viewer", password="pw-viewer-123")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def portal_warehouse_template(tmp_path_factory) -> tuple[Path, list, dict[str, float]]:
    """The seeded warehouse of ``portal_data``, built once: (file, sessions, spots)."""
    path = tmp_path_factory.mktemp("portal-warehouse") / "options.duckdb"
    settings_dict = connections["warehouse"].settings_dict
    previous = settings_dict["NAME"]
    settings_dict["NAME"] = str(path)
    try:
        warehouse_schema.migrate()
        days = seed.sessions_until(calendar.last_completed_session(), PORTAL_SESSIONS)
        spots = seed.seed_warehouse(list(PORTAL_SYMBOLS), days)
    finally:
        settings_dict["NAME"] = previous
    return path, days, spots


@pytest.fixture
def portal_data(warehouse_db, db, portal_warehouse_template):
    """Two symbols × 70 sessions of candles/derived, two chain snapshots, flow, runs, portfolio.

    The same data as ``seed.seed_all()``: the warehouse is a copy of the session's template.
    """
    template, days, spots = portal_warehouse_template
    for suffix in ("", ".wal"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, warehouse_db.with_name(warehouse_db.name + suffix))
    symbols = list(PORTAL_SYMBOLS)
    seed.seed_flow(symbols, days)
    seed.seed_ledger(symbols, days)
    seed.seed_portfolio(symbols[0], days[-1], spots[symbols[0]])
    seed.seed_dashboard(symbols, days[-1], spots)
    return {"symbols": PORTAL_SYMBOLS, "days": days, "spots": spots, "run_id": str(uuid.uuid4())}
