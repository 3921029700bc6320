"""``dowel bench accuracy``: the pipeline against simulated sessions with ground truth.

Each session from :func:`device.sim.simulator.generate_session` (half of them
noisy: more sensor noise, dropouts, glitches and wobbles) is sampled at each
frame rate and replayed through exactly what ``dowel replay`` runs
(:func:`device.sim.replay.replay_frames`).  The answers are scored against the
product's targets:

* rep count per set: exact (sets matched to the truth by overlap in time);
* losses: recall and precision, matched by point with the start within 150 ms;
* depth: absolute error per matched rep (median, p95), target median <= 5 deg;
* alert latency: truth loss start to alert on (median <= 40 ms, max <= 80 ms);
* false alerts: alerts with no truth loss of that point near their start
  (a chirp while the dowel is put on or taken off counts here);
* CPU: microseconds of ``Pipeline.feed`` per frame (target <= 50 us);
* agreement: the same rep counts and losses at every frame rate.

No timed assertions anywhere: the numbers are printed, to be read against
the targets.  Statistics with numpy.
"""
from __future__ import annotations

import time
from typing import Iterable, Optional

import numpy as np

from device.analysis.pipeline import Pipeline
from device.analysis.settings import Settings
from device.sim.replay import replay_frames

__all__ = ["run_accuracy_bench", "score_session", "format_table"]

#: A reported loss matches a truth loss of the same point starting this close.
MATCH_S = 0.150
#: An alert belongs to a truth loss when it goes on this soon after (or just before) it.
ALERT_WINDOW_S = (-0.150, 0.500)


def _losses(sets: Iterable[dict]) -> list:
    return [l for s in sets for r in s["reps"] for l in r["losses"]]


def _overlap(a0, a1, b0, b1) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _match_by_overlap(truth_items: list, got_items: list) -> list:
    """Pairs (truth index, got index) by largest overlap in time, each used once."""
    pairs = []
    cands = []
    for i, w in enumerate(truth_items):
        for j, g in enumerate(got_items):
            ov = _overlap(w["start"], w["end"], g["start"], g["end"])
            if ov > 0:
                cands.append((ov, i, j))
    used_i, used_j = set(), set()
    for ov, i, j in sorted(cands, reverse=True):
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def match_losses(truth_losses: list, got_losses: list) -> list:
    """Pairs (truth, got) of the same point starting within ``MATCH_S``, closest first."""
    cands = []
    for i, w in enumerate(truth_losses):
        for j, g in enumerate(got_losses):
            d = abs(g["start"] - w["start"])
            if g["point"] == w["point"] and d <= MATCH_S:
                cands.append((d, i, j))
    used_i, used_j, pairs = set(), set(), []
    for d, i, j in sorted(cands):
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            pairs.append((i, j))
    return pairs


