"""What changes the history: athletes, sets and their reps, manual sets, deletion.

Every method commits (or rolls back) before it returns.  The rules that keep
the history honest live here:

- a session is one training day of one athlete, made by its first set;
- reps are numbered 1, 2, 3... in each set by the store itself;
- an instrumented set that ends without reps is not kept (nor is a session
  left with no set);
- deleting a session leaves a tombstone (``deleted_sessions``): a set that was
  still being recorded when its session was deleted is refused afterwards
  (:meth:`Writes.start_set` with ``unless_deleted`` and :meth:`Writes.add_rep`
  answer ``None``), so nothing of a deleted session comes back.
"""
from __future__ import annotations

import datetime as _dt
import sqlite3
import time
from typing import Optional

from device.history.manual import FieldError, validate_manual_set
from device.history.schema import DEFAULT_ATHLETE

#: Longest athlete name, in characters.
MAX_NAME_CHARS = 60


def local_day(wall: float) -> str:
    """The training day (local date, ``YYYY-MM-DD``) a Unix time falls on."""
    return _dt.datetime.fromtimestamp(wall).date().isoformat()


class Writes:
    """The writing half of :class:`device.history.store.Store` (a mixin over
    :class:`device.history.database.Database`)."""

    # -- athletes ------------------------------------------------------------------
    def add_athlete(self, name: str) -> dict:
        """A new athlete; :class:`FieldError` for an empty or duplicate name."""
        name = (name or "").strip()
        if not name or len(name) > MAX_NAME_CHARS:
            raise FieldError("name", f"must be 1 to {MAX_NAME_CHARS} characters")
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

    # -- sets and reps -----------------------------------------------------------------
    @staticmethod
    def _session_id(db, athlete_id: int, wall: float) -> int:
        day = local_day(wall)
        row = db.execute("SELECT id FROM sessions WHERE athlete_id=? AND day=?",
                         (athlete_id, day)).fetchone()
        if row:
            return row[0]
        return db.execute("INSERT INTO sessions (athlete_id, day, started) VALUES (?, ?, ?)",
                          (athlete_id, day, wall)).lastrowid

    @staticmethod
    def _deleted_since(db, athlete_id: int, start: float) -> bool:
        """Was the athlete's session of that day deleted at or after ``start``?"""
        return db.execute("SELECT 1 FROM deleted_sessions WHERE athlete_id=? AND day=? "
                          "AND deleted_at >= ?", (athlete_id, local_day(start), start)).fetchone() \
            is not None

    def start_set(self, athlete_id: int, exercise: str, start: float,
                  unless_deleted: bool = False) -> Optional[int]:
        """A new instrumented set on the athlete's session of that day; its id.

        With ``unless_deleted``: ``None`` (nothing written) when that session was
        deleted after the set began: the set was part of what the athlete deleted."""
        with self._tx() as db:
            if unless_deleted and self._deleted_since(db, athlete_id, start):
                return None
            session_id = self._session_id(db, athlete_id, start)
            return db.execute("INSERT INTO sets (session_id, exercise, start) VALUES (?, ?, ?)",
                              (session_id, exercise, start)).lastrowid

    def end_set(self, set_id: int, end: float) -> bool:
        """End the set; one without reps is removed instead.  False if it is gone."""
        with self._tx() as db:
            if not db.execute("SELECT 1 FROM reps WHERE set_id=? LIMIT 1", (set_id,)).fetchone():
                self._drop_empty_set(db, set_id)
                return False
            return db.execute('UPDATE sets SET "end"=? WHERE id=?', (end, set_id)).rowcount > 0

    @staticmethod
    def _drop_empty_set(db, set_id: int) -> None:
        row = db.execute("SELECT session_id FROM sets WHERE id=? AND manual=0", (set_id,)).fetchone()
        if row is None:
            return
        db.execute("DELETE FROM sets WHERE id=?", (set_id,))
        db.execute("DELETE FROM sessions WHERE id=? AND NOT EXISTS "
                   "(SELECT 1 FROM sets WHERE session_id=?)", (row[0], row[0]))

    def add_rep(self, set_id: int, rep: dict) -> Optional[int]:
        """Store one rep and its losses in one transaction; times are Unix seconds.
        Numbered after the set's last rep.  ``None`` (nothing written) when the set
        is gone (its session was deleted)."""
        values = (float(rep["start"]), float(rep["end"]), float(rep["depth_deg"]),
                  float(rep["down_s"]), float(rep["up_s"]), 1 if rep.get("clean") else 0)
        losses = self._loss_rows(rep)
        with self._tx() as db:
            if not db.execute("SELECT 1 FROM sets WHERE id=?", (set_id,)).fetchone():
                return None
            number = db.execute("SELECT coalesce(max(rep_index), 0) + 1 FROM reps WHERE set_id=?",
                                (set_id,)).fetchone()[0]
            rep_id = db.execute(
                'INSERT INTO reps (set_id, rep_index, start, "end", depth_deg, down_s, up_s, clean) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (set_id, number) + values).lastrowid
            self._insert_losses(db, rep_id, losses)
            return rep_id

    def update_rep_losses(self, rep_id: int, rep: dict) -> bool:
        """A stored rep's losses and clean flag replaced by ``rep``'s: a set's end
        gives the last rep a loss that came after it.  False if the rep is gone."""
        losses = self._loss_rows(rep)
        with self._tx() as db:
            if db.execute("UPDATE reps SET clean=? WHERE id=?",
                          (1 if rep.get("clean") else 0, rep_id)).rowcount == 0:
                return False
            db.execute("DELETE FROM losses WHERE rep_id=?", (rep_id,))
            self._insert_losses(db, rep_id, losses)
            return True

    @staticmethod
    def _loss_rows(rep: dict) -> list:
        """A rep's losses as the losses table's values (checked before the transaction)."""
        return [(str(l["point"]), float(l["start"]), float(l["duration_s"]))
                for l in rep.get("losses") or ()]

    @staticmethod
    def _insert_losses(db, rep_id: int, losses: list) -> None:
        db.executemany("INSERT INTO losses (rep_id, point, start, duration_s) VALUES (?, ?, ?, ?)",
                       [(rep_id,) + loss for loss in losses])

    def close_unfinished_sets(self) -> int:
        """Sets left open by a crash end at their last rep; one without reps goes."""
        with self._tx() as db:
            for (set_id,) in db.execute('SELECT id FROM sets WHERE "end" IS NULL AND manual = 0 '
                                        "AND id NOT IN (SELECT set_id FROM reps)").fetchall():
                self._drop_empty_set(db, set_id)
            return db.execute(
                'UPDATE sets SET "end" = (SELECT max(r."end") FROM reps r WHERE r.set_id = sets.id) '
                'WHERE "end" IS NULL AND manual = 0').rowcount

    def add_manual_set(self, athlete_id: int, exercise: str, reps: int,
                       weight_kg: Optional[float] = None, wall: Optional[float] = None) -> dict:
        """A kettlebell set logged by hand; :class:`FieldError` names the bad field."""
        exercise, reps, weight_kg = validate_manual_set(exercise, reps, weight_kg)
        wall = time.time() if wall is None else wall
        with self._tx() as db:
            session_id = self._session_id(db, athlete_id, wall)
            set_id = db.execute(
                'INSERT INTO sets (session_id, exercise, start, "end", manual, manual_reps, weight_kg) '
                "VALUES (?, ?, ?, ?, 1, ?, ?)",
                (session_id, exercise, wall, wall, reps, weight_kg)).lastrowid
        return self.get_set(set_id)

    def delete_session(self, session_id: int, now: Optional[float] = None) -> bool:
        """Delete the session with its sets, reps and losses (and remember it was,
        so a set still being recorded cannot bring it back)."""
        now = time.time() if now is None else now
        with self._tx() as db:
            row = db.execute("SELECT athlete_id, day FROM sessions WHERE id=?", (session_id,)).fetchone()
            if row is None:
                return False
            db.execute("INSERT INTO deleted_sessions (session_id, athlete_id, day, deleted_at) "
                       "VALUES (?, ?, ?, ?)", (session_id, row[0], row[1], now))
            db.execute("DELETE FROM sessions WHERE id=?", (session_id,))
            return True
