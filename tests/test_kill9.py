"""kill -9 in the middle of a set: the database is intact and every finished rep is in it.

Two runs: the real ``dowel run --mock --trace ... --no-web --db PATH`` process
and a small process with the
real DowelCore and HistoryWriter on the sample trace.
Both print each rep as its ``rep_completed`` happens; the test kills the
process with SIGKILL mid-set and compares the database with what was printed.
"""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from device.history.store import Store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = Path(__file__).parent / "data" / "sloppy-two-sets.csv"
# Sped up, but to a pace a loaded machine keeps: the writer's frames at 50/s x 10
# (500 a real second), the emulated chip's at 4x.  Faster, a busy machine read the
# trace so sparsely that set 2 never had its six reps.
SPEED = 10.0
RUN_SPEED = 4.0
TIMEOUT_S = 120.0

SET_LINE = re.compile(r"\] set (\d+) started")
REP_LINE = re.compile(r"\] rep (\d+): depth (-?\d+) deg")

WRITER_SCRIPT = textwrap.dedent("""
    # DowelCore + HistoryWriter on the sample trace, without the mock-mode source
    # modules: a tiny ADC plays the trace by the core's (sped-up) clock.
    import sys
    import numpy as np
    from device.hw.alerts import Alerts
    from device.hw.mock.factory import mock_pin_factory
    from device.cli.status_line import event_line as _event_line
    from device.runtime.clock import ScaledClock
    from device.analysis.settings import Settings
    from device.runtime.core import DowelCore
    from device.runtime.writer import HistoryWriter
    from device.history.store import Store

    class TraceAdc:
        def __init__(self, path, clock):
            self.data, self.clock, self.finished = np.loadtxt(path, delimiter=",", skiprows=1), clock, False
        def read_frame(self):
            i = int(np.searchsorted(self.data[:, 0], self.clock.now()))
            if i >= len(self.data) - 1:
                self.finished, i = True, len(self.data) - 1
            return tuple(float(v) for v in self.data[i, 1:5])

    clock = ScaledClock(float(sys.argv[3]))
    adc = TraceAdc(sys.argv[2], clock)
    core = DowelCore(lambda settings: adc, Settings(), Alerts(mock_pin_factory()), clock=clock,
                     source=adc, rate_hz=50.0)
    writer = HistoryWriter(core, Store(sys.argv[1])).start()
    sub = core.subscribe(maxsize=1024)
    core.start()
    while not core.finished.is_set():
        event = sub.get(timeout=0.2)
        line = _event_line(event) if event else None
        if line:
            print(line, flush=True)
    core.stop()
    writer.stop()
""")


def stored_reps(db_path) -> int:
    """Reps committed so far, read the way the dashboard does while the device writes."""
    try:
        db = sqlite3.connect(f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0
    try:
        return db.execute("SELECT count(*) FROM reps").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        db.close()


def run_and_kill(cmd, env, db_path, kill_in_set=2, kill_after_reps=4):
    """Start ``cmd``, read its event lines, SIGKILL it mid-set once the database
    holds every rep printed so far (each rep is committed on its own, the set
    still running; waiting for that, not for a time, suits a loaded machine whose
    disk can take a while to sync).

    Returns ([(set_number, depth_deg_rounded, read_at)], killed_at); reps still in
    the pipe at the kill have ``read_at`` = inf."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env, start_new_session=True)
    reps, lines = [], []
    current_set = 0
    killed_at = None
    deadline = time.monotonic() + TIMEOUT_S
    # the timer guards against a process that prints nothing at all
    guard = threading.Timer(TIMEOUT_S, proc.kill)
    guard.start()
    try:
        for line in proc.stdout:
            now = time.monotonic()
            lines.append(line)
            m = SET_LINE.search(line)
            if m:
                current_set = int(m.group(1))
            m = REP_LINE.search(line)
            if m:
                reps.append((current_set, int(m.group(2)), now))
                in_set = [r for r in reps if r[0] == kill_in_set]
                if len(in_set) >= kill_after_reps:
                    while stored_reps(db_path) < len(reps) and time.monotonic() < deadline:
                        time.sleep(0.01)
                    killed_at = time.monotonic()
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            if time.monotonic() > deadline:
                break
    finally:
        guard.cancel()
        proc.kill()
        proc.wait(10)
        # lines the process wrote before it died but we had not read yet
        for line in proc.stdout.read().splitlines():
            m = SET_LINE.search(line)
            if m:
                current_set = int(m.group(1))
            m = REP_LINE.search(line)
            if m:
                reps.append((current_set, int(m.group(2)), float("inf")))
        err = proc.stderr.read()
    assert killed_at is not None, f"never reached set {kill_in_set}:\n{''.join(lines)}\n{err}"
    assert proc.returncode == -signal.SIGKILL
    return reps, killed_at


def check_database(db_path, printed, killed_at):
    # a fresh connection: recovers the WAL exactly as the next start would
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute('SELECT st.id, r.depth_deg FROM reps r JOIN sets st ON st.id = r.set_id '
                          "ORDER BY st.start, r.rep_index").fetchall()
        open_sets = db.execute('SELECT count(*) FROM sets WHERE "end" IS NULL').fetchone()[0]
    finally:
        db.close()
    set_ids = list(dict.fromkeys(r[0] for r in rows))
    stored = [(set_ids.index(sid) + 1, round(depth)) for sid, depth in rows]
    # seen committed before the kill: still there after it
    must_have = [(s, d) for s, d, at in printed if at <= killed_at]
    story = f"stored {stored}\nprinted {[(s, d, round(killed_at - at, 2)) for s, d, at in printed]}"
    assert all(at == float("inf") or at <= killed_at for s, d, at in printed)
    # reps of the running set are among them: each rep is committed on its own
    assert any(s == 2 for s, d in must_have), story
    assert stored[:len(must_have)] == must_have, story
    # nothing invented: at most the reps printed plus one committed but not yet printed
    assert len(stored) <= len(printed) + 1, story
    assert stored[:len(printed)] == [(s, d) for s, d, at in printed][:len(stored)], story
    assert open_sets == 1, story                        # the set that was running
    with Store(db_path) as store:                       # and the device starts again on it
        assert store.close_unfinished_sets() == 1
        assert store.integrity_check() == "ok"
    return stored


def test_kill9_history_writer_process(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT)
    db_path = tmp_path / "history.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    printed, killed_at = run_and_kill([sys.executable, str(script), str(db_path), str(SAMPLE),
                                       str(SPEED)], env, db_path)
    check_database(db_path, printed, killed_at)


def test_kill9_dowel_run(tmp_path):
    db_path = tmp_path / "history.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", DOWEL_DATA_DIR=str(tmp_path))
    cmd = [sys.executable, "-m", "device.cli", "run", "--mock", "--trace", str(SAMPLE),
           "--speed", str(RUN_SPEED), "--no-web", "--db", str(db_path), "--data-dir", str(tmp_path)]
    printed, killed_at = run_and_kill(cmd, env, db_path)
    check_database(db_path, printed, killed_at)
