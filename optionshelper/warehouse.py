"""Short-lived, lock-coordinated access to the DuckDB warehouse (SPEC §1.4).

DuckDB lets one read-write process *or* many read-only processes open a file, never both. Every access
here is therefore one short operation with the file freshly attached (:class:`_FileAttachment`: as if
opened and closed, without the cost of a new DuckDB instance each time), coordinated across processes
by a readers–writer lock on a side file (``options.duckdb.lock``):

* readers take the lock shared, so any number of pages and selectors read at once;
* a writer takes it exclusive, so exactly one process writes and no reader is inside DuckDB meanwhile;
* a second "turnstile" lock gives waiting writers priority, so a stream of readers cannot starve a job.

Because the lock is taken *before* DuckDB opens the file, no options-helper process sees DuckDB's
own ``Could not set lock on file``. A process outside the product (a DuckDB CLI, a notebook) does
not take our lock: opening then retries with back-off up to the same bound and raises
:class:`WarehouseLockedOutside` (a :class:`WarehouseBusy`) naming the holder's PID; a file DuckDB
cannot open at all raises :class:`WarehouseUnreadable`. A reader that cannot get in within its bound raises
:class:`WarehouseBusy` (pages turn it into HTTP 503 with ``Retry-After``); a missing warehouse raises
:class:`WarehouseMissing` and nothing is created.

**Lake mode** (``OPTIONS_HELPER_WAREHOUSE_URL=ducklake:postgres:…``): the same ``read()``/``write()``
contexts hand out a connection to a DuckLake catalog (PostgreSQL) whose data are Parquet files under
``OPTIONS_HELPER_LAKE_DATA_PATH``. DuckLake gives snapshot isolation to many processes on many hosts,
so no file lock is taken. Two things the file lock used to give are provided explicitly instead:
``transaction(partitions=...)`` takes PostgreSQL advisory locks on the partitions it replaces (so a
partition replace stays exactly-once with concurrent writers) and :func:`attempts` retries a write
whose commit lost DuckLake's optimistic-concurrency check, with bounded back-off.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator
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


class WarehouseConflict(WarehouseError):
    """A lake write kept conflicting with concurrent writers after every retry."""

    def __init__(self, attempts: int, detail: str) -> None:
        self.attempts = attempts
        super().__init__(
            f"warehouse write conflict: still conflicting after {attempts} attempts ({detail}); "
            "run the job again"
        )


class WarehouseIncompatible(WarehouseError):
    """The warehouse file was written by a DuckDB storage version this DuckDB cannot read."""

    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        match = re.search(r"version number (\d+)", detail)
        found = f" (storage version {match.group(1)})" if match else ""
        super().__init__(
            f"warehouse {path} was written by a newer DuckDB{found} that DuckDB "
            f"{duckdb.__version__} cannot open; nothing was changed. Way out: move it aside and "
            "rebuild with `python manage.py run_daily --from … --to …`, or export it to Parquet "
            "with a DuckDB 2.x (EXPORT DATABASE … (FORMAT parquet)) and import it here "
            "(docs/operations.md)"
        )


class WarehouseMissing(WarehouseError):
    """The DuckDB file does not exist yet."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"warehouse not found at {path}: run `python manage.py db_init`")


LAKE_PREFIX = "ducklake:"
LAKE_ALIAS = "lake"
_LAKE_EXTENSIONS = ("duckdb_extension_ducklake", "duckdb_extension_postgres_scanner")
_CONFLICT_MARKERS = ("conflict", "concurrent")
_lake_lock = threading.Lock()
_lake_roots: dict[tuple, duckdb.DuckDBPyConnection] = {}
# DuckDB instances inherited from a parent process through fork: kept, never closed or freed here.
_inherited: list[duckdb.DuckDBPyConnection] = []


def lake_url() -> str:
    """The DuckLake URL in use, or "" in the embedded-file mode."""
    url = str(getattr(settings, "WAREHOUSE_URL", "") or "")
    return url if url.startswith(LAKE_PREFIX) else ""


def mode() -> str:
    """``"lake"`` (DuckLake) or ``"file"`` (the embedded DuckDB file)."""
    return "lake" if lake_url() else "file"


def lake_catalog_dsn() -> str:
    """The catalog's libpq connection string (``ducklake:postgres:`` removed)."""
    url = lake_url()[len(LAKE_PREFIX) :]
    if not url.startswith("postgres:"):
        raise WarehouseError(
            "OPTIONS_HELPER_WAREHOUSE_URL: only a PostgreSQL catalog is supported "
            "(ducklake:postgres:dbname=… host=… user=…)"
        )
    return url[len("postgres:") :]


