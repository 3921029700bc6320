"""Sampling bench: frames/s the real Adafruit driver gets from the emulated chip.

Runs :class:`~device.hw.adc.DowelAdc` over :class:`~device.hw.mock.ads1x15.EmulatedI2C`
on the real clock, so every I2C transaction costs its bit time at 400 kHz, each
conversion its 1/DR, and this machine's Python time comes on top, as on a Pi.
The SPEC target is >= 90 % of the ceiling (data rate / 4 channels).
"""
from __future__ import annotations

import numpy as np

from device.hw.mock.factory import make_mock_adc
from device.runtime.clock import RealClock

#: (chip, data rate, how the frame is read[, extra seconds per I2C transaction]).
#: The first rows are the product's default (pipelined, ALERT/RDY wired); then
#: pipelining without the RDY wire and the driver's plain ``AnalogIn.voltage``;
#: the last two add a Pi Zero's per-transaction overhead.
PI_ZERO_OVERHEAD_S = 0.0002
CONFIGS = (
    ("ADS1115", 860, "pipelined+rdy"),
    ("ADS1115", 475, "pipelined+rdy"),
    ("ADS1115", 250, "pipelined+rdy"),
    ("ADS1015", 3300, "pipelined+rdy"),
    ("ADS1115", 860, "pipelined, no rdy"),
    ("ADS1115", 860, "driver AnalogIn"),
    # A Pi Zero adds 0.1-0.3 ms of Linux and Python time per transaction (SPEC).
    ("ADS1115", 860, "pipelined+rdy", PI_ZERO_OVERHEAD_S),
    ("ADS1115", 860, "driver AnalogIn", PI_ZERO_OVERHEAD_S),
)
TARGET_RATIO = 0.90
_READS = {"pipelined+rdy": dict(pipelined=True, ready_pin=True),
          "pipelined, no rdy": dict(pipelined=True, ready_pin=False),
          "driver AnalogIn": dict(pipelined=False, ready_pin=False)}


class _SteadySource:
    """An athlete standing upright with the dowel on: held contacts, 0 deg tilt."""

    finished = False

    def voltages(self, t: float):
        return (2.31, 2.05, 2.62, 1.65)


def measure(chip: str, data_rate: int, read: str = "pipelined+rdy", seconds: float = 3.0,
            transaction_overhead_s: float = 0.0) -> dict:
    """Read frames for ``seconds`` and return one result row."""
    clock = RealClock()
    adc, bus, _ = make_mock_adc(_SteadySource(), clock, chip=chip, data_rate=data_rate,
                                transaction_overhead_s=transaction_overhead_s, **_READS[read])
    adc.read_frame()                    # settle: first frame has no carried conversion
    stamps = [clock.now()]
    tx0 = bus.transactions
    end = stamps[0] + seconds
    while stamps[-1] < end:
        adc.read_frame()
        stamps.append(clock.now())
    frames = len(stamps) - 1
    elapsed = stamps[-1] - stamps[0]
    intervals_ms = np.diff(np.asarray(stamps)) * 1000.0
    p50, p95, p99 = np.percentile(intervals_ms, [50, 95, 99])
    rate = frames / elapsed
    if transaction_overhead_s:
        read = f"{read} +{transaction_overhead_s * 1e3:g} ms/I2C"
    return {"chip": chip, "data_rate": data_rate, "read": read,
            "frames": frames, "seconds": round(elapsed, 3),
            "frames_per_s": rate, "ceiling_hz": adc.ceiling_hz,
            "ratio": rate / adc.ceiling_hz,
            "interval_ms_p50": float(p50), "interval_ms_p95": float(p95),
            "interval_ms_p99": float(p99),
            "i2c_per_frame": (bus.transactions - tx0) / frames,
            "pipeline_misses": adc.pipeline_misses,
            "meets_target": rate / adc.ceiling_hz >= TARGET_RATIO}


def run_sampling_bench(seconds: float = 3.0, configs=CONFIGS) -> list:
    """One row per configuration (see :func:`measure`)."""
    return [measure(*config[:3], seconds=seconds, transaction_overhead_s=(config[3:] or (0.0,))[0])
            for config in configs]


def format_table(rows) -> str:
    headers = ("chip", "SPS", "read", "frames/s", "ceiling", "ratio", "p50 ms", "p95 ms",
               "p99 ms", "I2C/frame", "target")
    body = [(r["chip"], str(r["data_rate"]), r["read"], f"{r['frames_per_s']:.1f}",
             f"{r['ceiling_hz']:.1f}", f"{100 * r['ratio']:.1f}%",
             f"{r['interval_ms_p50']:.2f}", f"{r['interval_ms_p95']:.2f}",
             f"{r['interval_ms_p99']:.2f}", f"{r['i2c_per_frame']:.1f}",
             "ok" if r["meets_target"] else "below")
            for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h)
              for i, h in enumerate(headers)]
    lines = ["Sampling: DowelAdc (Adafruit driver) on the emulated chip, I2C 400 kHz, "
             f"target >= {TARGET_RATIO:.0%} of data rate / 4",
             "  ".join(h.ljust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    for row in body:
        lines.append("  ".join(v.ljust(w) if i in (0, 2) else v.rjust(w)
                               for i, (v, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_table(run_sampling_bench()))