def score_session(doc: dict, truth: dict) -> dict:
    """Compare one replay document with its truth; plain numbers and failure notes."""
    out = {"sets": len(truth["sets"]), "rep_errors": [], "depth_errors": [], "latencies": [],
           "truth_losses": 0, "got_losses": 0, "matched_losses": 0, "false_alerts": 0,
           "missed_alerts": 0, "failures": []}
    t_sets, g_sets = truth["sets"], doc["sets"]
    pairs = _match_by_overlap(t_sets, g_sets)
    matched_t = {i for i, _ in pairs}
    matched_g = {j for _, j in pairs}
    for i, w in enumerate(t_sets):
        if i not in matched_t:
            out["rep_errors"].append(-len(w["reps"]))
            out["failures"].append(f"set at {w['start']:.2f}s not found ({len(w['reps'])} reps)")
    for j, g in enumerate(g_sets):
        if j not in matched_g:
            out["rep_errors"].append(len(g["reps"]))
            out["failures"].append(f"extra set {g['start']:.2f}-{g['end']:.2f}s "
                                   f"({len(g['reps'])} reps)")
    for i, j in pairs:
        w, g = t_sets[i], g_sets[j]
        err = len(g["reps"]) - len(w["reps"])
        out["rep_errors"].append(err)
        if err:
            out["failures"].append(f"set at {w['start']:.2f}s: {len(g['reps'])} reps, "
                                   f"truth {len(w['reps'])}")
        for ri, rj in _match_by_overlap(w["reps"], g["reps"]):
            out["depth_errors"].append(abs(g["reps"][rj]["depth_deg"] - w["reps"][ri]["depth_deg"]))

    t_losses = _losses(t_sets)
    g_losses = _losses(g_sets)
    lp = match_losses(t_losses, g_losses)
    out["truth_losses"], out["got_losses"], out["matched_losses"] = \
        len(t_losses), len(g_losses), len(lp)
    hit_t = {i for i, _ in lp}
    hit_g = {j for _, j in lp}
    for i, l in enumerate(t_losses):
        if i not in hit_t:
            out["failures"].append(f"missed loss {l['point']} at {l['start']:.3f}s "
                                   f"({l['duration_s']:.2f}s)")
    for j, l in enumerate(g_losses):
        if j not in hit_g:
            out["failures"].append(f"false loss {l['point']} at {l['start']:.3f}s "
                                   f"({l['duration_s']:.2f}s)")

    # alerts: each truth loss should switch the alert on (for its own point), or
    # find it on already or switched on within the window for another point
    # (two points going at once: the athlete hears one buzzer)
    alerts = doc["alerts"]
    used = set()
    for l in t_losses:
        s = l["start"]
        best = None
        for k, a in enumerate(alerts):
            if a["point"] == l["point"] and ALERT_WINDOW_S[0] <= a["on"] - s <= ALERT_WINDOW_S[1]:
                if best is None or abs(a["on"] - s) < abs(alerts[best]["on"] - s):
                    best = k
        if best is None:
            for k, a in enumerate(alerts):
                off = a["off"] if a["off"] is not None else a["on"]
                if a["on"] - s <= ALERT_WINDOW_S[1] and off >= s:
                    best = k
                    break
        if best is None:
            out["missed_alerts"] += 1
            out["failures"].append(f"no alert for {l['point']} at {s:.3f}s")
            continue
        used.add(best)
        lat = max(0.0, alerts[best]["on"] - s)
        out["latencies"].append(lat)
        if lat > 0.080:
            out["failures"].append(f"late alert {l['point']} at {s:.3f}s: {lat * 1000:.0f} ms")
    for k, a in enumerate(alerts):
        if k not in used:
            out["false_alerts"] += 1
            out["failures"].append(f"false alert {a['point']} {a['on']:.3f}-{a['off']:.3f}s")
    return out


def _cpu_us_per_frame(frames: list, settings: Settings) -> float:
    pipeline = Pipeline(settings)
    feed = pipeline.feed
    t0 = time.process_time()
    for f in frames:
        feed(f)
    pipeline.finish(frames[-1].t if frames else 0.0)
    return (time.process_time() - t0) / max(1, len(frames)) * 1e6


def _answers(doc: dict) -> tuple:
    """What must not depend on the frame rate: rep counts and which losses."""
    return tuple((len(s["reps"]), tuple(sorted(l["point"] for r in s["reps"] for l in r["losses"])))
                 for s in doc["sets"])