def lake_catalog_display() -> str:
    """The catalog for humans: the connection string without any password."""
    return re.sub(r"password\s*=\s*('[^']*'|\S+)", "password=***", lake_url())


def lake_data_path() -> str:
    return str(settings.LAKE_DATA_PATH)


def describe() -> str:
    """One line naming where the warehouse lives (no secrets)."""
    if mode() == "lake":
        return f"DuckLake catalog {lake_catalog_display()}, data {lake_data_path()}"
    return str(warehouse_path())


def lake_extension_files() -> list[Path]:
    """The ``.duckdb_extension`` binaries shipped by the ``lake`` extra's packages."""
    return [_extension_file(package) for package in _LAKE_EXTENSIONS]


def _extension_file(package: str) -> Path:
    """The extension binary inside an installed ``duckdb-extension-*`` package, for this DuckDB."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WarehouseError(
            f"lake mode needs the package {package.replace('_', '-')}=={duckdb.__version__}: "
            "pip install 'options-helper[lake]'"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(root.glob(f"extensions/v{duckdb.__version__}/*.duckdb_extension"))
    if not found:
        raise WarehouseError(
            f"{package.replace('_', '-')} has no extension for DuckDB {duckdb.__version__}; "
            "install the matching version"
        )
    return found[0]


def _lake_root() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process with the lake attached (attaching costs ~0.4 s)."""
    key = (os.getpid(), lake_url(), lake_data_path())
    with _lake_lock:
        root = _lake_roots.get(key)
        if root is not None:
            return root
        for stale in [k for k in _lake_roots if k[0] != os.getpid()]:
            _inherited.append(_lake_roots.pop(stale))
        root = duckdb.connect(":memory:")
        try:
            for extension in lake_extension_files():
                root.execute(f"LOAD '{extension}'")
            data_path = lake_data_path()
            if "://" in data_path:  # object storage (s3://, gs://, …) needs DuckDB's httpfs
                root.execute(f"LOAD '{_extension_file('duckdb_extension_httpfs')}'")
            else:
                Path(data_path).mkdir(parents=True, exist_ok=True)
                data_path = data_path.rstrip("/") + "/"
            root.execute(
                f"ATTACH '{_sql_quote(lake_url())}' AS {LAKE_ALIAS} "
                f"(DATA_PATH '{_sql_quote(data_path)}')"
            )
        except duckdb.Error as exc:
            root.close()
            raise WarehouseError(
                f"cannot attach the DuckLake warehouse ({lake_catalog_display()}): "
                f"{str(exc).splitlines()[0]}"
            ) from None
        _lake_roots[key] = root
        return root


def _sql_quote(text: str) -> str:
    return text.replace("'", "''")


def _lake_connection() -> duckdb.DuckDBPyConnection:
    root = _lake_root()
    with _lake_lock:  # threads of one process (a threaded web server) share the root
        connection = root.cursor()
    connection.execute(f"USE {LAKE_ALIAS}")
    return connection


def reset_lake_connections() -> None:
    """Forget this process's attached lake (tests switching catalogs; after a fork)."""
    with _lake_lock:
        for root in _lake_roots.values():
            with contextlib.suppress(Exception):
                root.close()
        _lake_roots.clear()


def exists() -> bool:
    """Whether there is a warehouse to read (lake mode: the catalog is always there to attach)."""
    return True if mode() == "lake" else warehouse_path().exists()


class WarehouseUnreadable(WarehouseError):
    """The file exists but DuckDB cannot open it (corrupt, foreign or unreadable)."""

    def __init__(self, path: Path, cause: str) -> None:
        self.path = path
        super().__init__(f"warehouse {path} is unreadable: {cause}")


class WarehouseLockedOutside(WarehouseBusy):
    """DuckDB's own file lock is held by a process outside options-helper (a CLI, a notebook)."""

    def __init__(self, path: Path, pid: str | None, waited_s: float) -> None:
        self.waited_s, self.retry_after_s, self.pid = waited_s, 30, pid
        holder = f"process {pid}" if pid else "another process"
        WarehouseError.__init__(
            self,
            f"warehouse {path} is locked by {holder} outside options-helper (waited "
            f"{waited_s:.0f}s): close that DuckDB session, open the warehouse read-only only "
            "while no job runs, or use the portal's Data Explorer",
        )


