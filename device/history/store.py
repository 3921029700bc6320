"""The rep history: one SQLite file that survives power cuts, kill -9 and upgrades.

Layout (schema version :data:`SCHEMA_VERSION`, see docs/history.md):

- ``athletes``: who trained; a default athlete exists from the start.
- ``sessions``: one training day per athlete (``day`` is the local date).
- ``sets``: an exercise block with its start and end (Unix seconds); ``manual``
  sets are kettlebell sets logged by hand (``manual_reps``, ``weight_kg``),
  instrumented sets own rows in ``reps``.
- ``reps``: start, end, ``depth_deg``, ``down_s``, ``up_s``, ``clean``.
- ``losses``: a contact point that left the back during a rep.
- ``device_state``: small key/value facts such as the current athlete.

The file is stamped with ``PRAGMA application_id`` so a stray SQLite file is
never mistaken for ours, and ``PRAGMA user_version`` counts the migrations in
:data:`MIGRATIONS` that have run.  A file that is not ours, or that a newer
program wrote, is refused before anything writes to it.

WAL journal with ``synchronous=FULL``: every commit is fsynced, so a committed
rep survives kill -9 and a power cut; at one commit per rep (one every few
seconds) the cost does not matter.  Each thread gets its own connection; with
WAL a reader never blocks the writer, so the dashboard reading a year of
trends cannot delay the commit of a rep.  Multi-query reads run in one read
transaction, so they see one consistent state.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

from device.analysis import vocabulary
from device.hw import constants

#: "DOWL" - written into the SQLite header so we recognise our own files.
APPLICATION_ID = 0x444F574C
SQLITE_MAGIC = b"SQLite format 3\x00"
DEFAULT_ATHLETE = "athlete"
#: Exercises the dowel does not track: logged by hand.
MANUAL_EXERCISES = tuple(e.id for e in vocabulary.EXERCISES if not e.tracked)
POINTS = constants.POINTS
MAX_PAGE_SIZE = 500


class StoreError(Exception):
    """The history database cannot be used; ``str(err)`` says which file and why."""


class FieldError(ValueError):
    """Bad input for one field: ``field`` names it, ``message`` says what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -- migrations ------------------------------------------------------------------
# Each function takes the connection inside an open transaction and moves the
# schema up by one version.  Never edit a released one: append a new function.

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


MIGRATIONS: list = [_migrate_v1, _migrate_v2]
SCHEMA_VERSION = len(MIGRATIONS)


def local_day(wall: float) -> str:
    """The training day (local date, ``YYYY-MM-DD``) a Unix time falls on."""
    return _dt.datetime.fromtimestamp(wall).date().isoformat()


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
    try:
        ro = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            app_id = ro.execute("PRAGMA application_id").fetchone()[0]
            version = ro.execute("PRAGMA user_version").fetchone()[0]
            tables = ro.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            ro.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a readable SQLite database ({exc}); left untouched") from None
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


