"""Export the rep history as CSV or JSON, and read those files back.

CSV: one row per rep, plus one row per kettlebell set logged by hand
(``manual`` = 1, rep columns empty).  The columns are :data:`CSV_COLUMNS`,
documented in docs/history.md.  Times are Unix seconds (UTC) with
millisecond precision; ``start_local`` repeats the start as a local ISO
8601 time for people reading the file in a spreadsheet.

JSON: ``{"format": "smart-dowel-history", "version": 1, "exported": unix,
"athletes": [...], "sessions": [session with sets, reps and losses]}`` -
the same nesting as ``GET /api/sessions/<id>``.

:func:`read_csv` and :func:`read_json` turn either file back into the same
flat records (what :func:`records` produces from the store), so a test or a
user's script can check an export against the database.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import time
from typing import Optional, TextIO

from device.analysis.jsonsafe import finite
from device.history.store import SCHEMA_VERSION, Store

FORMAT = "smart-dowel-history"
FORMAT_VERSION = 1

CSV_COLUMNS = (
    "athlete", "session_id", "day", "set_id", "set_number", "exercise", "manual",
    "rep_number", "start_local", "start", "end", "depth_deg", "down_s", "up_s", "clean",
    "losses", "manual_reps", "weight_kg",
)


class ExportError(ValueError):
    """A file that is not a dowel export; ``str(err)`` says where (line, field)."""


def _local_iso(wall: float) -> str:
    return _dt.datetime.fromtimestamp(wall).isoformat(timespec="seconds")


def _r(x, digits):
    return None if x is None else round(float(x), digits)


def _records_from_sessions(sessions: list) -> list:
    out = []
    for session in sessions:
        for s in session["sets"]:
            base = {"athlete": session["athlete"], "session_id": session["id"],
                    "day": session["day"], "set_id": s["id"], "set_number": s["number"],
                    "exercise": s["exercise"], "manual": bool(s["manual"])}
            if s["manual"]:
                out.append(dict(base, rep_number=None, start=_r(s["start"], 3), end=_r(s["end"], 3),
                                depth_deg=None, down_s=None, up_s=None, clean=None, losses=[],
                                manual_reps=s["manual_reps"], weight_kg=_r(s["weight_kg"], 2)))
                continue
            for rep in s["reps"]:
                out.append(dict(
                    base, rep_number=rep["rep_index"], start=_r(rep["start"], 3),
                    end=_r(rep["end"], 3), depth_deg=_r(rep["depth_deg"], 2),
                    down_s=_r(rep["down_s"], 3), up_s=_r(rep["up_s"], 3), clean=bool(rep["clean"]),
                    losses=[{"point": l["point"], "start": _r(l["start"], 3),
                             "duration_s": _r(l["duration_s"], 3)} for l in rep["losses"]],
                    manual_reps=None, weight_kg=None))
    return out


def records(store: Store, athlete_id: Optional[int] = None) -> list:
    """Every rep and manual set as flat records, oldest session first."""
    return _records_from_sessions(store.all_sessions(athlete_id))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _losses_cell(losses: list) -> str:
    # point:start:duration_s, separated by ';' - one cell, still readable
    return ";".join(f"{l['point']}:{l['start']:.3f}:{l['duration_s']:.3f}" for l in losses)


def write_csv(store: Store, out: TextIO, athlete_id: Optional[int] = None) -> int:
    """Write the CSV export to ``out``; returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    rows = records(store, athlete_id)
    for rec in rows:
        cells = dict(rec, start_local=_local_iso(rec["start"]), losses=_losses_cell(rec["losses"]))
        writer.writerow([_cell(cells[c]) for c in CSV_COLUMNS])
    return len(rows)


def write_json(store: Store, out: TextIO, athlete_id: Optional[int] = None) -> int:
    """Write the JSON export to ``out``; returns the number of sessions."""
    sessions = store.all_sessions(athlete_id)
    athletes = store.athletes()
    if athlete_id is not None:
        athletes = [a for a in athletes if a["id"] == athlete_id]
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "schema": SCHEMA_VERSION,
           "exported": round(time.time(), 3),
           "athletes": [{"id": a["id"], "name": a["name"]} for a in athletes],
           "sessions": sessions}
    # JSON has no NaN: a value the store cannot know is written as null
    json.dump(finite(doc), out, indent=1, allow_nan=False)
    out.write("\n")
    return len(sessions)




def export_text(store: Store, fmt: str, athlete_id: Optional[int] = None) -> str:
    buf = io.StringIO()
    if fmt == "csv":
        write_csv(store, buf, athlete_id)
    elif fmt == "json":
        write_json(store, buf, athlete_id)
    else:
        raise ValueError(f"unknown export format {fmt!r} (csv or json)")
    return buf.getvalue()


# -- readers ---------------------------------------------------------------------
def read_csv(text: str, source: str = "<csv>") -> list:
    """Records from a CSV export; :class:`ExportError` names the line and field."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise ExportError(f"{source}: line 1: header is not the dowel export's "
                          f"({', '.join(CSV_COLUMNS)})")
    out = []
    for row in reader:
        line = reader.line_num

        def num(field, kind=float):
            raw = row[field]
            if raw == "":
                return None
            try:
                return kind(raw)
            except ValueError:
                raise ExportError(f"{source}: line {line}: {field}: not a number: {raw!r}") from None

        def flag(field):
            raw = row[field]
            if raw == "":
                return None
            if raw not in ("0", "1"):
                raise ExportError(f"{source}: line {line}: {field}: expected 0 or 1, got {raw!r}")
            return raw == "1"

        losses = []
        for part in filter(None, row["losses"].split(";")):
            try:
                point, start, duration = part.split(":")
                losses.append({"point": point, "start": float(start), "duration_s": float(duration)})
            except ValueError:
                raise ExportError(f"{source}: line {line}: losses: cannot read {part!r} "
                                  f"(expected point:start:duration_s)") from None
        out.append({"athlete": row["athlete"], "session_id": num("session_id", int),
                    "day": row["day"], "set_id": num("set_id", int),
                    "set_number": num("set_number", int), "exercise": row["exercise"],
                    "manual": flag("manual"), "rep_number": num("rep_number", int),
                    "start": num("start"), "end": num("end"), "depth_deg": num("depth_deg"),
                    "down_s": num("down_s"), "up_s": num("up_s"), "clean": flag("clean"),
                    "losses": losses, "manual_reps": num("manual_reps", int),
                    "weight_kg": num("weight_kg")})
    return out


def read_json(text: str, source: str = "<json>") -> list:
    """Records from a JSON export (same shape as :func:`read_csv`)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportError(f"{source}: line {exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ExportError(f"{source}: format: not a dowel history export")
    if doc.get("version") != FORMAT_VERSION:
        raise ExportError(f"{source}: version: {doc.get('version')!r} is not supported")
    return _records_from_sessions(doc["sessions"])
