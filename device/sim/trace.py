"""Trace files : CSV with a header, one frame a row.

```
t,head,upper_back,sacrum,tilt
0.0,0.0023,0.0067,0.0008,1.9764
```

Times in seconds from the start of the recording, voltages in volts at the ADC
inputs.  Columns may come in any order; extra columns are ignored.  Bad input
raises :class:`TraceError` naming the file, line and field.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import IO, Iterable, List, Optional, Union

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


def read_trace(path: Union[str, os.PathLike]) -> List[Frame]:
    """All frames of a trace file; raises TraceError on the first bad row."""
    try:
        with open(path, newline="") as f:
            return parse_trace(f, path)
    except UnicodeDecodeError as exc:
        raise TraceError(path, None, None, f"not a text file ({exc.reason})") from None
    except IsADirectoryError:
        raise TraceError(path, None, None, "is a directory, not a trace file") from None
    except FileNotFoundError:
        raise TraceError(path, None, None, "no such file") from None
    except PermissionError:
        raise TraceError(path, None, None, "permission denied") from None


def parse_trace(lines: Iterable[str], path="<trace>") -> List[Frame]:
    reader = csv.reader(lines)
    header = None
    for row in reader:
        if any(cell.strip() for cell in row):
            header = [cell.strip().lower() for cell in row]
            break
    if header is None:
        raise TraceError(path, 1, None, "empty file: expected a header 't,head,upper_back,sacrum,tilt'")
    header_line = reader.line_num
    if all(_is_number(cell) for cell in header):
        raise TraceError(path, header_line, None,
                         "missing header: the first line must name the columns "
                         "'t,head,upper_back,sacrum,tilt'")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise TraceError(path, header_line, missing[0],
                         f"missing column (header has {', '.join(header)})")
    index = [header.index(c) for c in COLUMNS]
    width = len(header)
    frames: List[Frame] = []
    last_t = -math.inf
    for row in reader:
        line = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            raise TraceError(path, line, None,
                             f"expected {width} fields as in the header, found {len(row)}")
        values = []
        for name, i in zip(COLUMNS, index):
            cell = row[i].strip()
            try:
                value = float(cell)
            except ValueError:
                raise TraceError(path, line, name, f"not a number ({cell!r})") from None
            if not math.isfinite(value):
                raise TraceError(path, line, name, f"not a finite number ({cell!r})")
            values.append(value)
        if values[0] < last_t:
            raise TraceError(path, line, "t",
                             f"time goes backwards ({values[0]:g} s after {last_t:g} s)")
        last_t = values[0]
        frames.append(Frame(*values))
    if not frames:
        raise TraceError(path, header_line, None, "no frames after the header")
    return frames


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