def _consistent(method: Callable) -> Callable:
    """Run a multi-query read inside one read transaction (one consistent state)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._snapshot():
            return method(self, *args, **kwargs)
    return wrapper


class Store:
    """The history database.  Thread-safe (a connection per thread); every public
    method that writes commits (or rolls back) before it returns.

    ``readonly=True`` opens an existing database for reading only (it must
    already be at the current schema).
    """

    def __init__(self, path, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._lock = threading.Lock()          # guards the list of connections
        self._local = threading.local()
        self._connections: list = []
        self._extra_pragmas: list = []
        version = check_file(self.path)
        if readonly:
            if version is None:
                raise StoreError(f"{self.path}: no history database here")
            if version != SCHEMA_VERSION:
                raise StoreError(f"{self.path}: schema {version} needs upgrading; open it "
                                 f"read-write once (for example with `dowel run`)")
            self._uri = f"{self.path.resolve().as_uri()}?mode=ro"
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.path.parent}: cannot create directory ({exc.strerror})") from None
            self._uri = f"{self.path.resolve().as_uri()}?mode=rwc"
        try:
            db = self._db
            if not readonly:
                db.execute("PRAGMA journal_mode=WAL")      # persistent: set once per file
                self._migrate(version or 0)
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"{self.path}: cannot open the history database ({exc})") from None

    # -- plumbing --------------------------------------------------------------
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

    def _migrate(self, version: int) -> None:
        for number in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx() as db:
                MIGRATIONS[number - 1](db)
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={number}")

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

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._query("PRAGMA user_version")[0][0]

    def integrity_check(self) -> str:
        return self._query("PRAGMA integrity_check")[0][0]

    # -- athletes ------------------------------------------------------------------
    def athletes(self) -> list:
        rows = self._query("SELECT id, name, created FROM athletes ORDER BY id")
        current = self.current_athlete_id()
        return [dict(r, current=r["id"] == current) for r in rows]

    def get_athlete(self, athlete_id: int) -> Optional[dict]:
        rows = self._query("SELECT id, name, created FROM athletes WHERE id=?", (athlete_id,))
        return dict(rows[0]) if rows else None

    def add_athlete(self, name: str) -> dict:
        """A new athlete; :class:`FieldError` for an empty or duplicate name."""
        name = (name or "").strip()
        if not name or len(name) > 60:
            raise FieldError("name", "must be 1 to 60 characters")
        if not name.isprintable():
            # NUL, newlines and terminal escapes would reach `dowel history` and the export
            raise FieldError("name", "must be printable characters only (no control characters)")
        try:
            with self._tx() as db:
                cur = db.execute("INSERT INTO athletes (name, created) VALUES (?, ?)",
                                 (name, time.time()))
        except sqlite3.IntegrityError:
            raise FieldError("name", f"an athlete called {name!r} already exists") from None
        return self.get_athlete(cur.lastrowid)

    def current_athlete_id(self) -> int:
        """The athlete new sets are recorded for (the first athlete unless chosen)."""
        rows = self._query("SELECT value FROM device_state WHERE key='current_athlete'")
        if rows:
            athlete_id = int(rows[0][0])
            if self.get_athlete(athlete_id):
                return athlete_id
        rows = self._query("SELECT min(id) FROM athletes")
        if rows and rows[0][0] is not None:
            return rows[0][0]
        with self._tx() as db:
            cur = db.execute("INSERT INTO athletes (name, created) VALUES (?, ?)",
                             (DEFAULT_ATHLETE, time.time()))
        return cur.lastrowid

    def set_current_athlete(self, athlete_id: int) -> None:
        if not self.get_athlete(athlete_id):
            raise KeyError(athlete_id)
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO device_state (key, value) VALUES "
                       "('current_athlete', ?)", (str(athlete_id),))

    # -- writing -----------------------------------------------------------------
    def _session_id(self, db, athlete_id: int, wall: float) -> int:
        day = local_day(wall)
        row = db.execute("SELECT id FROM sessions WHERE athlete_id=? AND day=?",
                         (athlete_id, day)).fetchone()
        if row:
            return row[0]
        return db.execute("INSERT INTO sessions (athlete_id, day, started) VALUES (?, ?, ?)",
                          (athlete_id, day, wall)).lastrowid

    def start_set(self, athlete_id: int, exercise: str, start: float) -> int:
        """A new instrumented set on the athlete's session of that day; its id."""
        with self._tx() as db:
            session_id = self._session_id(db, athlete_id, start)
            return db.execute("INSERT INTO sets (session_id, exercise, start) VALUES (?, ?, ?)",
                              (session_id, exercise, start)).lastrowid

    def end_set(self, set_id: int, end: float) -> None:
        with self._tx() as db:
            db.execute('UPDATE sets SET "end"=? WHERE id=?', (end, set_id))

    def add_rep(self, set_id: int, rep: dict, rep_index: int) -> int:
        """Store one rep and its losses in one transaction; times are Unix seconds."""
        with self._tx() as db:
            rep_id = db.execute(
                'INSERT INTO reps (set_id, rep_index, start, "end", depth_deg, down_s, up_s, clean) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (set_id, rep_index, float(rep["start"]), float(rep["end"]),
                 float(rep["depth_deg"]), float(rep["down_s"]), float(rep["up_s"]),
                 1 if rep.get("clean") else 0)).lastrowid
            for loss in rep.get("losses") or ():
                db.execute("INSERT INTO losses (rep_id, point, start, duration_s) VALUES (?, ?, ?, ?)",
                           (rep_id, str(loss["point"]), float(loss["start"]),
                            float(loss["duration_s"])))
            return rep_id

    def has_set(self, set_id: int) -> bool:
        return bool(self._query("SELECT 1 FROM sets WHERE id=?", (set_id,)))

    def rep_indexes(self, set_id: int) -> set:
        return {r[0] for r in self._query("SELECT rep_index FROM reps WHERE set_id=?", (set_id,))}

    def close_unfinished_sets(self) -> int:
        """Sets left open by a crash end at their last rep (or their start)."""
        with self._tx() as db:
            return db.execute(
                'UPDATE sets SET "end" = coalesce((SELECT max(r."end") FROM reps r '
                'WHERE r.set_id = sets.id), start) WHERE "end" IS NULL AND manual = 0').rowcount

    def add_manual_set(self, athlete_id: int, exercise: str, reps: int,
                       weight_kg: Optional[float] = None, wall: Optional[float] = None) -> dict:
        """A kettlebell set logged by hand; :class:`FieldError` names the bad field."""
        if exercise not in MANUAL_EXERCISES:
            raise FieldError("exercise", f"must be one of {', '.join(MANUAL_EXERCISES)}")
        if isinstance(reps, bool) or not isinstance(reps, int) or not 1 <= reps <= 50:
            raise FieldError("reps", "must be a whole number from 1 to 50")
        if weight_kg is not None:
            if isinstance(weight_kg, bool) or not isinstance(weight_kg, (int, float)) \
                    or not 0 < weight_kg <= 200:
                raise FieldError("weight_kg", "must be a number of kilograms above 0 and at most 200")
        wall = time.time() if wall is None else wall
        with self._tx() as db:
            session_id = self._session_id(db, athlete_id, wall)
            set_id = db.execute(
                'INSERT INTO sets (session_id, exercise, start, "end", manual, manual_reps, weight_kg) '
                "VALUES (?, ?, ?, ?, 1, ?, ?)",
                (session_id, exercise, wall, wall, reps,
                 None if weight_kg is None else float(weight_kg))).lastrowid
        return self.get_set(set_id)

    def delete_session(self, session_id: int) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM sessions WHERE id=?", (session_id,)).rowcount > 0

    # -- reading -----------------------------------------------------------------
    _SESSION_SUMMARY = """
        SELECT s.id, s.athlete_id, a.name AS athlete, s.day, s.started,
          (SELECT max(coalesce(st."end", st.start)) FROM sets st WHERE st.session_id=s.id) AS ended,
          (SELECT count(*) FROM sets st WHERE st.session_id=s.id) AS set_count,
          (SELECT count(*) FROM reps r JOIN sets st ON r.set_id=st.id WHERE st.session_id=s.id) AS rep_count,
          (SELECT count(*) FROM reps r JOIN sets st ON r.set_id=st.id
             WHERE st.session_id=s.id AND r.clean=1) AS clean_reps,
          (SELECT coalesce(sum(st.manual_reps), 0) FROM sets st
             WHERE st.session_id=s.id AND st.manual=1) AS manual_reps
        FROM sessions s JOIN athletes a ON a.id = s.athlete_id"""

    @staticmethod
    def _summary(row) -> dict:
        d = dict(row)
        d["clean_pct"] = round(100.0 * d["clean_reps"] / d["rep_count"], 1) if d["rep_count"] else None
        return d

    @_consistent
    def list_sessions(self, athlete_id: Optional[int] = None, limit: int = 20,
                      offset: int = 0) -> tuple:
        """(sessions newest first, total count), each a summary without sets."""
        limit, offset = _page(limit, offset)
        where, params = ("WHERE s.athlete_id=?", (athlete_id,)) if athlete_id is not None else ("", ())
        total = self._query(f"SELECT count(*) FROM sessions s {where}", params)[0][0]
        rows = self._query(f"{self._SESSION_SUMMARY} {where} ORDER BY s.day DESC, s.id DESC "
                           f"LIMIT ? OFFSET ?", params + (limit, offset))
        return [self._summary(r) for r in rows], total

    @_consistent
    def get_session(self, session_id: int) -> Optional[dict]:
        """A session with its sets, each with its reps and their losses."""
        rows = self._query(f"{self._SESSION_SUMMARY} WHERE s.id=?", (session_id,))
        if not rows:
            return None
        session = self._summary(rows[0])
        sets = self._query('SELECT id, session_id, exercise, start, "end", manual, manual_reps, '
                           "weight_kg FROM sets WHERE session_id=? ORDER BY start, id", (session_id,))
        reps = self._reps_where("st.session_id=?", (session_id,))
        by_set: dict = {}
        for rep in reps:
            by_set.setdefault(rep["set_id"], []).append(rep)
        session["sets"] = [self._set_dict(s, n, by_set.get(s["id"], []))
                           for n, s in enumerate(sets, 1)]
        return session

    def current_session(self, athlete_id: Optional[int] = None,
                        now: Optional[float] = None) -> Optional[dict]:
        """Today's session for the athlete (``None`` before the first set of the day)."""
        athlete_id = self.current_athlete_id() if athlete_id is None else athlete_id
        day = local_day(time.time() if now is None else now)
        rows = self._query("SELECT id FROM sessions WHERE athlete_id=? AND day=?", (athlete_id, day))
        return self.get_session(rows[0][0]) if rows else None

    @_consistent
    def get_set(self, set_id: int) -> Optional[dict]:
        rows = self._query('SELECT id, session_id, exercise, start, "end", manual, manual_reps, '
                           "weight_kg FROM sets WHERE id=?", (set_id,))
        if not rows:
            return None
        s = rows[0]
        number = self._query("SELECT count(*) FROM sets WHERE session_id=? AND (start < ? OR "
                             "(start = ? AND id <= ?))",
                             (s["session_id"], s["start"], s["start"], s["id"]))[0][0]
        return self._set_dict(s, number, self._reps_where("r.set_id=?", (set_id,)))

    @staticmethod
    def _set_dict(row, number: int, reps: list) -> dict:
        d = dict(row)
        d["manual"] = bool(d["manual"])
        d["number"] = number
        for rep in reps:
            for key in ("session_id", "set_id", "exercise", "day", "athlete_id", "athlete", "set_start"):
                rep.pop(key, None)
        d["reps"] = reps
        if d["manual"]:
            d["rep_count"] = d["manual_reps"]
            d["clean_reps"] = None
        else:
            d["rep_count"] = len(reps)
            d["clean_reps"] = sum(1 for r in reps if r["clean"])
        return d

    _REP_SELECT = """
        SELECT r.id, r.set_id, st.session_id, s.day, s.athlete_id, a.name AS athlete,
               st.exercise, st.start AS set_start, r.rep_index, r.start, r."end",
               r.depth_deg, r.down_s, r.up_s, r.clean
        FROM reps r JOIN sets st ON st.id = r.set_id JOIN sessions s ON s.id = st.session_id
        JOIN athletes a ON a.id = s.athlete_id"""

    def _reps_where(self, where: str, params=(), order: str = "r.start, r.id",
                    limit: Optional[int] = None, offset: int = 0) -> list:
        sql = f"{self._REP_SELECT} WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params = tuple(params) + (limit, offset)
        with self._snapshot() as db:
            rows = db.execute(sql, params).fetchall()
            ids = [r["id"] for r in rows]
            losses: dict = {}
            # chunks keep the parameter count under SQLite's limit
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                for l in db.execute(
                        f"SELECT rep_id, point, start, duration_s FROM losses WHERE rep_id IN "
                        f"({','.join('?' * len(chunk))}) ORDER BY start, id", chunk):
                    losses.setdefault(l["rep_id"], []).append(
                        {"point": l["point"], "start": l["start"], "duration_s": l["duration_s"]})
        out = []
        for r in rows:
            d = dict(r)
            d["clean"] = bool(d["clean"])
            d["losses"] = losses.get(r["id"], [])
            out.append(d)
        return out

    @_consistent
    def list_reps(self, session_id: Optional[int] = None, athlete_id: Optional[int] = None,
                  limit: int = 50, offset: int = 0) -> tuple:
        """(reps oldest first with session, set, exercise and losses; total count)."""
        limit, offset = _page(limit, offset)
        clauses, params = ["1=1"], []
        if session_id is not None:
            clauses.append("st.session_id=?")
            params.append(session_id)
        if athlete_id is not None:
            clauses.append("s.athlete_id=?")
            params.append(athlete_id)
        where = " AND ".join(clauses)
        total = self._query("SELECT count(*) FROM reps r JOIN sets st ON st.id=r.set_id "
                            f"JOIN sessions s ON s.id=st.session_id WHERE {where}", params)[0][0]
        return self._reps_where(where, params, limit=limit, offset=offset), total

    def all_reps(self, athlete_id: Optional[int] = None) -> list:
        """Every rep (for export and trends), oldest first."""
        if athlete_id is None:
            return self._reps_where("1=1")
        return self._reps_where("s.athlete_id=?", (athlete_id,))

    def manual_sets(self, athlete_id: Optional[int] = None) -> list:
        sql = ('SELECT st.id, st.session_id, s.day, s.athlete_id, a.name AS athlete, st.exercise, '
               'st.start, st."end", st.manual_reps, st.weight_kg FROM sets st '
               "JOIN sessions s ON s.id = st.session_id JOIN athletes a ON a.id = s.athlete_id "
               "WHERE st.manual = 1")
        params: tuple = ()
        if athlete_id is not None:
            sql += " AND s.athlete_id=?"
            params = (athlete_id,)
        return [dict(r) for r in self._query(sql + " ORDER BY st.start, st.id", params)]

    @_consistent
    def all_sessions(self, athlete_id: Optional[int] = None) -> list:
        """Every session with sets, reps and losses, oldest first (for trends and export).

        A few bulk queries in one read transaction rather than one per session,
        so a year of history answers quickly even on a Pi Zero."""
        where, params = ("WHERE s.athlete_id=?", (athlete_id,)) if athlete_id is not None else ("", ())
        sessions = [self._summary(r) for r in self._query(
            f"{self._SESSION_SUMMARY} {where} ORDER BY s.day, s.id", params)]
        sets = self._query(
            'SELECT st.id, st.session_id, st.exercise, st.start, st."end", st.manual, '
            "st.manual_reps, st.weight_kg FROM sets st JOIN sessions s ON s.id = st.session_id "
            f"{where} ORDER BY st.start, st.id", params)
        reps = self._reps_where("s.athlete_id=?" if athlete_id is not None else "1=1",
                                params)
        by_set: dict = {}
        for rep in reps:
            by_set.setdefault(rep["set_id"], []).append(rep)
        by_session: dict = {}
        for row in sets:
            by_session.setdefault(row["session_id"], []).append(row)
        for session in sessions:
            session["sets"] = [self._set_dict(row, n, by_set.get(row["id"], []))
                               for n, row in enumerate(by_session.get(session["id"], []), 1)]
        return sessions


def _page(limit, offset) -> tuple:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise FieldError("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise FieldError("offset", "must be a whole number, 0 or more")
    return limit, offset
