"""``dowel history`` and ``dowel export``: the rep history from a terminal.

``add_parser(subparsers)`` registers both on the ``dowel`` parser; each
subcommand's ``func(args)`` returns the exit status (0 fine, 2 bad input such
as a file that is not a dowel database).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from device.history import export, trends
from device.history.store import SCHEMA_VERSION, Store, StoreError, check_file

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def _db_path(args) -> Path:
    if args.db:
        return Path(args.db)
    if getattr(args, "data_dir", None):
        return Path(args.data_dir) / "history.db"
    from device.runtime.settings_store import default_data_dir

    return default_data_dir() / "history.db"


def _error(message: str) -> int:
    print(f"dowel: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _open(path: Path) -> Store:
    """Read-only when the schema is current (a running device keeps writing);
    read-write once to migrate an older file."""
    version = check_file(path)
    # an older file is migrated if it can be written, else read as it is
    return Store(path, readonly=True if version == SCHEMA_VERSION else None)


def _athlete(store: Store, wanted) -> int:
    if wanted is None:
        return store.current_athlete_id()
    for a in store.athletes():
        if str(a["id"]) == wanted or a["name"].lower() == wanted.strip().lower():
            return a["id"]
    names = ", ".join(f"{terminal_text(a['name'])} ({a['id']})" for a in store.athletes())
    raise LookupError(f"--athlete: no athlete {terminal_text(repr(wanted))}; there are: {names}")


def terminal_text(text) -> str:
    """``text`` safe to print on a terminal: control characters (NUL, ESC, the C1
    range, DEL...) are shown as escapes, so a stored name cannot move the cursor,
    clear the screen or retitle the window."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(text))


def _fmt(x, spec: str, missing: str = "-") -> str:
    return missing if x is None else format(x, spec)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def format_summary(doc: dict, athlete: dict, limit: int = 10) -> str:
    """The terminal summary of :func:`device.history.trends.summary` (``doc``)."""
    lines = [f"Athlete: {terminal_text(athlete['name'])}"]
    if not doc["sessions"]:
        lines.append("No sessions recorded yet.")
    else:
        clean = f" ({doc['clean_pct']:.0f} % clean)" if doc["clean_pct"] is not None else ""
        kb = f", {doc['manual_reps']} kettlebell reps" if doc["manual_reps"] else ""
        lines.append(f"{_plural(doc['sessions'], 'session')}, {_plural(doc['sets'], 'set')}, "
                     f"{_plural(doc['reps'], 'dowel rep')}{clean}{kb}")
        lines.append("")
        lines.append(f"{'day':<11} {'sets':>4} {'reps':>5} {'clean':>6}  {'depth deg':>11}  "
                     f"{'down/up s':>9}  lost most")
        per = doc["trends"]["sessions"]
        for s in per[-limit:]:
            o = s["overall"]
            depth = (f"{o['depth_mean_deg']:.0f} ± {o['depth_std_deg']:.0f}"
                     if o["depth_mean_deg"] is not None else "-")
            tempo = (f"{o['down_mean_s']:.1f}/{o['up_mean_s']:.1f}"
                     if o["down_mean_s"] is not None else "-")
            pct = f"{o['clean_pct']:.0f} %" if o["clean_pct"] is not None else "-"
            most = (o["most_lost_point"] or "-").replace("_", " ")
            mark = "  *" if s["comfortable"] else ""
            lines.append(f"{s['day']:<11} {o['sets']:>4} {o['reps']:>5} {pct:>6}  {depth:>11}  "
                         f"{tempo:>9}  {most}{mark}")
        if len(per) > limit:
            lines.append(f"({len(per) - limit} older sessions not shown; --limit N)")
        if any(s["comfortable"] for s in per[-limit:]):
            lines.append("* comfortable session")
        pcts = [s["overall"]["clean_pct"] for s in per if s["overall"]["clean_pct"] is not None]
        if len(pcts) >= 2:
            recent = pcts[-3:]
            arrow = " -> ".join(f"{p:.0f} %" for p in recent)
            word = "up" if recent[-1] > recent[0] else "down" if recent[-1] < recent[0] else "flat"
            lines.append(f"Trend: clean reps {arrow} ({word} over the last {len(recent)} sessions)")
        losses = doc["trends"]["losses_by_point"]
        lines.append("Losses by point: " + ", ".join(
            f"{p.replace('_', ' ')} {losses.get(p, 0)}" for p in trends.POINTS))
    p = doc["progression"]
    lines.append("")
    lines.append(f"Next: {p['suggestion']}")
    lines.append(f"Why:  {p['reason']}")
    if p.get("focus"):
        lines.append(f"Tip:  {p['focus']['cue']}.")
    return "\n".join(lines)


def cmd_history(args) -> int:
    path = _db_path(args)
    if not path.exists():
        print(f"No history yet ({path} does not exist).")
        return EXIT_OK
    try:
        with _open(path) as store:
            athlete_id = _athlete(store, args.athlete)
            athlete = store.get_athlete(athlete_id)
            doc = trends.summary(store.all_sessions(athlete_id))
    except (StoreError, LookupError) as exc:
        return _error(str(exc))
    if args.json:
        json.dump(dict(doc, athlete=athlete), sys.stdout, indent=1)
        print()
    else:
        print(format_summary(doc, athlete, limit=args.limit))
    return EXIT_OK


def cmd_export(args) -> int:
    path = _db_path(args)
    if not path.exists():
        return _error(f"{path}: no history database here")
    try:
        with _open(path) as store:
            athlete_id = None if args.athlete is None else _athlete(store, args.athlete)
            text = export.export_text(store, args.format, athlete_id)
    except (StoreError, LookupError) as exc:
        return _error(str(exc))
    if args.output and args.output != "-":
        out = Path(args.output)
        try:
            tmp = out.with_name(f".{out.name}.tmp")
            tmp.write_text(text)
            os.replace(tmp, out)        # never a half-written export under the real name
        except OSError as exc:
            return _error(f"{out}: cannot write ({exc.strerror})")
        print(f"Wrote {args.format.upper()} export to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="PATH", help="history database (default DATA_DIR/history.db)")
    p.add_argument("--data-dir", metavar="DIR", help="data directory (default: $DOWEL_DATA_DIR, "
                   "/var/lib/smart-dowel on the Pi, else ~/.local/share/smart-dowel)")
    p.add_argument("--athlete", metavar="NAME|ID", help="one athlete (default: the current one "
                   "for history, everybody for export)")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "history", help="summary of the rep history: sessions, clean reps, trend, next step",
        description="Sessions, sets, reps, clean-rep %, depth and tempo per session, which "
                    "point is lost most, and the progression suggestion with its reason.")
    _common(p)
    p.add_argument("--limit", type=int, default=10, metavar="N", help="sessions shown (default 10)")
    p.add_argument("--json", action="store_true", help="the summary as JSON (as GET /api/history)")
    p.set_defaults(func=cmd_history)

    p = subparsers.add_parser(
        "export", help="export every rep as CSV or JSON",
        description="One row per rep (and per kettlebell set logged by hand) with session, set, "
                    "exercise and losses; columns in docs/history.md.")
    _common(p)
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="default csv")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=cmd_export)
