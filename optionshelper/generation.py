"""The data generation: one counter that moves whenever anything a page shows may have changed.

Page view models are cached in Django's ``pages`` cache under keys that contain the generation they
were built at (:func:`cached`), so a page whose inputs did not change is served from the cache and a
page whose inputs did change is rebuilt on the next request. Nothing expires by time: an entry can only
be *unreachable* (its generation is past), never stale. Who bumps:

* every warehouse writer: :func:`optionshelper.warehouse.write` calls :func:`bump` when its block ends
  (after DuckDB committed and closed, before the writer lock is released), success or failure, since a
  failed block may still have committed some statements;
* every write to the metadata DB that pages show (runs, asset events, checks, watermarks, flow,
  portfolio, dashboard...): :func:`watch_metadata_writes` puts an execute wrapper on each metadata
  connection. It sees ORM saves and deletes *and* ``bulk_create``/``update``/raw ``executemany`` (which
  fire no model signals) and bumps once when the transaction's first write runs and once more after it
  commits (``on_commit``), so no reader can cache pre-commit data under the post-commit generation.
  Sessions, the cache table, django-q2's queue, users and logins, the login throttle and the admin
  log are ignored (no cached page shows them).

Where the counter lives (it must be shared by every process: web workers, task workers, commands):

* a **shared cache** (``REDIS_URL`` set, ``pages`` is Redis): the key ``optionshelper:generation`` in
  that same Redis, moved with the atomic ``INCR`` — correct across processes *and* hosts (DuckLake);
* otherwise a **small file** ``<DATA_DIR>/generation`` next to the warehouse, read under a shared and
  incremented under an exclusive ``flock``: correct across every process of the host, which is the
  embedded deployment (the DuckDB file itself is host-local). A multi-host install sets ``REDIS_URL``.

A counter that disappears (file deleted, Redis restarted) starts again at the current time in
microseconds, above any value used before, so an old cache entry can never be mistaken for a new one.

Keys also carry the code's fingerprint (:func:`code_version`): the cache outlives a restart (files,
Redis), so after an upgrade a page is rendered by the new code, never served as the old code built it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.metadata
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

T = TypeVar("T")
CACHE_ALIAS = "pages"
COUNTER_KEY = "optionshelper:generation"
_SHARED_BACKENDS = ("RedisCache", "PyMemcacheCache", "PyLibMCCache")
# Tables whose writes never change a cached page (no portal page shows them, and several churn
# constantly): sessions, the cache table, the task queue, users and their logins, the login
# throttle, the admin log.
_IGNORED_TABLES = (
    "django_session",
    "optionshelper_cache",
    "django_q_",
    '"auth_',
    '"axes_',
    "django_admin_log",
)
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "ALTER", "DROP", "TRUNCATE")
_MISS = object()
_building: dict[str, threading.Lock] = {}
_building_lock = threading.Lock()


# What renders a page: the code, its templates, the static files pages name and the packages that
# render tables and templates.
_CODE_DIRS = ("apps", "optionshelper", "templates", "static")
_CODE_SUFFIXES = {".py", ".html", ".css", ".js", ".svg"}
_RENDERING_PACKAGES = ("django", "django-tables2")
_LOADED_AT_NS = time.time_ns()  # imported while the apps load: the code in memory is no newer


@functools.cache
def code_version() -> str:
    """A fingerprint of the code in use: the rendering packages' versions and the path, size and
    mtime of each file under ``_CODE_DIRS``; the same in every process of one install, computed once
    per process (a few milliseconds). A file newer than this process's loading means the code in
    memory may be older than the files (a deploy under way): the process then keeps its pages to
    itself instead of sharing them under the new code's key."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(";".join(importlib.metadata.version(p) for p in _RENDERING_PACKAGES).encode())
    base = Path(settings.BASE_DIR)
    newest = 0
    for directory in _CODE_DIRS:
        for path in sorted((base / directory).rglob("*")):
            if path.suffix in _CODE_SUFFIXES and path.is_file():
                stat = path.stat()
                newest = max(newest, stat.st_mtime_ns)
                digest.update(f"{path.relative_to(base)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    if newest > _LOADED_AT_NS:
        return f"process-{os.getpid()}-{_LOADED_AT_NS}"
    return digest.hexdigest()


def _fresh_start() -> int:
    return time.time_ns() // 1000


def _shared() -> bool:
    backend = settings.CACHES.get(CACHE_ALIAS, {}).get("BACKEND", "")
    return backend.rsplit(".", 1)[-1] in _SHARED_BACKENDS


def _path() -> Path:
    return Path(settings.DATA_DIR) / "generation"


def _file_bump() -> int:
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = os.pread(fd, 32, 0).strip()
        value = int(raw) + 1 if raw else _fresh_start()
        # Fixed width: a concurrent reader (under LOCK_SH) never sees a half-written number.
        os.pwrite(fd, f"{value:020d}\n".encode(), 0)
        return value
    finally:
        os.close(fd)


def _file_current() -> int:
    try:
        fd = os.open(_path(), os.O_RDONLY)
    except FileNotFoundError:
        return _file_bump()
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        raw = os.pread(fd, 32, 0).strip()
    finally:
        os.close(fd)
    return int(raw) if raw else _file_bump()


def bump() -> int:
    """Move the generation on (after a commit); returns the new value."""
    if not _shared():
        return _file_bump()
    cache = caches[CACHE_ALIAS]
    try:
        return cache.incr(COUNTER_KEY)
    except ValueError:  # the counter is gone: restart above every value used before
        cache.add(COUNTER_KEY, _fresh_start(), timeout=None)
        return cache.incr(COUNTER_KEY)


def current() -> int:
    """The generation now (one small file read, or one Redis GET)."""
    if not _shared():
        return _file_current()
    value = caches[CACHE_ALIAS].get(COUNTER_KEY)
    return int(value) if value is not None else bump()


def cached(name: str, parts: tuple[Any, ...], build: Callable[[], T]) -> tuple[T, int]:
    """``build()``'s value for this generation, from the cache or built now; and the generation.

    The generation is read *before* building, so the value holds at least every write counted in it
    (writers bump after committing). ``parts`` are the view model's parameters (their ``repr`` is
    hashed into the key). Entries have no expiry that could serve old data: the generation is in the
    key; ``PAGE_CACHE_TIMEOUT`` only lets unreachable entries of past generations be evicted.
    Single flight: requests missing the same key wait for one build instead of building it each
    (threads of a process on a lock; processes sharing the file cache on a lock file).
    """
    generation = current()
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()
    key = f"vm:{code_version()}:{name}:{generation}:{digest}"
    cache = caches[CACHE_ALIAS]
    value = cache.get(key, _MISS)
    if value is not _MISS:
        return value, generation
    with _building_lock:
        lock = _building.setdefault(key, threading.Lock())
    try:
        with lock, _process_lock(key):
            value = cache.get(key, _MISS)
            if value is _MISS:
                value = build()
                cache.set(key, value, timeout=getattr(settings, "PAGE_CACHE_TIMEOUT", None))
    finally:
        with _building_lock:
            _building.pop(key, None)
    return value, generation


@contextlib.contextmanager
def _process_lock(key: str) -> Iterator[None]:
    """With the file cache, an exclusive ``flock`` on ``locks/<key digest>`` beside the entries;
    the file is removed once the value is stored (a latecomer finds the value, not the lock)."""
    backend = settings.CACHES.get(CACHE_ALIAS, {})
    if not backend.get("BACKEND", "").endswith("FileBasedCache"):
        yield
        return
    locks = Path(backend["LOCATION"]) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / (hashlib.blake2b(key.encode(), digest_size=12).hexdigest() + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    finally:
        os.close(fd)


# --- metadata-DB writes ---------------------------------------------------------------------------


def _after_commit() -> None:
    bump()


def _is_page_write(sql: Any) -> bool:
    text = sql.decode() if isinstance(sql, bytes) else str(sql)
    head = text.lstrip()[:8].upper()
    if not head.startswith(_WRITE_VERBS):
        return False
    return not any(table in text[:200] for table in _IGNORED_TABLES)


def _on_execute(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if _is_page_write(sql):
        connection = context["connection"]
        if not connection.in_atomic_block:
            bump()
        elif not any(item[1] is _after_commit for item in connection.run_on_commit):
            bump()  # first write of the transaction (keeps TestCase-wrapped tests honest)
            transaction.on_commit(_after_commit, using=connection.alias)
    return result


def _install(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "duckdb" and _on_execute not in connection.execute_wrappers:
        connection.execute_wrappers.append(_on_execute)


def watch_metadata_writes() -> None:
    """Bump the generation on every metadata-DB write (called once from the portal's ready())."""
    from django.db import connections
    from django.db.backends.signals import connection_created

    connection_created.connect(_install, dispatch_uid="optionshelper.generation")
    for connection in connections.all(initialized_only=True):
        _install(None, connection)
