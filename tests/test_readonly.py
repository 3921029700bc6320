"""A data directory the device cannot write: a good database is read, the device
runs and says history is read-only; ``--no-history`` writes nothing at all.
And what ``dowel history`` prints cannot drive the terminal.

Permissions do not stop root, so when the tests run as root the commands run
as the unprivileged user 65534 ("nobody"), for whom a 0555 directory is
read-only as it is on a Pi whose SD card went read-only.
"""
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from device.analysis.frames import Frame
from device.history.store import Store
from device.hw.constants import fsr_volts
from device.sim.trace import write_trace

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_790_000_000.0
NOBODY = 65534


def unprivileged(cmd, data_dir, timeout=120):
    # setpriv (util-linux) rather than subprocess's user=: the interpreter may live
    # where "nobody" cannot look, and setpriv keeps the right to read it
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] \
        if os.geteuid() == 0 else []
    return subprocess.run([*drop, sys.executable, "-m", "device.cli", *map(str, cmd)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, DOWEL_DATA_DIR=str(data_dir), HOME=str(data_dir)))


@pytest.fixture
def place():
    """A directory others can enter (pytest's tmp dirs are private to their owner)."""
    top = Path(tempfile.mkdtemp(prefix="dowel-ro-"))
    top.chmod(0o755)
    yield top
    for path in [top, *top.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    import shutil

    shutil.rmtree(top)


def held_trace(path: Path) -> Path:
    volts = (fsr_volts(3.0), fsr_volts(4.0), fsr_volts(2.5), 1.67)
    write_trace(path, (Frame(i / 100.0, *volts) for i in range(150)))
    path.chmod(0o644)
    return path


def good_history(data: Path) -> Path:
    data.mkdir()
    with Store(data / "history.db") as store:
        set_id = store.start_set(store.current_athlete_id(), "standing_3point", T0)
        store.add_rep(set_id, {"start": T0 + 1, "end": T0 + 4, "depth_deg": 41.0, "down_s": 1.5,
                               "up_s": 1.2, "clean": True, "losses": []})
        store.end_set(set_id, T0 + 10)
    for path in data.iterdir():
        path.chmod(0o444)
    data.chmod(0o555)
    return data / "history.db"


def snapshot(directory: Path) -> dict:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


@pytest.mark.slow  # starts a dowel subprocess
def test_a_good_database_in_a_read_only_directory_is_read_and_the_device_runs(place):
    # issue: refused with "not a readable SQLite database"
    db = good_history(place / "data")
    before = snapshot(db.parent)
    trace = held_trace(place / "short.csv")
    result = unprivileged(["run", "--mock", "--no-web", "--quiet", "--speed", "4", "--trace", trace],
                          db.parent)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "history is read-only" in result.stderr
    assert snapshot(db.parent) == before                # nothing written, nothing created
    shown = unprivileged(["history"], db.parent)
    assert shown.returncode == 0, shown.stderr
    assert "1 session, 1 set, 1 dowel rep" in shown.stdout


@pytest.mark.slow  # starts a dowel subprocess
def test_no_history_never_writes(place):
    # issue: with --no-history, a traceback creating the token
    data = place / "data"
    data.mkdir()
    data.chmod(0o555)
    trace = held_trace(place / "short.csv")
    result = unprivileged(["run", "--mock", "--no-history", "--no-web", "--quiet", "--speed", "4",
                           "--trace", trace], data)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert list(data.iterdir()) == []


def test_the_status_says_history_is_read_only(tmp_path, monkeypatch):
    import argparse

    from device.cli import run
    from device.history import database
    from tests.conftest import FakeCore

    db = tmp_path / "history.db"
    Store(db).close()
    monkeypatch.setattr(database, "_writable", lambda path: False)   # what a read-only card says
    core = FakeCore()
    problems = []
    core.report_history_problem = problems.append
    device = run.Device(core=core, data_dir=tmp_path)
    assert run._open_history(argparse.Namespace(no_history=False, db=str(db)), device) is None
    assert device.store.readonly and device.writer is None
    assert problems and problems[0].startswith("history is read-only")
    device.store.close()


@pytest.mark.slow  # starts a dowel subprocess
def test_dowel_history_escapes_control_characters_in_names(tmp_path):
    # issue: an athlete name with NUL and terminal escapes was printed raw
    db = tmp_path / "history.db"
    Store(db).close()
    raw = sqlite3.connect(db)
    raw.execute("UPDATE athletes SET name=? WHERE id=1", ("Bob\x00\x1b[2J\x1b]0;owned\x07\x9b",))
    raw.commit()
    raw.close()
    result = subprocess.run([sys.executable, "-m", "device.cli", "history", "--db", str(db)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x00" not in result.stdout and "\x9b" not in result.stdout
    assert r"Athlete: Bob\x00\x1b[2J\x1b]0;owned\x07\x9b" in result.stdout
    wrong = subprocess.run([sys.executable, "-m", "device.cli", "history", "--db", str(db),
                            "--athlete", "x\x1b[31m"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "\x1b" not in wrong.stderr
