"""Replay: a trace through exactly the live pipeline and alerts, as fast as the CPU allows.

``replay_frames(frames)`` feeds each frame to :class:`device.analysis.pipeline.Pipeline`
and drives :class:`device.hw.alerts.Alerts` (gpiozero LED and buzzer, on
``MockFactory`` pins unless a pin factory is given) the way the core does,
stamping every change of the output pins with the frame's time.  It returns
the replay document (``dowel replay FILE --json``);
``format_report(doc)`` is the readable version.
"""
from __future__ import annotations

from typing import Iterable, Optional

from device.analysis.pipeline import Pipeline
from device.analysis.settings import Settings
from device.hw.alerts import Alerts
from device.hw.mock.factory import mock_pin_factory

__all__ = ["replay_frames", "format_report"]


def replay_frames(frames: Iterable, settings: Optional[Settings] = None,
                  pin_factory=None) -> dict:
    """Run ``frames`` (``device.analysis.frames.Frame``, in time order) through the pipeline
    and the alerts; return ``{frames, duration_s, rate_hz, sets, alerts}``."""
    settings = settings or Settings()
    pipeline = Pipeline(settings)
    alerts_log: list = []
    open_alert: Optional[dict] = None
    n = 0
    first_t = last_t = 0.0
    with Alerts(pin_factory if pin_factory is not None else mock_pin_factory(),
                buzzer_enabled=settings.buzzer) as alerts:
        feed = pipeline.feed
        update = alerts.update
        for frame in frames:
            if n == 0:
                first_t = frame.t
            n += 1
            last_t = frame.t
            feed(frame)
            if update(pipeline.alert_wanted):
                if alerts.on:
                    lost = pipeline.lost_points
                    open_alert = {"point": lost[0] if lost else None, "on": round(frame.t, 3),
                                  "off": None}
                    alerts_log.append(open_alert)
                elif open_alert is not None:
                    open_alert["off"] = round(frame.t, 3)
                    open_alert = None
        pipeline.finish(last_t)
        if open_alert is not None:
            open_alert["off"] = round(last_t, 3)
        update(False)
    duration = last_t - first_t
    return {
        "frames": n,
        "duration_s": round(duration, 3),
        "rate_hz": round((n - 1) / duration, 1) if n > 1 and duration > 0 else 0.0,
        "sets": pipeline.result()["sets"],
        "alerts": alerts_log,
    }


def format_report(doc: dict) -> str:
    """A readable per-set table of a replay document."""
    out = [f"{doc['frames']} frames, {doc['duration_s']:.1f} s at {doc['rate_hz']:.1f} frames/s, "
           f"{len(doc['sets'])} set(s), {len(doc['alerts'])} alert(s)"]
    for i, st in enumerate(doc["sets"], 1):
        reps = st["reps"]
        clean = sum(1 for r in reps if r["clean"])
        out.append("")
        out.append(f"Set {i}: {st['start']:.2f}-{st['end']:.2f} s, {len(reps)} reps, {clean} clean")
        out.append(f"  {'rep':>3}  {'start':>8}  {'depth':>6}  {'down':>5}  {'up':>5}  losses")
        for j, r in enumerate(reps, 1):
            losses = ", ".join(f"{l['point']} at {l['start']:.2f} s for {l['duration_s']:.2f} s"
                               for l in r["losses"]) or "clean"
            out.append(f"  {j:>3}  {r['start']:>8.2f}  {r['depth_deg']:>5.1f}°  "
                       f"{r['down_s']:>4.1f}s  {r['up_s']:>4.1f}s  {losses}")
        in_reps = {id(l) for r in reps for l in r["losses"]}
        others = [l for l in st.get("losses", []) if id(l) not in in_reps]
        for l in others:
            out.append(f"       outside a rep: {l['point']} at {l['start']:.2f} s "
                       f"for {l['duration_s']:.2f} s")
    if doc["alerts"]:
        out.append("")
        out.append("Alerts: " + ", ".join(f"{a['point']} {a['on']:.2f}-{a['off']:.2f} s"
                                          for a in doc["alerts"]))
    return "\n".join(out)
