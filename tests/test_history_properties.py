"""Deleted means deleted, checked against a model (Hypothesis).

Random interleavings of what happens to the history on a training day: reps,
sets that end (some without reps), deletes of today's session from the
dashboard, a database that fails for a while (reps wait in the writer),
restarts, and kill -9 (the writer and its connections abandoned mid-way, what
it still held lost).  After each run the store must hold exactly what the
model says:

- a set is kept only if it has at least one rep that reached the disk, and
  only if it began after the last delete of its session: nothing that was
  deleted comes back, even from reps that were still waiting in memory;
- reps are numbered 1..n in each set and sets 1..m in each session;
- no id (session, set, rep) is ever handed out twice.
"""
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, rule

from device.history.store import Store
from device.runtime.writer import HistoryWriter

WALL0 = 1_790_000_000.0 + 10 * 3600      # 10:00 local-ish: a run never crosses midnight here


class FailingStore(Store):
    """A store whose writes by the history writer fail while ``failing`` (a full or
    failing disk); the dashboard's delete still works."""

    failing = False

    def _check(self):
        if self.failing:
            raise sqlite3.OperationalError("database or disk is full")

    def start_set(self, *a, **kw):
        self._check()
        return super().start_set(*a, **kw)

    def add_rep(self, *a, **kw):
        self._check()
        return super().add_rep(*a, **kw)

    def end_set(self, *a, **kw):
        self._check()
        return super().end_set(*a, **kw)


class FakeClock:
    speed = 1.0


class FakeCore:
    clock = FakeClock()

    class settings:
        exercise = "standing_3point"

    def report_history_problem(self, message):
        pass


class Day:
    """The system under test (store + writer, driven on this thread) and the model."""

    def __init__(self, path: Path):
        self.path = path
        self.now = WALL0
        self.failing = False
        self._open()
        # the model
        self.sets = []            # every set begun: {"start", "end", "reps": [durable rep starts]}
        self.pending = []         # (set, event) kept by the writer, not yet on disk
        self.last_delete = None   # wall time of the last effective delete
        self.open = None          # the set under way in this run
        self.index = 0            # the run's set_index
        self.seen_ids = {"sessions": set(), "sets": set(), "reps": set()}
        self.gone_ids = {"sessions": set(), "sets": set(), "reps": set()}

    def _open(self):
        self.store = FailingStore(self.path)
        # kill -9 ends the process, not the machine: what SQLite wrote survives
        # without fsync, and the test runs many times faster
        self.store._pragma_all("PRAGMA synchronous=OFF")
        self.store.failing = self.failing
        self.writer = HistoryWriter(FakeCore(), self.store)
        self.writer.recover()

    # -- what happens ------------------------------------------------------------
    def _event(self, the_set, event, model=None):
        """Deliver ``event`` to the writer; ``model`` is what it means in walls."""
        self.now += 1.0
        event.update(t=self.now - WALL0, wall=self.now)
        self.pending.append((the_set, model or event))
        if self.writer.handle(event):
            self._durable()
        self._check_ids()

    def _durable(self):
        for the_set, event in self.pending:
            if event["type"] == "rep_completed":
                the_set["reps"].append(event["rep"]["start"])
                the_set["last_end"] = event["rep"]["end"]
            elif event["type"] == "set_completed":
                the_set["end"] = event["set"]["end"]
        self.pending = []

    def start_set(self):
        if self.open is not None:
            return
        self.index += 1
        self.open = {"start": self.now + 1.0, "end": None, "last_end": None, "reps": [], "emitted": []}
        self.sets.append(self.open)
        self._event(self.open, {"type": "set_started", "set_index": self.index,
                                "start": self.open["start"] - WALL0, "exercise": "standing_3point"})

    def rep(self):
        self.start_set()
        start = self.now + 0.5
        rep = {"start": start - WALL0, "end": start + 0.4 - WALL0, "depth_deg": 40.0, "down_s": 0.2,
               "up_s": 0.2, "clean": True, "losses": []}
        self.open["emitted"].append(rep)
        # the model keeps walls: the writer turns core times into walls the same way
        self._event(self.open, {"type": "rep_completed", "set_index": self.index,
                                "rep_index": len(self.open["emitted"]), "rep": dict(rep)},
                    {"type": "rep_completed", "rep": {"start": start, "end": start + 0.4}})

    def end_set(self):
        if self.open is None:
            return
        the_set, self.open = self.open, None
        reps = the_set["emitted"]
        end = self.now + 1.0
        self._event(the_set, {"type": "set_completed", "set_index": self.index,
                              "discarded": not reps, "exercise": "standing_3point",
                              "set": {"start": the_set["start"] - WALL0, "end": end - WALL0,
                                      "reps": [dict(r) for r in reps]}},
                    {"type": "set_completed", "set": {"end": end}})

    def delete_today(self):
        self.now += 1.0
        sessions, _ = self.store.list_sessions()
        model_has_one = any(self._kept(s) for s in self.sets)
        assert bool(sessions) == model_has_one, "the dashboard sees a session the model does not"
        if sessions:
            assert self.store.delete_session(sessions[0]["id"], now=self.now)
            self.last_delete = self.now
        self._check_ids()

    def toggle_failing(self):
        self.failing = not self.failing
        self.store.failing = self.failing
        if not self.failing and self.writer._flush():     # the writer's retry
            self._durable()

    def restart(self):
        """Ctrl-C / systemctl restart: the core ends the set, the writer flushes and stops."""
        self.end_set()
        if self.pending and self.writer._flush():
            self._durable()
        self.pending = []                 # the writer logs what it could not save, and stops
        self.store.close()
        self._new_run()

    def kill(self):
        """kill -9: nothing more is written; the writer and connections are abandoned."""
        self.pending = []
        self.open = None
        self._new_run()

    def _new_run(self):
        self.index = 0
        self.open = None
        self._open()
        for the_set in self.sets:         # a set a crash left open ends at its last rep
            if the_set["end"] is None and the_set["reps"]:
                the_set["end"] = the_set["last_end"]

    # -- what must hold -------------------------------------------------------------
    def _kept(self, the_set) -> bool:
        return bool(the_set["reps"]) and (self.last_delete is None or the_set["start"] > self.last_delete)

    def _check_ids(self):
        db = sqlite3.connect(self.path)
        try:
            for table in self.seen_ids:
                ids = {r[0] for r in db.execute(f"SELECT id FROM {table}")}
                seen, gone = self.seen_ids[table], self.gone_ids[table]
                assert not (ids & gone), f"a deleted {table} id was handed out again"
                new = ids - seen
                if new and seen:
                    assert min(new) > max(seen), table
                gone |= seen - ids
                seen |= ids
        finally:
            db.close()

    def check(self):
        self.store.failing = False
        if self.pending and self.writer._flush():
            self._durable()
        kept = [s for s in self.sets if self._kept(s)]
        sessions, total = self.store.list_sessions(limit=500)
        stored = [st for session in reversed(sessions) for st in self.store.get_session(session["id"])["sets"]]
        assert len(sessions) == (1 if kept else 0)
        assert [[r["start"] for r in st["reps"]] for st in stored] == [s["reps"] for s in kept]
        for st in stored:
            assert [r["rep_index"] for r in st["reps"]] == list(range(1, len(st["reps"]) + 1))
        assert [st["number"] for st in stored] == list(range(1, len(stored) + 1))
        for st, s in zip(stored, kept):
            if s["end"] is not None:
                assert st["end"] == s["end"]
        self._check_ids()


