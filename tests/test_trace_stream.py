"""Traces are streamed: row by row in bounded memory, a BOM accepted, an over-long
field and a time jump named with file and line (exit 2), ``--loop`` still loops."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from device.analysis.frames import Frame
from device.hw.constants import fsr_volts
from device.sim.sources import TraceFileSource, TraceSource
from device.sim.trace import MAX_GAP_S, TraceError, read_trace, write_trace

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "sloppy-two-sets.csv"
HEADER = "t,head,upper_back,sacrum,tilt\n"
ROW = "0.0,0.1,0.2,0.3,1.65\n"


def dowel(*args, data_dir, timeout=120):
    return subprocess.run([sys.executable, "-m", "device.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, DOWEL_DATA_DIR=str(data_dir)))


def held_trace(path: Path, seconds: float = 1.5, rate_hz: float = 100.0) -> Path:
    volts = (fsr_volts(3.0), fsr_volts(4.0), fsr_volts(2.5), 1.67)
    write_trace(path, (Frame(i / rate_hz, *volts) for i in range(int(seconds * rate_hz))))
    return path


def test_a_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + ROW).encode())
    assert read_trace(path) == [Frame(0.0, 0.1, 0.2, 0.3, 1.65)]


@pytest.mark.parametrize("body,line,field", [
    (ROW + "0.01," + "1" * 131_073 + ",0.2,0.3,1.65\n", 3, None),     # over csv's own limit
    (ROW + "0.01," + "1" * 100 + ",0.2,0.3,1.65\n", 3, "head"),
    (ROW + "1e300,0.1,0.2,0.3,1.65\n", 3, "t"),
    (ROW + f"{MAX_GAP_S + 0.5},0.1,0.2,0.3,1.65\n", 3, "t"),
    ("1e300,0.1,0.2,0.3,1.65\n", 2, "t"),
])
def test_bad_rows_name_file_line_and_field(tmp_path, body, line, field):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + body)
    with pytest.raises(TraceError) as err:
        read_trace(path)
    assert (err.value.line, err.value.field) == (line, field)
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_a_file_without_newlines_is_refused_without_reading_it_whole(tmp_path):
    path = tmp_path / "one-line.csv"
    path.write_text(HEADER + "0" * 10_000_000)
    with pytest.raises(TraceError) as err:
        read_trace(path)
    assert err.value.line == 2 and "line over" in err.value.message


@pytest.mark.slow  # starts a dowel subprocess
@pytest.mark.parametrize("command", ["replay", "run"])
@pytest.mark.parametrize("bad", ["1e300,0.1,0.2,0.3,1.65\n", "0.5," + "9" * 200_000 + ",0.2,0.3,1.65\n"])
def test_replay_and_run_trace_exit_2_on_a_bad_row_far_into_the_file(tmp_path, command, bad):
    # issue: a field over 131,072 characters was a traceback; a jump of 1e300 s made
    # `run --trace` wait for ever
    path = held_trace(tmp_path / "t.csv")
    with open(path, "a") as f:
        f.write(bad)
    lines = path.read_text().count("\n")
    args = ("replay", path) if command == "replay" else \
        ("run", "--mock", "--no-web", "--no-history", "--quiet", "--speed", "4", "--trace", path)
    result = dowel(*args, data_dir=tmp_path, timeout=90)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}:{lines}: " in result.stderr


def test_the_streamed_source_plays_like_the_whole_trace():
    whole = TraceSource(read_trace(SAMPLE))
    streamed = TraceFileSource(SAMPLE)
    ts = [i * 0.0137 for i in range(int(whole.duration_s / 0.0137) + 40)]
    assert [streamed.voltages(t) for t in ts] == [whole.voltages(t) for t in ts]
    assert streamed.finished and whole.finished and streamed.error is None


def test_a_looping_streamed_source_starts_over(tmp_path):
    path = held_trace(tmp_path / "loop.csv", seconds=0.5)
    with open(path, "a") as f:
        f.write("0.5,0.0,0.0,0.0,1.0\n")              # the last frame differs
    whole = TraceSource(read_trace(path), loop=True)
    streamed = TraceFileSource(path, loop=True)
    ts = [i * 0.0071 for i in range(1000)]           # about 14 passes
    assert [streamed.voltages(t) for t in ts] == [whole.voltages(t) for t in ts]
    assert not streamed.finished


def test_a_bad_row_mid_play_ends_the_play_with_the_error(tmp_path):
    path = held_trace(tmp_path / "t.csv", seconds=30)      # more rows than are read ahead
    with open(path, "a") as f:
        f.write("29.99,x,0.2,0.3,1.65\n")
    source = TraceFileSource(path)
    t = 0.0
    while not source.finished and t < 60:
        source.voltages(t)
        t += 0.01
    assert source.error is not None and source.error.field == "head"
    assert t < 31


@pytest.mark.slow  # starts a dowel subprocess
def test_run_trace_loop_still_loops(tmp_path):
    path = held_trace(tmp_path / "short.csv", seconds=0.5)
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--mock", "--no-web", "--no-history",
                             "--quiet", "--trace", str(path), "--loop", "--speed", "4"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, DOWEL_DATA_DIR=str(tmp_path)))
    try:
        started = proc.stdout.readline()          # "Reading from: ..." once it runs
        assert "Reading from" in started
        # a 0.5 s trace at 4x is over in an eighth of a second: still running means it loops
        time.sleep(3.0)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Stopped." in out


# -- memory ------------------------------------------------------------------------------
def make_big_trace(path: Path, target_bytes: int) -> int:
    """The sample session repeated (times running on) up to ``target_bytes``; rows."""
    frames = read_trace(SAMPLE)
    period = frames[1].t - frames[0].t
    span = frames[-1].t - frames[0].t + period
    rows = [(f.t - frames[0].t, f"{f.head:.4f},{f.upper_back:.4f},{f.sacrum:.4f},{f.tilt:.4f}\n")
            for f in frames]
    written = count = k = 0
    with open(path, "w") as out:
        out.write(HEADER)
        while written < target_bytes:
            block = "".join(f"{k * span + t:.5f},{r}" for t, r in rows)
            out.write(block)
            written += len(block)
            count += len(rows)
            k += 1
    return count


#: Runs the command in a fresh process (so RUSAGE_CHILDREN sees only it), lets it
#: work for CPU_S seconds of CPU (or to its end), stops it and prints its peak RSS.
PEAK_RSS = textwrap.dedent("""
    import resource, signal, subprocess, sys, time
    cpu_s = float(sys.argv[1])
    proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tick = __import__("os").sysconf("SC_CLK_TCK")
    while proc.poll() is None:
        try:
            fields = open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            break
        if (int(fields[11]) + int(fields[12])) / tick >= cpu_s:
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.2)
    err = proc.communicate()[1]
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, proc.returncode)
    sys.stderr.write(err.decode(errors="replace")[-2000:])
""")


@pytest.mark.slow
def test_a_200_mb_trace_plays_in_under_100_mb_resident(tmp_path):
    # issue: 1.41 GB resident in `dowel replay`, 1.74 GB in `dowel run --trace`
    big = tmp_path / "big.csv"
    rows = make_big_trace(big, 200_000_000)
    assert big.stat().st_size >= 200_000_000 and rows > 5_000_000
    cli = [sys.executable, "-m", "device.cli"]
    for args in (["replay", str(big)],
                 ["run", "--mock", "--no-web", "--no-history", "--quiet", "--speed", "20", "--trace", str(big)]):
        # 15 s of CPU: the old reader had read most of the file into memory by then
        result = subprocess.run([sys.executable, "-c", PEAK_RSS, "15", *cli, *args], cwd=ROOT,
                                capture_output=True, text=True, timeout=900,
                                env=dict(os.environ, DOWEL_DATA_DIR=str(tmp_path)))
        peak_kb, code = map(int, result.stdout.split())
        assert code in (0, -signal.SIGTERM), result.stderr
        assert peak_kb < 100 * 1024, f"{args[0]}: peak {peak_kb / 1024:.0f} MB resident"
