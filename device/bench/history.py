"""``dowel bench history``: from a rep_completed event to the rep readable on disk."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from device.bench.tables import BenchResult, Row, pct, table


#: A rep not on disk after this long is a broken writer, not a slow one.
GIVE_UP_S = 5.0


def bench_history(reps: int = 200) -> BenchResult:
    """Time from a rep_completed event to the rep being readable from another connection."""
    import sqlite3

    from device.history.store import Store
    from device.runtime.events import EventBus
    from device.runtime.writer import HistoryWriter

    class _Core:                         # just enough of DowelCore for the writer
        def __init__(self):
            self.bus = EventBus()
            self.problem = None

        def subscribe(self, maxsize=256, types=None):
            return self.bus.subscribe(maxsize=maxsize, types=types)

        def report_history_problem(self, message):
            self.problem = message

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        core = _Core()
        store = Store(db)
        writer = HistoryWriter(core, store)
        writer.start()
        reader = sqlite3.connect(db)
        wall = time.time()
        core.bus.publish({"type": "set_started", "t": 0.0, "wall": wall, "set_index": 1,
                          "start": 0.0, "exercise": "standing_3point"})
        delays = []
        for i in range(reps):
            t = 2.0 + i * 3.0
            rep = {"start": t, "end": t + 2.5, "depth_deg": 45.0, "down_s": 1.2, "up_s": 1.1,
                   "losses": [], "clean": True}
            sent = time.perf_counter()
            core.bus.publish({"type": "rep_completed", "t": t + 2.5, "wall": wall + t + 2.5,
                              "set_index": 1, "rep_index": i + 1, "rep": rep})
            while True:
                n = reader.execute("SELECT COUNT(*) FROM reps").fetchone()[0]
                if n >= i + 1:
                    break
                if time.perf_counter() - sent > GIVE_UP_S:
                    writer.stop()
                    raise RuntimeError(f"history bench: rep {i + 1} not on disk after "
                                       f"{GIVE_UP_S:g} s (writer problem: {core.problem})")
                time.sleep(0.0005)
            delays.append((time.perf_counter() - sent) * 1000)
        writer.stop()
        reader.close()
    p50, p95, p99 = pct(delays)
    rows = [["reps written", reps, ""], ["p50 ms", round(p50, 2), ""], ["p95 ms", round(p95, 2), ""],
            ["p99 ms", round(p99, 2), ""], ["max ms", round(max(delays), 2), "<= 100"]]
    text = table(["rep_completed -> on disk", "measured", "target"], rows,
                 title="History (SQLite WAL, separate reader connection)")
    worst = max(delays)
    summary = [Row("finished rep to on disk p50 / max", f"{p50:.1f} / {worst:.1f} ms", "max <= 100 ms",
                   worst <= 100.0)]
    return BenchResult("history", text, summary, {"p50_ms": p50, "max_ms": worst, "reps": reps})