class History(RuleBasedStateMachine):
    """Hypothesis picks the next thing that happens, step after step."""

    def __init__(self):
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory()
        self.day = Day(Path(self._tmp.name) / "history.db")

    @rule()
    def rep(self):
        self.day.rep()

    @rule()
    def start_set(self):
        self.day.start_set()

    @rule()
    def end_set(self):
        self.day.end_set()

    @rule()
    def next_set(self):
        """The dowel comes off and goes back on: one set ends, the next begins."""
        self.day.end_set()
        self.day.start_set()

    @rule()
    def delete_today(self):
        self.day.delete_today()

    @rule()
    def toggle_failing(self):
        self.day.toggle_failing()

    @rule()
    def restart(self):
        self.day.restart()

    @rule()
    def kill(self):
        self.day.kill()

    def teardown(self):
        try:
            self.day.restart()
            self.day.check()
        finally:
            self.day.store.close()
            self._tmp.cleanup()


# Hundreds of random histories: a long simulation, so `slow`.
TestTheStoreHoldsWhatTheModelSays = pytest.mark.slow(History.TestCase)
TestTheStoreHoldsWhatTheModelSays.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])


def test_a_delete_while_reps_wait_in_memory_drops_them():
    """Spelled out: a set's reps wait in memory (disk full), the session is deleted
    (which frees space), the writer retries: none of them comes back, nor the
    rep after; the next set is set 1 of a new session."""
    with tempfile.TemporaryDirectory() as tmp:
        day = Day(Path(tmp) / "history.db")
        for op in ["rep", "end_set", "toggle_failing", "rep", "rep", "delete_today", "toggle_failing",
                   "rep", "end_set", "rep", "end_set"]:
            getattr(day, op)()
        day.check()
        (session,), _ = day.store.list_sessions()
        (the_set,) = day.store.get_session(session["id"])["sets"]
        assert len(the_set["reps"]) == 1 and the_set["number"] == 1
        day.store.close()
