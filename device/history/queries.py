"""What the history answers: sessions, sets, reps, for the page, export and trends.

Reads only; the multi-query ones run in one read transaction (one consistent
state while the history writer commits reps).  Set numbers are per session,
1, 2, 3... in time order, the same wherever a set is shown.
"""
from __future__ import annotations

import time
from typing import Optional

from device.history.database import consistent
from device.history.manual import FieldError
from device.history.writes import local_day

MAX_PAGE_SIZE = 500


class Queries:
    """The reading half of :class:`device.history.store.Store` (a mixin over
    :class:`device.history.database.Database`)."""

    # -- athletes ------------------------------------------------------------------
    def athletes(self) -> list:
        rows = self._query("SELECT id, name, created FROM athletes ORDER BY id")
        current = self.current_athlete_id()
        return [dict(r, current=r["id"] == current) for r in rows]

    def get_athlete(self, athlete_id: int) -> Optional[dict]:
        rows = self._query("SELECT id, name, created FROM athletes WHERE id=?", (athlete_id,))
        return dict(rows[0]) if rows else None

    def has_set(self, set_id: int) -> bool:
        return bool(self._query("SELECT 1 FROM sets WHERE id=?", (set_id,)))

    def sets_today(self, athlete_id: Optional[int] = None, now: Optional[float] = None) -> int:
        """Sets in the athlete's session of today (manual ones included): the next
        set is number this + 1."""
        athlete_id = self.current_athlete_id() if athlete_id is None else athlete_id
        day = local_day(time.time() if now is None else now)
        return self._query("SELECT count(*) FROM sets st JOIN sessions s ON s.id = st.session_id "
                           "WHERE s.athlete_id=? AND s.day=?", (athlete_id, day))[0][0]

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

    @consistent
    def list_sessions(self, athlete_id: Optional[int] = None, limit: int = 20,
                      offset: int = 0) -> tuple:
        """(sessions newest first, total count), each a summary without sets."""
        limit, offset = _page(limit, offset)
        where, params = ("WHERE s.athlete_id=?", (athlete_id,)) if athlete_id is not None else ("", ())
        total = self._query(f"SELECT count(*) FROM sessions s {where}", params)[0][0]
        rows = self._query(f"{self._SESSION_SUMMARY} {where} ORDER BY s.day DESC, s.id DESC "
                           f"LIMIT ? OFFSET ?", params + (limit, offset))
        return [self._summary(r) for r in rows], total

    @consistent
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

    @consistent
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

    @consistent
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

    @consistent
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