_OUTSIDE_LOCK = "Could not set lock on file"
_LOCK_PID = re.compile(r"PID (\d+)")
_OUTSIDE_POLL_MAX_S = 1.0


class _FileAttachment:
    """This process's in-memory DuckDB with the warehouse file attached while anyone uses it.

    Creating a DuckDB instance costs ~15 ms; attaching a file to a live one ~5 ms. So each process
    keeps one empty in-memory instance and attaches the file (as the catalog ``duckdb.connect``
    would name it) on the first read or write, hands every user a cursor of its own, and detaches
    when the last one closes: DuckDB's file lock and the checkpoint of a write go exactly as if
    the connection had been opened and closed. Concurrent readers of one process share the
    attachment; a writer never meets them here (its exclusive side-file lock waits them out).
    """

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.pid = 0
        self.root: duckdb.DuckDBPyConnection | None = None
        self.attached: tuple[Path, bool] | None = None  # (path, read_only)
        self.users = 0

    def open(self, path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        with self.guard:
            if self.pid != os.getpid():  # first use, or inherited through fork: start afresh
                if self.root is not None:
                    _inherited.append(self.root)
                self.pid, self.attached, self.users = os.getpid(), None, 0
                self.root = duckdb.connect(":memory:")
            if self.attached is not None and self.attached != (path, read_only):
                raise WarehouseError("the warehouse is attached in another mode in this process")
            if self.attached is None:
                # Spill files beside the warehouse, where a file connection puts them.
                self.root.execute(f"SET temp_directory = '{_sql_quote(str(path))}.tmp'")
                mode = " (READ_ONLY)" if read_only else ""
                self.root.execute(f"ATTACH '{_sql_quote(str(path))}' AS {_alias(path)}{mode}")
                self.attached = (path, read_only)
            self.users += 1
            try:
                cursor = self.root.cursor()
            except BaseException:
                self._release()
                raise
        try:
            cursor.execute(f"USE {_alias(path)}")
        except BaseException:
            self.close(cursor)
            raise
        return cursor

    def close(self, cursor: duckdb.DuckDBPyConnection) -> None:
        try:
            cursor.close()
        finally:
            with self.guard:
                self._release()

    def _release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.pid == os.getpid():
            self._detach()

    def _detach(self) -> None:
        if self.attached is None:
            return
        path, self.attached = self.attached[0], None
        try:
            self.root.execute(f"DETACH {_alias(path)}")
        except duckdb.Error:
            self.root.close()  # closing the instance releases the file for certain
            self.root, self.pid = None, 0

    def after_fork_in_child(self) -> None:
        """A lock held by another thread at fork time would never be released in the child."""
        self.guard = threading.Lock()


_file = _FileAttachment()
os.register_at_fork(after_in_child=_file.after_fork_in_child)
_BUILT_IN_CATALOGS = {"memory", "system", "temp", "main"}


def _alias(path: Path) -> str:
    """The catalog name ``duckdb.connect`` would give the file (its stem), unless that is one of
    the instance's own catalogs."""
    name = path.stem if path.stem.lower() not in _BUILT_IN_CATALOGS else f"{path.stem}_warehouse"
    return '"' + name.replace('"', '""') + '"'


def _connect(path: Path, *, read_only: bool, bound: float) -> duckdb.DuckDBPyConnection:
    """A connection (a cursor on the attached file) that waits (up to ``bound``) for DuckDB's own
    lock held by an outside process; a file of a newer DuckDB is WarehouseIncompatible, any other
    open failure WarehouseUnreadable (one line each). Close it with :func:`_disconnect`."""
    started = time.monotonic()
    delay = _POLL_START_S
    while True:
        try:
            return _file.open(path, read_only=read_only)
        except duckdb.Error as exc:
            text = str(exc)
            if "version number" in text:
                raise WarehouseIncompatible(path, text) from None
            if _OUTSIDE_LOCK not in text:
                raise WarehouseUnreadable(path, text.splitlines()[0] if text else "") from None
            waited = time.monotonic() - started
            if waited >= bound:
                pid = _LOCK_PID.search(text)
                raise WarehouseLockedOutside(path, pid.group(1) if pid else None, waited) from None
            time.sleep(min(delay, max(bound - waited, 0.001)))
            delay = min(delay * 2, _OUTSIDE_POLL_MAX_S)


def _disconnect(connection: duckdb.DuckDBPyConnection) -> None:
    _file.close(connection)


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


_DUCKDB_MAGIC = (8, b"DUCK")  # offset and bytes of a DuckDB file's header


def _refuse_foreign_file(path: Path) -> None:
    """WarehouseUnreadable for a path that is a directory or a file DuckDB did not write, before
    any lock file is made beside it (a mistyped path must not leave files next to, say, /etc)."""
    if path.is_dir():
        raise WarehouseUnreadable(path, "it is a directory")
    offset, magic = _DUCKDB_MAGIC
    try:
        with path.open("rb") as handle:
            head = handle.read(offset + len(magic))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise WarehouseUnreadable(path, exc.strerror or type(exc).__name__) from None
    if head and head[offset:] != magic:  # an empty file is left to DuckDB
        raise WarehouseUnreadable(path, "not a DuckDB file")


def _enter_locks(stack: contextlib.ExitStack, path: Path, *, exclusive: bool, bound: float) -> None:
    """Take the turnstile and the readers–writer lock, or raise WarehouseBusy after ``bound``;
    WarehouseUnreadable (one line) for a foreign file or a directory where no lock file can be
    made."""
    _refuse_foreign_file(path)
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
    except OSError as exc:  # a read-only or missing directory: the lock files cannot be made
        reason = exc.strerror or type(exc).__name__
        raise WarehouseUnreadable(
            path, f"cannot create its lock file in {path.parent} ({reason})"
        ) from None


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
    if mode() == "lake":
        with contextlib.ExitStack() as stack:
            connection = _lake_connection()
            stack.callback(connection.close)
            stack.enter_context(_bind(connection, writable=False))
            yield connection
        return
    path = warehouse_path()
    if not path.exists():
        raise WarehouseMissing(path)
    bound = settings.WAREHOUSE_READ_TIMEOUT_S if timeout_s is None else timeout_s
    with contextlib.ExitStack() as stack:
        _enter_locks(stack, path, exclusive=False, bound=bound)
        connection = _connect(path, read_only=True, bound=bound)
        stack.callback(_disconnect, connection)
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
    if mode() == "lake":
        with contextlib.ExitStack() as stack:
            connection = _lake_connection()
            stack.callback(connection.close)
            stack.enter_context(_bind(connection, writable=True))
            yield connection
        return
    path = warehouse_path()
    if not path.exists() and not create:
        raise WarehouseMissing(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bound = settings.WAREHOUSE_WRITE_TIMEOUT_S if timeout_s is None else timeout_s
    with contextlib.ExitStack() as stack:
        _enter_locks(stack, path, exclusive=True, bound=bound)
        stack.callback(generation.bump)  # runs after the connection closed (committed), locked
        connection = _connect(path, read_only=False, bound=bound)
        stack.callback(_disconnect, connection)
        stack.enter_context(_bind(connection, writable=True))
        yield connection


def _advisory_key(partition: tuple) -> int:
    digest = hashlib.blake2b(repr(tuple(str(p) for p in partition)).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


@contextlib.contextmanager
def _partition_locks(partitions: Iterable[tuple], timeout_s: float) -> Iterator[None]:
    """Lake mode: PostgreSQL advisory locks on the catalog DB, one per partition, in key order.

    Taken before the DuckLake transaction begins, so a second writer of the same partition starts
    its snapshot only after the first committed: it deletes that copy and inserts its own.
    """
    keys = sorted({_advisory_key(tuple(p)) for p in partitions})
    if not keys:
        yield
        return
    import psycopg  # the lake extra and the postgres extra both install it

    with psycopg.connect(lake_catalog_dsn(), autocommit=True) as pg:
        pg.execute(f"SET lock_timeout = '{max(int(timeout_s * 1000), 1)}ms'")
        started = time.monotonic()
        try:
            for key in keys:
                pg.execute("SELECT pg_advisory_lock(%s)", [key])
        except psycopg.errors.LockNotAvailable:
            raise WarehouseBusy(time.monotonic() - started) from None
        try:
            yield
        finally:
            with contextlib.suppress(psycopg.Error):
                pg.execute("SELECT pg_advisory_unlock_all()")


@contextlib.contextmanager
def transaction(
    *, timeout_s: float | None = None, partitions: Iterable[tuple] = ()
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writer connection inside one DuckDB transaction: all of the block lands, or none of it.

    ``partitions`` names what the block replaces, e.g. ``[("options_chain", symbol, day)]``. The
    file mode needs nothing (its writer lock is exclusive); lake mode locks each one so concurrent
    replaces of the same partition run one after the other and end with exactly one copy.
    """
    bound = settings.WAREHOUSE_WRITE_TIMEOUT_S if timeout_s is None else timeout_s
    nested = getattr(_local, "in_transaction", False)
    with contextlib.ExitStack() as stack:
        if mode() == "lake" and not nested:
            stack.enter_context(_partition_locks(partitions, bound))
        connection = stack.enter_context(write(timeout_s=timeout_s))
        if nested:
            yield connection
            return
        connection.execute("BEGIN TRANSACTION")
        _local.in_transaction = True
        try:
            yield connection
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                connection.execute("ROLLBACK")
            raise
        else:
            connection.execute("COMMIT")
        finally:
            _local.in_transaction = False


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckLake's optimistic-concurrency refusal (worth retrying)."""
    if not isinstance(exc, duckdb.Error):
        return False
    text = str(exc).lower()
    return any(marker in text for marker in _CONFLICT_MARKERS)


class _Attempt:
    def __init__(self, number: int, last: bool) -> None:
        self.number, self.last, self.error = number, last, None

    def __enter__(self) -> _Attempt:
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or self.last or not is_conflict(exc):
            return False
        self.error = exc
        return True  # swallowed: the loop tries again after a back-off


def attempts(*, tries: int | None = None, base_delay_s: float = 0.05) -> Iterator[_Attempt]:
    """Retry a write whose commit conflicted, with bounded exponential back-off and jitter::

        for attempt in warehouse.attempts():
            with attempt, warehouse.transaction(partitions=...) as con:
                ...

    The body must be safe to run again (it recomputes nothing outside the block). One attempt in
    file mode and inside an outer transaction (the outer block owns the retry); after the last
    conflicting attempt :class:`WarehouseConflict` carries one clear line.
    """
    if mode() != "lake" or getattr(_local, "in_transaction", False) or _active() is not None:
        yield _Attempt(1, last=True)
        return
    limit = tries or int(getattr(settings, "WAREHOUSE_CONFLICT_RETRIES", 6))
    for number in range(1, limit + 1):
        attempt = _Attempt(number, last=False)
        yield attempt
        if attempt.error is None:
            return
        if number == limit:
            raise WarehouseConflict(limit, str(attempt.error).splitlines()[0][:200])
        time.sleep(min(base_delay_s * 2 ** (number - 1), 2.0) * (0.5 + random.random()))


def fetch_df(sql: str, params: list | tuple | None = None):
    """Run one read query and return a pandas DataFrame (connection closed before returning)."""
    with read() as connection:
        return connection.execute(sql, params or []).df()


def fetch_records(sql: str, params: list | tuple | None = None) -> list[dict]:
    """Run one read query and return its rows as dicts of plain Python values (read as Arrow)."""
    with read() as connection:
        return connection.execute(sql, params or []).to_arrow_table().to_pylist()


def fetch_all(sql: str, params: list | tuple | None = None) -> list[tuple]:
    """Run one read query and return its rows as tuples."""
    with read() as connection:
        return connection.execute(sql, params or []).fetchall()


def lake_maintain(*, retention_days: int | None = None) -> dict[str, int | str]:
    """Lake housekeeping with DuckLake's own functions; a no-op in file mode.

    Merges small adjacent Parquet files (each daily write adds one per table and transaction),
    expires snapshots older than ``retention_days`` and deletes the files nothing references any
    more, so a year of daily writes does not leave a million tiny files.
    """
    if mode() != "lake":
        return {"mode": "file"}
    days = settings.LAKE_SNAPSHOT_RETENTION_DAYS if retention_days is None else retention_days
    older = f"now() - INTERVAL '{int(days)} days'"
    with write() as connection:
        files_before = connection.execute(
            "SELECT count(*) FROM ducklake_list_files(?, 'options_chain')", [LAKE_ALIAS]
        ).fetchone()[0]
        connection.execute(f"CALL ducklake_merge_adjacent_files('{LAKE_ALIAS}')")
        expired = connection.execute(
            f"CALL ducklake_expire_snapshots('{LAKE_ALIAS}', older_than => {older})"
        ).fetchall()
        cleaned = connection.execute(
            f"CALL ducklake_cleanup_old_files('{LAKE_ALIAS}', older_than => {older})"
        ).fetchall()
        files_after = connection.execute(
            "SELECT count(*) FROM ducklake_list_files(?, 'options_chain')", [LAKE_ALIAS]
        ).fetchone()[0]
    return {
        "mode": "lake",
        "chain_files_before": int(files_before),
        "chain_files_after": int(files_after),
        "snapshots_expired": len(expired),
        "files_deleted": len(cleaned),
    }
