"""The history writer: the core's set and rep events into the SQLite store.

It listens on the core's event bus (a bounded queue of its own) and writes on
its own thread, so a slow SD card never delays a frame or an alert.  Each rep
is committed as soon as its ``rep_completed`` event arrives; a loss that comes
after a set's last rep is given to that rep when the set ends (as the set card
shows it) and is added to the stored rep then.

When the database cannot be written (disk full, read-only file, any SQLite
error) the writer keeps the events in memory, tells the core
(``core.report_history_problem("history is not being saved: ...")``, shown on
the dashboard), retries every ``retry_s`` and, once a write succeeds again,
stores what it kept and clears the problem (``report_history_problem(None)``).
It never raises into the core.

Deleted means deleted: a set whose session is deleted from the dashboard
while it is being recorded (or while its reps wait in memory) is dropped
whole, with the reps still to come; the store's tombstones tell (see
:mod:`device.history.writes`).  Between sets the writer tells the core how
many sets today's session has (``core.continue_session``), so the live set
number is the one the history shows.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import sqlite3
import threading
import time
from typing import Optional

from device.history.store import Store, StoreError

log = logging.getLogger(__name__)

EVENT_TYPES = ("set_started", "rep_completed", "set_completed")
#: Events kept while the database cannot be written (a day of reps is ~1000).
MAX_PENDING = 20000
#: How often, between sets, the session's set count is looked up for the core
#: (a manual set, a delete or another athlete changes it).
SESSION_SYNC_S = 1.0


@dataclasses.dataclass
class _RunSet:
    """One set of this run (the core's ``set_index``) on its way into the store."""

    start_wall: float
    exercise: str
    athlete_id: int
    set_id: Optional[int] = None          # made with the first rep: no reps, no set
    #: the core's rep numbers stored -> (rep id, its clean flag and losses as stored)
    written: dict = dataclasses.field(default_factory=dict)
    dropped: bool = False                 # its session was deleted while it ran


def _losses_of(row: dict) -> tuple:
    """A rep's clean flag and losses, to compare what is stored with the set card."""
    return (bool(row.get("clean")),
            tuple((l["point"], round(float(l["start"]), 3)) for l in row.get("losses") or ()))


class HistoryWriter:
    """Writes sets and reps from ``core``'s events to ``store``.

    ``athlete_id`` pins the athlete; ``None`` records for the store's current
    athlete, looked up at the start of every set.
    """

    def __init__(self, core, store: Store, athlete_id: Optional[int] = None, *,
                 retry_s: float = 1.0, queue_size: int = 4096):
        self.core = core
        self.store = store
        self.athlete_id = athlete_id
        self.retry_s = retry_s
        self._queue_size = queue_size
        self._sub = None
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._pending: collections.deque = collections.deque()
        self._sets: dict = {}                  # the run's set_index -> _RunSet
        self._sets_told: Optional[int] = None  # the session's set count the core last got
        self._synced_at = 0.0
        self._problem: Optional[str] = None
        self.dropped = 0                       # events given up on (memory bound hit)
        self.reps_written = 0
        #: seconds from each rep's rep_completed (its ``wall``) to its commit
        self.commit_latency_s: collections.deque = collections.deque(maxlen=1000)

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "HistoryWriter":
        if self._thread is not None:
            return self
        self._sub = self.core.subscribe(maxsize=self._queue_size, types=list(EVENT_TYPES))
        self._thread = threading.Thread(target=self._run, name="dowel-history", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Write everything already published, then end the thread."""
        self._stop.set()
        if self._sub is not None:
            # wakes the thread's wait at once; what is queued is still drained
            self._sub.close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._sub = None

    def __enter__(self) -> "HistoryWriter":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def problem(self) -> Optional[str]:
        return self._problem

    # -- the thread ---------------------------------------------------------------
    def _run(self) -> None:
        self.recover()
        while True:
            stopping = self._stop.is_set()
            event = self._sub.get(timeout=0.2) if not stopping else None
            if event is not None:
                self._keep(event)
            if stopping:
                for event in self._sub.drain():
                    self._keep(event)
            if self._pending and not self._flush() and not stopping:
                self._stop.wait(self.retry_s)    # the database is failing: retry later
            elif not stopping:
                self._sync_session()
            if stopping:
                if self._pending:               # last attempt failed: say what is lost
                    log.error("history: %d events not saved at shutdown (%s)",
                              len(self._pending), self._problem)
                return

    def recover(self) -> None:
        """At start: end the sets a crash or a power cut left open."""
        try:
            self.store.close_unfinished_sets()
        except (sqlite3.Error, StoreError, OSError) as exc:
            self._report(exc)
        self._sync_session(force=True)

    def handle(self, event: dict) -> bool:
        """Take one event and write what is pending, on the caller's thread (the
        thread does the same); False if the database failed (the events stay)."""
        self._keep(event)
        return self._flush()

    def _keep(self, event: dict) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._pending.popleft()
            self.dropped += 1
        self._pending.append(event)

    def _flush(self) -> bool:
        """Write pending events in order; False if the database failed (they stay)."""
        while self._pending:
            event = self._pending[0]
            try:
                self._write(event)
            except (sqlite3.IntegrityError, KeyError, TypeError, ValueError):
                # this event can never be stored (malformed): log it and go on,
                # rather than retrying it for ever in front of the good ones
                log.exception("history: cannot store event %r", event.get("type"))
                self._pending.popleft()
                continue
            except (sqlite3.Error, StoreError, OSError) as exc:
                self._report(exc)               # disk full, read-only, I/O: retry later
                return False
            self._pending.popleft()
            if self._problem is not None:
                self._problem = None
                self._tell_core(None)
        return True

    def _report(self, exc: Exception) -> None:
        message = f"history is not being saved: {exc}"
        if message != self._problem:
            log.warning("%s", message)
            self._problem = message
            self._tell_core(message)

    def _tell_core(self, message: Optional[str]) -> None:
        try:
            self.core.report_history_problem(message)
        except Exception:
            log.exception("history: core.report_history_problem failed")

    # -- event -> rows ------------------------------------------------------------
    def _wall(self, event: dict, t: float) -> float:
        """Unix time of core time ``t``, anchored on the event's own ``wall``."""
        wall = event.get("wall")
        if wall is None:                        # a replayed event: now is the best we have
            wall = event.setdefault("wall", time.time())
        speed = getattr(getattr(self.core, "clock", None), "speed", 1.0) or 1.0
        return float(wall) - (float(event.get("t", t)) - float(t)) / speed

    def _athlete(self) -> int:
        return self.athlete_id if self.athlete_id is not None else self.store.current_athlete_id()

    def _exercise(self, event: dict) -> str:
        if event.get("exercise"):
            return str(event["exercise"])
        settings = getattr(self.core, "settings", None)
        return getattr(settings, "exercise", None) or "standing_3point"

    def _run_set(self, event: dict, start_t: float) -> _RunSet:
        index = event.get("set_index")
        run_set = self._sets.get(index)
        if run_set is None:
            # set_started was missed (the writer started mid-set, or it was dropped)
            run_set = _RunSet(self._wall(event, start_t), self._exercise(event), self._athlete())
            self._sets[index] = run_set
        return run_set

    def _rep_row(self, event: dict, rep: dict) -> dict:
        row = dict(rep)
        row["start"] = self._wall(event, rep["start"])
        row["end"] = self._wall(event, rep["end"])
        row["losses"] = [dict(l, start=self._wall(event, l["start"])) for l in rep.get("losses") or ()]
        float(rep["depth_deg"]), float(rep["down_s"]), float(rep["up_s"])
        return row

    def _store_rep(self, run_set: _RunSet, number: int, row: dict) -> None:
        """One rep of ``run_set`` (the core's rep ``number``) into the store, once."""
        if run_set.dropped or number in run_set.written:
            return                              # dropped with its session, or a retry
        if run_set.set_id is None:
            run_set.set_id = self.store.start_set(run_set.athlete_id, run_set.exercise,
                                                  run_set.start_wall, unless_deleted=True)
        rep_id = None if run_set.set_id is None else self.store.add_rep(run_set.set_id, row)
        if rep_id is None:
            run_set.dropped = True              # its session was deleted while it ran
            log.info("history: a set of a deleted session is not stored")
            return
        run_set.written[number] = (rep_id, _losses_of(row))
        self.reps_written += 1

    def _update_rep(self, run_set: _RunSet, number: int, row: dict) -> None:
        """The set's end gave stored rep ``number`` more losses (one after the last
        rep belongs to it): the history keeps what the set card shows."""
        rep_id, stored = run_set.written[number]
        if run_set.dropped or _losses_of(row) == stored:
            return
        if self.store.update_rep_losses(rep_id, row):
            run_set.written[number] = (rep_id, _losses_of(row))

    def _write(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "set_started":
            start_t = event.get("start", event.get("t"))
            self._sets[event.get("set_index")] = _RunSet(
                self._wall(event, start_t), self._exercise(event), self._athlete())
        elif kind == "rep_completed":
            rep = event["rep"] if isinstance(event.get("rep"), dict) else event
            row = self._rep_row(event, rep)     # a malformed rep fails here, before any write
            run_set = self._run_set(event, rep["start"])
            number = int(event.get("rep_index") or len(run_set.written) + 1)
            self._store_rep(run_set, number, row)
            if "wall" in event and number in run_set.written:
                self.commit_latency_s.append(time.time() - float(event["wall"]))
        elif kind == "set_completed":
            self._complete(event)

    def _complete(self, event: dict) -> None:
        the_set = event.get("set") or {}
        reps = the_set.get("reps") or []
        start_t = the_set.get("start", reps[0]["start"] if reps else event.get("t"))
        run_set = self._run_set(event, start_t)
        # reps whose rep_completed never reached us (dropped) are taken from the set
        for number, rep in enumerate(reps, 1):
            row = self._rep_row(event, rep)
            if number in run_set.written:
                self._update_rep(run_set, number, row)
            else:
                self._store_rep(run_set, number, row)
        if run_set.set_id is not None and not run_set.dropped:
            self.store.end_set(run_set.set_id, self._wall(event, the_set.get("end", event.get("t"))))
        self._sets.pop(event.get("set_index"), None)
        self._sync_session(force=True)

    # -- set numbers --------------------------------------------------------------
    def _sync_session(self, force: bool = False) -> None:
        """Between sets, tell the core how many sets today's session has, so its
        next set gets the number the history will show."""
        tell = getattr(self.core, "continue_session", None)
        if tell is None or any(not s.dropped for s in self._sets.values()):
            return                              # a set is under way: its number is given
        now = time.monotonic()
        if not force and now - self._synced_at < SESSION_SYNC_S:
            return
        self._synced_at = now
        try:
            count = self.store.sets_today(self.athlete_id)
        except (sqlite3.Error, StoreError, OSError):
            return                              # reported by the writes; try again later
        if count != self._sets_told:
            self._sets_told = count
            try:
                tell(count)
            except Exception:
                log.exception("history: core.continue_session failed")