def run_accuracy_bench(n_sessions: int = 50, seed: int = 0, rates_hz=(200, 50),
                       settings: Optional[Settings] = None, noisy: Optional[bool] = None,
                       progress=None, **overrides) -> dict:
    """Score ``n_sessions`` simulated sessions (seeds ``seed..``) at each rate.

    ``noisy=None`` alternates clean and noisy sessions; ``overrides`` go to
    :func:`device.sim.simulator.generate_session` (e.g. ``stagger_s=0.5`` for the
    hardest removals).  Returns per rate the aggregated numbers (see
    :func:`format_table`) and the failure notes.
    """
    from device.sim.simulator import generate_session

    settings = settings or Settings()
    per_rate = {r: {"scores": [], "cpu": [], "frames": 0, "failures": []} for r in rates_hz}
    disagreements = []
    for k in range(n_sessions):
        s_seed = seed + k
        is_noisy = (k % 2 == 1) if noisy is None else noisy
        session = generate_session(s_seed, noisy=is_noisy, **overrides)
        answers = {}
        for rate in rates_hz:
            frames = session.frames(rate_hz=rate, jitter=0.2, seed=s_seed)
            doc = replay_frames(frames, settings)
            sc = score_session(doc, session.truth)
            acc = per_rate[rate]
            acc["scores"].append(sc)
            acc["frames"] += len(frames)
            acc["cpu"].append(_cpu_us_per_frame(frames, settings))
            for note in sc["failures"]:
                acc["failures"].append(f"seed {s_seed}{' noisy' if is_noisy else ''}: {note}")
            answers[rate] = _answers(doc)
        if len(set(answers.values())) > 1:
            disagreements.append(s_seed)
        if progress:
            progress(k + 1, n_sessions)

    result = {"sessions": n_sessions, "seed": seed, "rates": {}, "overrides": overrides,
              "noisy": noisy,
              "rate_disagreements": disagreements}
    for rate, acc in per_rate.items():
        scores = acc["scores"]
        rep_err = np.array([e for s in scores for e in s["rep_errors"]], dtype=float)
        depth = np.array([e for s in scores for e in s["depth_errors"]], dtype=float)
        lat = np.array([e for s in scores for e in s["latencies"]], dtype=float) * 1000.0
        truth_l = sum(s["truth_losses"] for s in scores)
        got_l = sum(s["got_losses"] for s in scores)
        hit_l = sum(s["matched_losses"] for s in scores)

        def q(arr, p):
            return float(np.percentile(arr, p)) if arr.size else float("nan")

        result["rates"][rate] = {
            "frames": acc["frames"],
            "sets": int(sum(s["sets"] for s in scores)),
            "rep_exact_pct": float(np.mean(rep_err == 0) * 100) if rep_err.size else float("nan"),
            "rep_max_abs_err": int(np.max(np.abs(rep_err))) if rep_err.size else 0,
            "loss_truth": truth_l, "loss_reported": got_l, "loss_matched": hit_l,
            "loss_recall_pct": hit_l / truth_l * 100 if truth_l else float("nan"),
            "loss_precision_pct": hit_l / got_l * 100 if got_l else float("nan"),
            "depth_err_median_deg": q(depth, 50), "depth_err_p95_deg": q(depth, 95),
            "latency_median_ms": q(lat, 50), "latency_p95_ms": q(lat, 95),
            "latency_max_ms": float(lat.max()) if lat.size else float("nan"),
            "missed_alerts": int(sum(s["missed_alerts"] for s in scores)),
            "false_alerts": int(sum(s["false_alerts"] for s in scores)),
            "cpu_us_per_frame": float(np.median(acc["cpu"])) if acc["cpu"] else float("nan"),
            "failures": acc["failures"],
        }
    return result


def format_table(result: dict, max_failures: int = 30) -> str:
    """The bench as a table, one column per frame rate, targets alongside."""
    from device.bench.tables import table

    rates = list(result["rates"])
    rows = []

    def row(label, key, fmt, target=""):
        rows.append([label] + [fmt.format(result["rates"][r][key]) for r in rates] + [target])

    row("sets", "sets", "{}")
    row("rep count exact (% of sets)", "rep_exact_pct", "{:.1f}", "100")
    row("rep count max abs error", "rep_max_abs_err", "{}", "0")
    row("losses (truth)", "loss_truth", "{}")
    row("losses reported", "loss_reported", "{}")
    row("loss recall %", "loss_recall_pct", "{:.1f}", ">= 98")
    row("loss precision %", "loss_precision_pct", "{:.1f}", ">= 98")
    row("depth error median (deg)", "depth_err_median_deg", "{:.2f}", "<= 5")
    row("depth error p95 (deg)", "depth_err_p95_deg", "{:.2f}")
    row("alert latency median (ms)", "latency_median_ms", "{:.1f}", "<= 40")
    row("alert latency p95 (ms)", "latency_p95_ms", "{:.1f}")
    row("alert latency max (ms)", "latency_max_ms", "{:.1f}", "<= 80")
    row("losses without an alert", "missed_alerts", "{}", "0")
    row("false alerts", "false_alerts", "{}", "0")
    row("CPU per frame (us)", "cpu_us_per_frame", "{:.1f}", "<= 50")
    headers = ["accuracy"] + [f"{r} fps" for r in rates] + ["target"]
    noisy = result.get("noisy")
    out = [table(headers, rows, title=f"Accuracy: {result['sessions']} simulated sessions "
                                      f"(seeds {result['seed']}..{result['seed'] + result['sessions'] - 1}, "
                                      + ("every other one noisy" if noisy is None else
                                         "noisy" if noisy else "clean")
                                      + "".join(f", {k}={v}" for k, v in result.get("overrides", {}).items())
                                      + ")")]
    dis = result["rate_disagreements"]
    out.append(f"different answers between frame rates: {len(dis)} session(s)"
               + (f" (seeds {', '.join(map(str, dis[:10]))})" if dis else ""))
    for r in rates:
        fails = result["rates"][r]["failures"]
        if fails:
            out.append(f"\nfailures at {r} fps ({len(fails)}):")
            out += [f"  {f}" for f in fails[:max_failures]]
            if len(fails) > max_failures:
                out.append(f"  ... and {len(fails) - max_failures} more")
    return "\n".join(out)
