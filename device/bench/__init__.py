"""``dowel bench``: performance and accuracy, as ratios and percentiles beside their targets.

Never timed assertions in tests: the numbers are printed as tables, to be read
against the product's targets.  One module per benchmark:

* ``sampling``  - contact frames/s vs the read schedule's ceiling, per board, in virtual time
* ``latency``   - contact gone -> LED on the Pi Zero 2 W profile, live stack in virtual time
* ``accuracy``  - simulated sessions with ground truth, replayed at 200 and 50 frames/s
* ``cpu``       - the core's processing per frame, replay speed vs real time (wall clock)
* ``dashboard`` - what 10 and 50 phones cost the core's frame rate, ``dowel run``'s two
                  processes (wall clock)
* ``memory``    - the core after a simulated hour, and its growth over the second half
* ``history``   - a finished rep to committed on disk (wall clock)
* ``mqtt``      - 20 dowels on one Mosquitto, one coach page: loss-to-tile latency,
                  broker messages/s, one dowel's publishing CPU (wall clock)
* ``flood``     - the dashboard flooded: core frame rate and alert latency vs quiet (wall clock)

Virtual-time rows print the same figures on every run and machine; wall-clock
rows are kept only where the real CPU is the thing measured.

This package never imports the web layer: the dashboard and flood benches run
``dowel run`` itself, and the MQTT bench gets the coach's page from the caller
(``main(args, serve_coach=...)``).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

from device.bench.tables import BenchResult, Row, pct, table

__all__ = ["KINDS", "add_arguments", "main", "pct", "table", "run_benches", "markdown_table"]

KINDS = ("sampling", "latency", "accuracy", "cpu", "dashboard", "memory", "history", "mqtt", "flood")
WHAT = {
    "sampling": "contact frames/s vs the ceiling, per board and read schedule (virtual time)",
    "latency": "alert latency and accuracy, live stack on the Pi Zero 2 W profile (virtual time)",
    "accuracy": "simulated sessions with ground truth at 200 and 50 frames/s",
    "cpu": "core CPU per frame and replay speed (wall clock)",
    "dashboard": "cost of 10 and 50 phones to the core's frame rate (wall clock)",
    "memory": "core memory over a simulated hour",
    "history": "finished rep to on disk (wall clock)",
    "mqtt": "20 dowels on one broker, one coach page: latency, messages/s, publishing CPU (wall clock)",
    "flood": "dashboard flooded beside the core process: frame rate and alert latency vs quiet (wall clock)",
}
#: Marks around the README's measured table, which ``--update-readme`` rewrites.
README_START = "<!-- dowel bench: start -->"
README_END = "<!-- dowel bench: end -->"


def _kind(text: str) -> str:
    if text not in KINDS + ("all",):
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from "
                                         f"{', '.join(KINDS + ('all',))})")
    return text


def add_arguments(p: argparse.ArgumentParser) -> None:
    # No argparse choices: with nargs="*" they reject the empty default.
    p.add_argument("kind", nargs="*", type=_kind, default=[],
                   metavar="{" + ",".join(KINDS + ("all",)) + "}",
                   help="which benchmarks to run (default: all of them)")
    p.add_argument("--quick", action="store_true",
                   help="small runs of every bench (seconds, for tests; the figures are rougher)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("--markdown", action="store_true",
                   help="the summary as a Markdown table (what the README shows)")
    p.add_argument("--update-readme", metavar="FILE",
                   help="rewrite the measured table in FILE (between its dowel bench marks)")
    p.add_argument("--sessions", type=int, default=50, help="accuracy: simulated sessions (default 50)")
    p.add_argument("--latency-sessions", type=int, default=6,
                   help="latency: simulated sessions through the live stack (default 6)")
    p.add_argument("--seed", type=int, default=0, help="accuracy and latency: first seed")
    p.add_argument("--seconds", type=float, default=3.0,
                   help="dashboard: seconds per measurement (default 3); sampling: virtual seconds "
                        "per emulated part (default 2)")
    p.add_argument("--trace", metavar="FILE", help="cpu: trace to replay (default: the sample)")
    p.add_argument("--flood-requests", type=int, default=3000,
                   help="flood: requests to each of /api/status and /api/history (default 3000)")
    p.add_argument("--flood-seconds", type=float, default=30.0,
                   help="flood: shortest quiet measurement (default 30)")


def _progress(kind: str, quiet: bool) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        if not quiet:
            print(f"  {kind}: {done}/{total}", file=sys.stderr, flush=True)
    return report


def _run_one(kind: str, args, quick: bool, progress, serve_coach=None) -> BenchResult:
    if kind == "sampling":
        from device.bench import sampling

        seconds = 0.25 if quick else min(args.seconds, 2.0)
        rows = sampling.run_sampling_bench(seconds=seconds, parts=2 if quick else sampling.PARTS,
                                           progress=progress)
        summary = [Row(f"sampling, {r['profile']}: {r['schedule']}",
                       f"{r['frames_per_s']:.1f}/s = {100 * r['ratio']:.1f} % of {r['ceiling_hz']:.1f}",
                       f">= {sampling.TARGET_RATIO:.0%}", r["meets_target"], virtual=True)
                   for r in rows]
        return BenchResult(kind, sampling.format_table(rows), summary, {"rows": rows})
    if kind == "latency":
        from device.bench import latency

        r = latency.run_latency_bench(sessions=1 if quick else args.latency_sessions,
                                      seed=args.seed, progress=progress)
        t = latency.TARGETS_MS
        summary = [
            Row(f"alert latency p50 / p99 / max, {r['profile']}",
                f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} ms",
                f"<= {t['p50']:g} / {t['p99']:g} / {t['max']:g} ms",
                r["p50_ms"] <= t["p50"] and r["p99_ms"] <= t["p99"] and r["max_ms"] <= t["max"],
                virtual=True),
            Row(f"losses without an alert, {r['profile']}", f"{r['missed_alerts']} of {r['losses']}",
                "0", r["missed_alerts"] == 0, virtual=True),
            Row(f"live stack at {r['frame_rate_hz']:.0f} frames/s: sets with a wrong rep count, "
                "loss recall / precision",
                f"{r['sets_with_wrong_rep_count']}, {r['loss_recall_pct']:.0f} / "
                f"{r['loss_precision_pct']:.0f} %", "0, >= 99 %",
                r["sets_with_wrong_rep_count"] == 0 and r["loss_recall_pct"] >= 99
                and r["loss_precision_pct"] >= 99, virtual=True),
        ]
        return BenchResult(kind, latency.format_table(r), summary, r)
    if kind == "accuracy":
        from device.bench.accuracy import format_table, run_accuracy_bench

        r = run_accuracy_bench(n_sessions=2 if quick else args.sessions, seed=args.seed,
                               progress=progress)
        summary = []
        for rate, a in r["rates"].items():
            summary.append(Row(f"rep count exact, {r['sessions']} unseen sessions at {rate} fps",
                               f"{a['rep_exact_pct']:.0f} % of {a['sets']} sets", "100 %",
                               a["rep_exact_pct"] == 100.0, virtual=True))
            summary.append(Row(f"losses found / reported ones real at {rate} fps",
                               f"{a['loss_recall_pct']:.1f} / {a['loss_precision_pct']:.1f} %",
                               ">= 99 %", a["loss_recall_pct"] >= 99 and a["loss_precision_pct"] >= 99,
                               virtual=True))
            summary.append(Row(f"alerts with no loss behind them (the dowel going on or off) at {rate} fps",
                               f"{a['false_alerts']} in {a['sets']} sets", "0", a["false_alerts"] == 0,
                               virtual=True))
            summary.append(Row(f"depth error median at {rate} fps",
                               f"{a['depth_err_median_deg']:.2f} deg", "<= 2 deg",
                               a["depth_err_median_deg"] <= 2.0, virtual=True))
        data = {"sessions": r["sessions"],
                "rates": {str(k): {kk: vv for kk, vv in v.items() if kk != "failures"}
                          for k, v in r["rates"].items()}}
        return BenchResult(kind, format_table(r), summary, data)
    if kind == "cpu":
        from device.bench.cpu import bench_cpu

        return bench_cpu(args.trace, repeats=1 if quick else 3)
    if kind == "dashboard":
        from device.bench.dashboard import run_dashboard_bench

        return run_dashboard_bench(seconds=1.0 if quick else args.seconds, repeats=1 if quick else 5,
                                   progress=progress)
    if kind == "memory":
        from device.bench.memory import bench_memory

        return bench_memory(seconds=120.0 if quick else 3600.0)
    if kind == "history":
        from device.bench.history import bench_history

        return bench_history(reps=20 if quick else 200)
    if kind == "mqtt":
        if serve_coach is None:
            raise ValueError("the MQTT bench needs serve_coach (the web layer)")
        from device.bench.mqtt import bench_mqtt

        return bench_mqtt(serve_coach, dowels=4 if quick else 20, seconds=4.0 if quick else 30.0,
                          progress=progress)
    if kind == "flood":
        from device.bench.flood import run_flood_bench

        return run_flood_bench(seconds=3.0 if quick else args.flood_seconds,
                               requests=100 if quick else args.flood_requests,
                               streams=10 if quick else 50, progress=progress)
    raise ValueError(f"unknown bench {kind!r}")


def run_benches(kinds, args, quiet: bool = False, serve_coach=None) -> List[BenchResult]:
    """Run ``kinds`` in order, a progress line on stderr for each."""
    results = []
    for i, kind in enumerate(kinds):
        if not quiet:
            print(f"[{i + 1}/{len(kinds)}] {kind}: {WHAT[kind]} ...", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        result = _run_one(kind, args, args.quick, _progress(kind, quiet),
                          serve_coach=serve_coach)
        if not quiet:
            print(f"[{i + 1}/{len(kinds)}] {kind}: done in {time.monotonic() - t0:.0f} s",
                  file=sys.stderr, flush=True)
        results.append(result)
    return results


def summary_table(results: List[BenchResult]) -> str:
    rows = [[r.what, r.measured, r.target, r.verdict] for res in results for r in res.rows]
    return table(["what", "measured", "target", ""], rows,
                 title="Summary (Pi figures from the timing profiles, in virtual time)")


def markdown_table(results: List[BenchResult]) -> str:
    lines = ["| what | measured | target | |", "| --- | --- | --- | --- |"]
    for res in results:
        for r in res.rows:
            lines.append(f"| {r.what} | {r.measured} | {r.target} | {r.verdict} |")
    return "\n".join(lines)


def update_readme(path: str, markdown: str) -> None:
    """Replace the table between the README's bench marks with ``markdown``."""
    file = Path(path)
    text = file.read_text()
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path}: no '{README_START}' ... '{README_END}' marks to replace between")
    file.write_text(pattern.sub(lambda _: f"{README_START}\n{markdown}\n{README_END}", text))


def main(args, serve_coach=None) -> int:
    """Run the benchmarks ``args.kind`` names (all when none).  ``serve_coach(broker)``
    builds the coach's page for the MQTT bench (the caller owns the web layer)."""
    kinds = list(KINDS) if not args.kind or "all" in args.kind else list(dict.fromkeys(args.kind))
    machine = args.json or args.markdown
    results = run_benches(kinds, args, serve_coach=serve_coach)
    if args.json:
        doc: Dict[str, object] = {
            "quick": bool(args.quick),
            "benches": {r.name: r.data for r in results},
            "summary": [row.to_dict() for r in results for row in r.rows]}
        json.dump(doc, sys.stdout, indent=1, default=float)
        print()
    elif args.markdown:
        print(markdown_table(results))
    if not machine:
        for r in results:
            print(r.text)
            print()
        print(summary_table(results))
    if args.update_readme:
        update_readme(args.update_readme, markdown_table(results))
        print(f"updated the measured table in {args.update_readme}", file=sys.stderr)
    return 0
