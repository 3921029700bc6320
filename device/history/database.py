"""The SQLite plumbing under the store: one connection per thread, write and read
transactions, opening (read-write with migrations, or read-only), closing.

WAL journal with ``synchronous=FULL``: every commit is fsynced, so a committed
rep survives kill -9 and a power cut; at one commit per rep (one every few
seconds) the cost does not matter.  Each thread gets its own connection; with
WAL a reader never blocks the writer, so the dashboard reading a year of
trends cannot delay the commit of a rep.  Multi-query reads run in one read
transaction, so they see one consistent state.
"""
from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from pathlib import Path
from typing import Callable, Iterator, Optional

from device.history.schema import (APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, StoreError,
                                   check_file, create_current, read_only_uri)

#: The oldest schema the queries can read as it is (3 added ids that are never
#: reused and the deleted-session tombstones, neither of which reading needs).
READABLE_FROM = 2


def consistent(method: Callable) -> Callable:
    """Run a multi-query read inside one read transaction (one consistent state)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._snapshot():
            return method(self, *args, **kwargs)
    return wrapper


class Database:
    """Thread-safe access to one history file (a connection per thread).

    ``readonly=True`` opens an existing database for reading only (schema
    :data:`READABLE_FROM` or later: nothing is migrated).  ``readonly=None`` decides by itself: a
    database that exists in a directory (or a file) we cannot write is opened
    read-only, anything else read-write.
    """

    def __init__(self, path, readonly=False):
        self.path = Path(path)
        self._lock = threading.Lock()          # guards the list of connections
        self._local = threading.local()
        self._connections: list = []
        self._extra_pragmas: list = []
        version = check_file(self.path)
        if readonly is None:
            readonly = version is not None and not _writable(self.path)
        self.readonly = bool(readonly)
        self._uri = self._open_uri(version)
        try:
            db = self._db
            if not self.readonly:
                db.execute("PRAGMA journal_mode=WAL")      # persistent: set once per file
                self._migrate(version)
            else:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"{self.path}: cannot open the history database ({exc})") from None

    def _open_uri(self, version) -> str:
        if self.readonly:
            if version is None:
                raise StoreError(f"{self.path}: no history database here")
            if version < READABLE_FROM:
                raise StoreError(f"{self.path}: schema {version} needs upgrading; open it "
                                 f"read-write once (for example with `dowel run`)")
            return read_only_uri(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot create directory ({exc.strerror})") from None
        return f"{self.path.resolve().as_uri()}?mode=rwc"

    # One connection per thread: with WAL, the web's long reads (a year of
    # trends) never hold up the history writer's commit of a rep.
    @property
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so DDL in a
            # migration is inside the same transaction as the version bump.
            db = sqlite3.connect(self._uri, uri=True, isolation_level=None,
                                 check_same_thread=False, timeout=10.0)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys=ON")
            if not self.readonly:
                db.execute("PRAGMA synchronous=FULL")
            with self._lock:
                for pragma in self._extra_pragmas:
                    db.execute(pragma)
                self._connections.append(db)
            self._local.db = db
        return db

    def _pragma_all(self, pragma: str) -> None:
        """Run a per-connection PRAGMA on every connection, now and future
        (tests use ``max_page_count`` to make the disk "full")."""
        with self._lock:
            self._extra_pragmas.append(pragma)
            connections = list(self._connections)
        for db in connections:
            db.execute(pragma)

    def _migrate(self, version: Optional[int]) -> None:
        """Bring the file to :data:`SCHEMA_VERSION`: a new one (``version`` None)
        is made at it at once, an older one goes through each migration."""
        db = self._db
        # Foreign keys off while the schema changes (a table rebuilt in a
        # migration must not cascade); checked before each commit instead.
        db.execute("PRAGMA foreign_keys=OFF")
        steps = [(SCHEMA_VERSION, create_current)] if version is None else \
            [(number, MIGRATIONS[number - 1]) for number in range(version + 1, SCHEMA_VERSION + 1)]
        try:
            for number, migration in steps:
                with self._tx() as tx:
                    migration(tx)
                    broken = tx.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(f"{self.path}: migration {number} would leave "
                                         f"{len(broken)} dangling rows; left untouched")
                    tx.execute(f"PRAGMA application_id={APPLICATION_ID}")
                    tx.execute(f"PRAGMA user_version={number}")
        finally:
            db.execute("PRAGMA foreign_keys=ON")

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (IMMEDIATE: takes the write lock up front)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several queries see one consistent state."""
        db = self._db
        if db.in_transaction:
            yield db
            return
        db.execute("BEGIN")
        try:
            yield db
        finally:
            if db.in_transaction:
                db.execute("COMMIT")

    def _query(self, sql: str, params=()) -> list:
        return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for db in connections:
            db.close()
        self._local = threading.local()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._query("PRAGMA user_version")[0][0]

    def integrity_check(self) -> str:
        return self._query("PRAGMA integrity_check")[0][0]


def _writable(path: Path) -> bool:
    """Can SQLite write this database: the file, and the directory (for -wal, -shm)?"""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
