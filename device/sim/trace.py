"""Trace files: CSV with a header, one frame a row.

```
t,head,upper_back,sacrum,tilt
0.0,0.0023,0.0067,0.0008,1.9764
```

Times in seconds from the start of the recording, voltages in volts at the ADC
inputs.  Columns may come in any order; extra columns are ignored.  Bad input
raises :class:`TraceError` naming the file, line and field: a field that is not
a finite number or is over :data:`MAX_FIELD_CHARS` characters, a line over
:data:`MAX_LINE_CHARS`, time going backwards or jumping more than
:data:`MAX_GAP_S` between frames.  Files are read row by row
(:func:`iter_trace`), so a trace of any length plays in bounded memory.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import IO, Iterable, Iterator, List, Optional, Union

from device.analysis.frames import Frame
from device.hw import constants

COLUMNS = ("t",) + constants.CHANNELS


class TraceError(ValueError):
    """A trace that cannot be read: ``path``, ``line`` (1-based) and ``field`` say where."""

    def __init__(self, path, line: Optional[int], field: Optional[str], message: str):
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        where = self.path + (f":{line}" if line else "")
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{message}")


#: A number in a trace is a few characters; a longer field is not a trace.
MAX_FIELD_CHARS = 64
#: A row is five numbers and a few extra columns; longer is not a trace.  Lines
#: are read at most this long, so a file without newlines cannot fill memory.
MAX_LINE_CHARS = 4096
#: Frames come every few milliseconds; a gap longer than this is a broken file
#: (a live run would otherwise wait that long for the next frame).
MAX_GAP_S = 60.0
#: Times are seconds from the start of a recording; beyond this, adding a frame
#: period no longer changes a float, and the trace could never be played.
MAX_TIME_S = 1e9


def read_trace(path: Union[str, os.PathLike]) -> List[Frame]:
    """All frames of a trace file; raises TraceError on the first bad row.
    For big files use :func:`iter_trace`, which holds one row at a time."""
    return list(iter_trace(path))


def iter_trace(path: Union[str, os.PathLike]) -> Iterator[Frame]:
    """The frames of a trace file, read row by row (memory does not grow with the
    file); raises TraceError naming file, line and field at the first bad row.
    A UTF-8 byte order mark is accepted."""
    try:
        # utf-8-sig: a BOM (spreadsheets write one) is dropped, not part of 't'
        with open(path, newline="", encoding="utf-8-sig") as f:
            yield from parse_trace(f, path)
    except UnicodeDecodeError as exc:
        raise TraceError(path, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except IsADirectoryError:
        raise TraceError(path, None, None, "is a directory, not a trace file") from None
    except FileNotFoundError:
        raise TraceError(path, None, None, "no such file") from None
    except PermissionError:
        raise TraceError(path, None, None, "permission denied") from None


def _bounded_lines(f, path) -> Iterator[str]:
    """The file's lines, each read at most MAX_LINE_CHARS long."""
    number = 0
    while True:
        line = f.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise TraceError(path, number, None, f"line over {MAX_LINE_CHARS} characters: not a trace row")
        yield line


def parse_trace(lines: Iterable[str], path="<trace>") -> Iterator[Frame]:
    """Frames from the lines of a trace (a generator: nothing is kept)."""
    source = _bounded_lines(lines, path) if hasattr(lines, "readline") else lines
    reader = csv.reader(source)
    header, header_line = _header(reader, path)
    index = [header.index(c) for c in COLUMNS]
    width = len(header)
    frames = 0
    last_t: Optional[float] = None
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise TraceError(path, reader.line_num, None, f"not a CSV row ({exc})") from None
        if not row or not any(cell.strip() for cell in row):
            continue
        frame = _frame(row, index, width, path, reader.line_num)
        _check_time(frame.t, last_t, path, reader.line_num)
        last_t = frame.t
        frames += 1
        yield frame
    if not frames:
        raise TraceError(path, header_line, None, "no frames after the header")


def _header(reader, path) -> tuple:
    header = None
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                header = [cell.strip().lower() for cell in row]
                break
    except csv.Error as exc:
        raise TraceError(path, reader.line_num, None, f"not a CSV header ({exc})") from None
    if header is None:
        raise TraceError(path, 1, None, "empty file: expected a header 't,head,upper_back,sacrum,tilt'")
    line = reader.line_num
    if all(_is_number(cell) for cell in header):
        raise TraceError(path, line, None,
                         "missing header: the first line must name the columns "
                         "'t,head,upper_back,sacrum,tilt'")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise TraceError(path, line, missing[0], f"missing column (header has {', '.join(header)})")
    return header, line


def _frame(row: list, index: list, width: int, path, line: int) -> Frame:
    if len(row) != width:
        raise TraceError(path, line, None, f"expected {width} fields as in the header, found {len(row)}")
    values = []
    for name, i in zip(COLUMNS, index):
        cell = row[i].strip()
        if len(cell) > MAX_FIELD_CHARS:
            raise TraceError(path, line, name, f"over {MAX_FIELD_CHARS} characters: not a number")
        try:
            value = float(cell)
        except ValueError:
            raise TraceError(path, line, name, f"not a number ({cell!r})") from None
        if not math.isfinite(value):
            raise TraceError(path, line, name, f"not a finite number ({cell!r})")
        values.append(value)
    return Frame(*values)


def _check_time(t: float, last_t: Optional[float], path, line: int) -> None:
    if abs(t) > MAX_TIME_S:
        raise TraceError(path, line, "t", f"{t:g} s is out of range (at most {MAX_TIME_S:g} s)")
    if last_t is None:
        return
    if t < last_t:
        raise TraceError(path, line, "t", f"time goes backwards ({t:g} s after {last_t:g} s)")
    if t - last_t > MAX_GAP_S:
        raise TraceError(path, line, "t", f"time jumps by {t - last_t:g} s after {last_t:g} s "
                                          f"(at most {MAX_GAP_S:g} s between frames)")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


class TraceWriter:
    """Writes frames as a trace; flushes every ``flush_every`` frames so a recording
    stopped with Ctrl-C (or a power cut) leaves a valid file."""

    def __init__(self, target: Union[str, os.PathLike, IO[str]], flush_every: int = 200):
        if isinstance(target, (str, os.PathLike)):
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            self._file = open(target, "w", newline="")
            self._owns = True
        else:
            self._file = target
            self._owns = False
        self._flush_every = flush_every
        # Rows are collected and written whole, so the file on disk always ends
        # on a row boundary even if the recording is killed.
        self._rows: List[str] = []
        self._file.write(",".join(COLUMNS) + "\n")
        self._file.flush()

    def write(self, frame: Frame) -> None:
        self._rows.append(f"{frame[0]:.5f},{frame[1]:.4f},{frame[2]:.4f},{frame[3]:.4f},{frame[4]:.4f}\n")
        if len(self._rows) >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._file.write("".join(self._rows))
            self._rows.clear()
        self._file.flush()

    def close(self) -> None:
        self.flush()
        if self._owns:
            self._file.close()

    def __enter__(self) -> "TraceWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_trace(target, frames: Iterable[Frame]) -> None:
    with TraceWriter(target) as writer:
        for frame in frames:
            writer.write(frame)
