import pytest

from device.analysis.frames import Frame
from device.sim.trace import TraceError, TraceWriter, read_trace, write_trace

GOOD = "t,head,upper_back,sacrum,tilt\n0.0,0.1,0.2,0.3,1.65\n0.005,2.1,2.2,2.3,1.7\n"


def write(tmp_path, text, name="trace.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_frames(tmp_path):
    frames = read_trace(write(tmp_path, GOOD))
    assert frames == [Frame(0.0, 0.1, 0.2, 0.3, 1.65), Frame(0.005, 2.1, 2.2, 2.3, 1.7)]


def test_columns_in_any_order_and_extra_columns_ignored(tmp_path):
    text = "tilt,sacrum,note,t,upper_back,head\n1.65,0.3,x,0.0,0.2,0.1\n"
    assert read_trace(write(tmp_path, text)) == [Frame(0.0, 0.1, 0.2, 0.3, 1.65)]


@pytest.mark.parametrize("text, line, field, words", [
    ("", 1, None, "empty"),
    ("0.0,0.1,0.2,0.3,1.65\n", 1, None, "missing header"),
    ("t,head,upper_back,tilt\n0,1,1,1\n", 1, "sacrum", "missing column"),
    ("t,head,upper_back,sacrum,tilt\n0,1,1,1,1\n0.1,1,abc,1,1\n", 3, "upper_back", "not a number"),
    ("t,head,upper_back,sacrum,tilt\n0,1,1,1,nan\n", 2, "tilt", "finite"),
    ("t,head,upper_back,sacrum,tilt\n0.2,1,1,1,1\n0.1,1,1,1,1\n", 3, "t", "backwards"),
    ("t,head,upper_back,sacrum,tilt\n0.2,1,1,1\n", 2, None, "expected 5 fields"),
    ("t,head,upper_back,sacrum,tilt\n", 1, None, "no frames"),
])
def test_bad_input_names_file_line_and_field(tmp_path, text, line, field, words):
    path = write(tmp_path, text)
    with pytest.raises(TraceError) as err:
        read_trace(path)
    e = err.value
    assert (e.line, e.field) == (line, field)
    assert words in str(e) and str(path) in str(e) and f":{line}:" in str(e)


def test_missing_file(tmp_path):
    with pytest.raises(TraceError, match="no such file"):
        read_trace(tmp_path / "nope.csv")


def test_round_trip_and_partial_file_is_valid(tmp_path):
    frames = [Frame(round(i * 0.005, 5), 2.0, 2.1, 2.2, 1.66) for i in range(500)]
    path = tmp_path / "out.csv"
    write_trace(path, frames)
    assert read_trace(path) == frames
    # A recording cut off mid-way (writer never closed) is still readable up to its last flush.
    part = tmp_path / "part.csv"
    w = TraceWriter(part, flush_every=100)
    for f in frames[:250]:
        w.write(f)
    assert len(read_trace(part)) == 200
    w.close()
    assert len(read_trace(part)) == 250


def test_the_sample_session_reads(tmp_path):
    from pathlib import Path

    sample = Path(__file__).resolve().parent / "data" / "sloppy-two-sets.csv"
    frames = read_trace(sample)
    assert len(frames) > 20_000 and frames[-1].t > 100
