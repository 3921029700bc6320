"""The history database's schema: its migrations and the check that a file is ours.

The file is stamped with ``PRAGMA application_id`` so a stray SQLite file is
never mistaken for ours, and ``PRAGMA user_version`` counts the migrations in
:data:`MIGRATIONS` that have run.  A file that is not ours, or that a newer
program wrote, is refused before anything writes to it.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Optional

#: "DOWL" - written into the SQLite header so we recognise our own files.
APPLICATION_ID = 0x444F574C
SQLITE_MAGIC = b"SQLite format 3\x00"
DEFAULT_ATHLETE = "athlete"


class StoreError(Exception):
    """The history database cannot be used; ``str(err)`` says which file and why."""


# -- migrations ------------------------------------------------------------------
# Each function takes the connection inside an open transaction (foreign keys
# off, checked before the commit) and moves the schema up by one version.
# Never edit a released one: append a new function.

def _migrate_v1(db: sqlite3.Connection) -> None:
    """The first schema: athletes, sessions, instrumented sets, reps, losses."""
    db.execute("""CREATE TABLE athletes (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created REAL NOT NULL)""")
    db.execute("""CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        athlete_id INTEGER NOT NULL REFERENCES athletes(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        started REAL NOT NULL,
        UNIQUE (athlete_id, day))""")
    db.execute("""CREATE TABLE sets (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        exercise TEXT NOT NULL,
        start REAL NOT NULL,
        "end" REAL)""")
    db.execute("""CREATE TABLE reps (
        id INTEGER PRIMARY KEY,
        set_id INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,
        rep_index INTEGER NOT NULL,
        start REAL NOT NULL,
        "end" REAL NOT NULL,
        depth_deg REAL NOT NULL,
        down_s REAL NOT NULL,
        up_s REAL NOT NULL,
        clean INTEGER NOT NULL)""")
    db.execute("""CREATE TABLE losses (
        id INTEGER PRIMARY KEY,
        rep_id INTEGER NOT NULL REFERENCES reps(id) ON DELETE CASCADE,
        point TEXT NOT NULL,
        start REAL NOT NULL,
        duration_s REAL NOT NULL)""")
    db.execute("INSERT INTO athletes (name, created) VALUES (?, ?)", (DEFAULT_ATHLETE, time.time()))


def _migrate_v2(db: sqlite3.Connection) -> None:
    """Kettlebell sets logged by hand, the current athlete, indexes for paging."""
    db.execute("ALTER TABLE sets ADD COLUMN manual INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE sets ADD COLUMN manual_reps INTEGER")
    db.execute("ALTER TABLE sets ADD COLUMN weight_kg REAL")
    db.execute("CREATE TABLE device_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("CREATE INDEX sets_session ON sets(session_id, start)")
    db.execute("CREATE INDEX reps_set ON reps(set_id, start)")
    db.execute("CREATE INDEX losses_rep ON losses(rep_id)")
    db.execute("CREATE INDEX sessions_athlete_day ON sessions(athlete_id, day)")


#: v3 tables: the v2 columns with `` `` ids (a deleted id is never
#: handed out again, so a link to a deleted session can never show another one).
_V3_TABLES = {
    "athletes": """id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        created REAL NOT NULL""",
    "sessions": """id INTEGER PRIMARY KEY AUTOINCREMENT,
        athlete_id INTEGER NOT NULL REFERENCES athletes(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        started REAL NOT NULL,
        UNIQUE (athlete_id, day)""",
    "sets": """id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        exercise TEXT NOT NULL,
        start REAL NOT NULL,
        "end" REAL,
        manual INTEGER NOT NULL DEFAULT 0,
        manual_reps INTEGER,
        weight_kg REAL""",
    "reps": """id INTEGER PRIMARY KEY AUTOINCREMENT,
        set_id INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,
        rep_index INTEGER NOT NULL,
        start REAL NOT NULL,
        "end" REAL NOT NULL,
        depth_deg REAL NOT NULL,
        down_s REAL NOT NULL,
        up_s REAL NOT NULL,
        clean INTEGER NOT NULL""",
    "losses": """id INTEGER PRIMARY KEY AUTOINCREMENT,
        rep_id INTEGER NOT NULL REFERENCES reps(id) ON DELETE CASCADE,
        point TEXT NOT NULL,
        start REAL NOT NULL,
        duration_s REAL NOT NULL""",
}


def _migrate_v3(db: sqlite3.Connection) -> None:
    """Ids never reused, deleted sessions remembered, no set without reps, reps
    numbered from 1 in each set."""
    # SQLite cannot add   to a table: make each anew, copy, swap
    # (the documented procedure; foreign keys are off, so nothing cascades).
    for table, columns in _V3_TABLES.items():
        db.execute(f"CREATE TABLE new_{table} ({columns})")
        names = ", ".join(f'"{c}"' for c in _column_names(db, table))
        db.execute(f"INSERT INTO new_{table} ({names}) SELECT {names} FROM {table}")
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE new_{table} RENAME TO {table}")
    _v3_indexes_and_deleted_sessions(db)
    db.execute("DELETE FROM sets WHERE manual = 0 AND id NOT IN (SELECT set_id FROM reps)")
    db.execute("DELETE FROM sessions WHERE id NOT IN (SELECT session_id FROM sets)")
    # renumber each set's reps 1..n in time order (older writers kept the
    # pipeline's number, which did not start at 1 when a set began mid-way)
    db.execute("""UPDATE reps SET rep_index = (
        SELECT count(*) FROM reps r2 WHERE r2.set_id = reps.set_id
          AND (r2.start < reps.start OR (r2.start = reps.start AND r2.id <= reps.id)))""")


def _v3_indexes_and_deleted_sessions(db: sqlite3.Connection) -> None:
    db.execute("CREATE INDEX sets_session ON sets(session_id, start)")
    db.execute("CREATE INDEX reps_set ON reps(set_id, start)")
    db.execute("CREATE INDEX losses_rep ON losses(rep_id)")
    db.execute("CREATE INDEX sessions_athlete_day ON sessions(athlete_id, day)")
    # a session deleted while one of its sets was still being recorded: the
    # history writer drops what it still holds of such a set instead of
    # bringing the session back
    db.execute("""CREATE TABLE deleted_sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id INTEGER NOT NULL,
        athlete_id INTEGER NOT NULL,
        day TEXT NOT NULL,
        deleted_at REAL NOT NULL)""")
    db.execute("CREATE INDEX deleted_sessions_day ON deleted_sessions(athlete_id, day)")


def create_current(db: sqlite3.Connection) -> None:
    """A new file at :data:`SCHEMA_VERSION` in one step: what running every
    migration on an empty file ends with, without v3's table rebuilds (a new
    database costs one commit, not three).  A migration appended to
    :data:`MIGRATIONS` must change this too; the tests compare the two."""
    for table, columns in _V3_TABLES.items():
        db.execute(f"CREATE TABLE {table} ({columns})")
    db.execute("CREATE TABLE device_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    _v3_indexes_and_deleted_sessions(db)
    db.execute("INSERT INTO athletes (name, created) VALUES (?, ?)", (DEFAULT_ATHLETE, time.time()))


def _column_names(db: sqlite3.Connection, table: str) -> list:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


MIGRATIONS: list = [_migrate_v1, _migrate_v2, _migrate_v3]
SCHEMA_VERSION = len(MIGRATIONS)


def check_file(path: Path) -> Optional[int]:
    """Look at ``path`` without writing to it.

    Returns ``None`` for a missing or empty file (a new database), else the
    schema version of a dowel database.  Raises :class:`StoreError` for a file
    that is not a dowel database or that a newer program wrote.
    """
    path = Path(path)
    if not path.exists():
        return None
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a history database")
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise StoreError(f"{path}: cannot read ({exc.strerror})") from None
    if not header:
        return None
    if not header.startswith(SQLITE_MAGIC):
        raise StoreError(f"{path}: not a dowel history database (not an SQLite file); "
                         f"left untouched")
    app_id, version, tables = _header_facts(path)
    if app_id == 0 and version == 0 and tables == 0:
        return None                     # an empty SQLite file: safe to initialise
    if app_id != APPLICATION_ID:
        raise StoreError(f"{path}: not a dowel history database (application_id "
                         f"{app_id:#x}, expected {APPLICATION_ID:#x}); left untouched")
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path}: written by a newer version of the dowel software "
                         f"(schema {version}, this one knows up to {SCHEMA_VERSION}); "
                         f"left untouched - upgrade the software")
    return version


def _header_facts(path: Path) -> tuple:
    """(application_id, user_version, table count), read without writing."""
    try:
        ro = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            return (ro.execute("PRAGMA application_id").fetchone()[0],
                    ro.execute("PRAGMA user_version").fetchone()[0],
                    ro.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        finally:
            ro.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a readable SQLite database ({exc}); left untouched") from None


def read_only_uri(path: Path) -> str:
    """An SQLite URI that reads ``path`` without ever writing next to it.

    ``mode=ro`` alone is not enough for a WAL database in a directory we cannot
    write: reading needs the ``-shm`` file, which SQLite would create.  When the
    directory is not writable and no ``-shm`` is there, ``immutable=1`` reads the
    main file as it is (a WAL not yet checkpointed is then not seen; a cleanly
    closed database has none)."""
    path = Path(path).resolve()
    uri = f"{path.as_uri()}?mode=ro"
    shm = path.with_name(path.name + "-shm")
    if not os.access(path.parent, os.W_OK) and not shm.exists():
        uri += "&immutable=1"
    return uri
