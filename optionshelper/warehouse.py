"""Short-lived, lock-coordinated access to the DuckDB warehouse (SPEC §1.4).

DuckDB lets one read-write process *or* many read-only processes open a file, never both. Every access
here is therefore one short operation on a freshly opened connection, coordinated across processes by a
readers–writer lock on a side file (``options.duckdb.lock``):

* readers take the lock shared, so any number of pages and selectors read at once;
* a writer takes it exclusive, so exactly one process writes and no reader is inside DuckDB meanwhile;
* a second "turnstile" lock gives waiting writers priority, so a stream of readers cannot starve a job.

Because the lock is taken *before* DuckDB opens the file, nobody sees DuckDB's own
``Could not set lock on file``. A reader that cannot get in within its bound raises
:class:`WarehouseBusy` (pages turn it into HTTP 503 with ``Retry-After``); a missing warehouse raises
:class:`WarehouseMissing` and nothing is created.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
from django.conf import settings

from optionshelper import generation

_local = threading.local()
_POLL_START_S = 0.005
_POLL_MAX_S = 0.05


class WarehouseError(Exception):
    """Base class for warehouse access problems shown to users as one clear line."""


class WarehouseBusy(WarehouseError):
    """The warehouse stayed locked by a writer for longer than the caller may wait."""

    def __init__(self, waited_s: float, retry_after_s: int = 5) -> None:
        self.waited_s = waited_s
        self.retry_after_s = retry_after_s
        super().__init__(
            f"warehouse busy: a job is writing; waited {waited_s:.1f}s, retry in {retry_after_s}s"
        )


class WarehouseMissing(WarehouseError):
    """The DuckDB file does not exist yet."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"warehouse not found at {path}: run `python manage.py db_init`")


def warehouse_path() -> Path:
    """The DuckDB file in use (the test runner points the ``warehouse`` alias at a test file)."""
    from django.db import connections

    return Path(connections["warehouse"].settings_dict["NAME"])


def _lock_paths(db_path: Path) -> tuple[Path, Path]:
    return db_path.with_name(db_path.name + ".lock"), db_path.with_name(db_path.name + ".turnstile")


def _acquire(fd: int, mode: int, timeout_s: float) -> float:
    """Poll ``flock`` with back-off until it succeeds; return seconds waited or raise TimeoutError."""
    started = time.monotonic()
    delay = _POLL_START_S
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return time.monotonic() - started
        except BlockingIOError:
            waited = time.monotonic() - started
            if waited >= timeout_s:
                raise TimeoutError(waited) from None
            time.sleep(min(delay, max(timeout_s - waited, 0.001)))
            delay = min(delay * 2, _POLL_MAX_S)


@contextlib.contextmanager
def _file_lock(path: Path, mode: int, timeout_s: float) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, mode, timeout_s)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _active() -> duckdb.DuckDBPyConnection | None:
    return getattr(_local, "connection", None)


@contextlib.contextmanager
def _bind(connection: duckdb.DuckDBPyConnection, *, writable: bool) -> Iterator[None]:
    previous = (_active(), getattr(_local, "writable", False))
    _local.connection, _local.writable = connection, writable
    try:
        yield
    finally:
        _local.connection, _local.writable = previous


def _enter_locks(stack: contextlib.ExitStack, path: Path, *, exclusive: bool, bound: float) -> None:
    """Take the turnstile and the readers–writer lock, or raise WarehouseBusy after ``bound``."""
    lock_path, turnstile_path = _lock_paths(path)
    started = time.monotonic()
    try:
        # The turnstile: a waiting writer holds it exclusively, so new readers queue behind it and
        # cannot starve it; once the writer has the main lock it lets the turnstile go, so queued
        # readers get their turn before the next writer (no starvation either way).
        turnstile = _file_lock(turnstile_path, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH, bound)
        with turnstile:
            remaining = max(bound - (time.monotonic() - started), 0.0)
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            stack.enter_context(_file_lock(lock_path, mode, remaining))
    except TimeoutError:
        raise WarehouseBusy(time.monotonic() - started) from None


@contextlib.contextmanager
def read(*, timeout_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection for one short query; closed on exit.

    Inside :func:`write` on the same thread the writer's connection is reused, so a store may read
    what it is about to replace without deadlocking on its own lock.
    """
    active = _active()
    if active is not None:
        yield active
        return
    path = warehouse_path()
    if not path.exists():
        raise WarehouseMissing(path)
    bound = settings.WAREHOUSE_READ_TIMEOUT_S if timeout_s is None else timeout_s
    with contextlib.ExitStack() as stack:
        _enter_locks(stack, path, exclusive=False, bound=bound)
        connection = duckdb.connect(str(path), read_only=True)
        stack.callback(connection.close)
        stack.enter_context(_bind(connection, writable=False))
        yield connection


@contextlib.contextmanager
def write(
    *, timeout_s: float | None = None, create: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The single read-write connection, held only for one short write; closed on exit.

    The caller computes in memory first and comes here only to write (ideally in one transaction).
    ``create`` allows making a new warehouse file (used by the migration runner only).
    """
    active = _active()
    if active is not None and getattr(_local, "writable", False):
        yield active
        return
    if active is not None:
        raise WarehouseError("cannot open a warehouse writer inside a read-only block")
    path = warehouse_path()
    if not path.exists() and not create:
        raise WarehouseMissing(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bound = settings.WAREHOUSE_WRITE_TIMEOUT_S if timeout_s is None else timeout_s
    with contextlib.ExitStack() as stack:
        _enter_locks(stack, path, exclusive=True, bound=bound)
        stack.callback(generation.bump)  # runs after the connection closed (committed), locked
        connection = duckdb.connect(str(path))
        stack.callback(connection.close)
        stack.enter_context(_bind(connection, writable=True))
        yield connection


@contextlib.contextmanager
def transaction(*, timeout_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writer connection inside one DuckDB transaction: all of the block lands, or none of it."""
    with write(timeout_s=timeout_s) as connection:
        if getattr(_local, "in_transaction", False):
            yield connection
            return
        connection.execute("BEGIN TRANSACTION")
        _local.in_transaction = True
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        else:
            connection.execute("COMMIT")
        finally:
            _local.in_transaction = False


def fetch_df(sql: str, params: list | tuple | None = None):
    """Run one read query and return a pandas DataFrame (connection closed before returning)."""
    with read() as connection:
        return connection.execute(sql, params or []).df()


def fetch_all(sql: str, params: list | tuple | None = None) -> list[tuple]:
    """Run one read query and return its rows as tuples."""
    with read() as connection:
        return connection.execute(sql, params or []).fetchall()
