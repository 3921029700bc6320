"""Sampling bench: contact frames/s that DowelAdc gets from the emulated chip, in virtual time.

:class:`~device.hw.adc.DowelAdc` runs over :class:`~device.hw.mock.ads1x15.EmulatedI2C`
on a :class:`~device.runtime.clock.VirtualClock` with a board's timing profile
(:mod:`device.hw.mock.timing`): every transaction costs its bits at the bus clock
plus the board's overhead, every ALERT/RDY read its GPIO cost, every sleep its
wake-up jitter, every frame the board's processing time, and each emulated
part has its own oscillator error (drawn within +-10 %).  Nothing depends on
this machine's speed or load: two runs print the same figures.

The ceiling of a read schedule is the chip's data rate over the conversions one
frame costs (3 contact points, plus the tilt on one frame in ``tilt_every``).
The ratio is taken against the part's own ceiling (its real data rate, with
its oscillator error), so it measures the schedule, not the luck of the part;
the frames/s column is the absolute figure.  Target on the Pi Zero 2 W profile:
>= 90 % of the ceiling.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Optional

from device.hw import constants
from device.hw.mock.factory import make_mock_adc
from device.hw.mock.timing import IDEAL, PI_4, PI_5, PI_ZERO_2W, TimingProfile
from device.runtime.clock import VirtualClock

TARGET_RATIO = 0.90
#: Emulated parts (oscillator draws) each configuration is measured on.
PARTS = 5


@dataclass(frozen=True)
class Schedule:
    """How the loop reads frames: chip, data rate, read method, tilt decimation."""

    chip: str = "ADS1115"
    data_rate: int = 860
    read: str = "continuous+rdy"        # or "pipelined+rdy", "pipelined, no rdy", "driver AnalogIn"
    tilt_every: int = constants.TILT_EVERY_FRAMES

    @property
    def label(self) -> str:
        tilt = "tilt every frame" if self.tilt_every == 1 else f"tilt 1/{self.tilt_every}"
        return f"{self.chip} {self.data_rate} SPS, {self.read}, {tilt}"


_READS = {"continuous+rdy": dict(pipelined=True, ready_pin=True, continuous=True),
          "pipelined+rdy": dict(pipelined=True, ready_pin=True),
          "pipelined, no rdy": dict(pipelined=True, ready_pin=False),
          "driver AnalogIn": dict(pipelined=False, ready_pin=False)}

#: The product's schedule (mock mode and the Pi use it).
DEFAULT = Schedule()
#: (profile, schedule) rows: the product's schedule on every board and bus
#: clock, then the alternatives on the Pi Zero 2 W, the smallest board.
CONFIGS = (
    (PI_ZERO_2W, DEFAULT),
    (PI_ZERO_2W.at(100_000), DEFAULT),
    (PI_4, DEFAULT),
    (PI_5, DEFAULT),
    (PI_ZERO_2W, Schedule(tilt_every=1)),
    (PI_ZERO_2W, Schedule("ADS1015", 920)),
    (PI_ZERO_2W, Schedule("ADS1015", 1600)),
    (PI_ZERO_2W, Schedule(read="pipelined+rdy")),
    (PI_ZERO_2W, Schedule(read="pipelined+rdy", tilt_every=1)),
    (PI_ZERO_2W.at(100_000), Schedule(read="pipelined+rdy")),
    (IDEAL, Schedule(read="pipelined+rdy")),
    (PI_ZERO_2W, Schedule(read="pipelined, no rdy")),
    (PI_ZERO_2W, Schedule(read="driver AnalogIn", tilt_every=1)),
)


class _SteadySource:
    """An athlete standing upright with the dowel on: held contacts, 0 deg tilt."""

    finished = False

    def voltages(self, t: float):
        return (2.31, 2.05, 2.62, 1.65)


def measure_part(profile: TimingProfile, schedule: Schedule, seconds: float, seed: int) -> dict:
    """Frames for ``seconds`` of virtual time on one emulated part."""
    clock = VirtualClock(profile.wake_jitter_s, seed=seed)
    adc, bus, chip = make_mock_adc(_SteadySource(), clock, chip=schedule.chip,
                                   data_rate=schedule.data_rate, profile=profile,
                                   osc_tolerance=0.1, seed=seed,
                                   tilt_every=schedule.tilt_every, **_READS[schedule.read])
    adc.read_frame()                    # settle: the first frame has no carried conversion
    bus.host_time(profile.frame_cpu_s)
    t0, tx0, frames = clock.now(), bus.transactions, 0
    end = t0 + seconds
    while clock.now() < end:
        adc.read_frame()
        bus.host_time(profile.frame_cpu_s)   # the core processes the frame
        frames += 1
    elapsed = clock.now() - t0
    part_ceiling = adc.ceiling_hz * chip.osc_factor
    rate = frames / elapsed
    return {"frames_per_s": rate, "ceiling_hz": adc.ceiling_hz, "part_ceiling_hz": part_ceiling,
            "ratio": rate / part_ceiling, "osc_factor": chip.osc_factor,
            "i2c_per_frame": (bus.transactions - tx0) / frames,
            "pipeline_misses": adc.pipeline_misses}


def measure(profile: TimingProfile, schedule: Schedule, seconds: float = 2.0,
            parts: int = PARTS) -> dict:
    """One result row: the median over ``parts`` emulated parts, and the spread."""
    runs = [measure_part(profile, schedule, seconds, seed) for seed in range(parts)]
    ratios = [r["ratio"] for r in runs]
    ratio = median(ratios)
    return {"profile": profile.label, "schedule": schedule.label,
            "chip": schedule.chip, "data_rate": schedule.data_rate, "read": schedule.read,
            "tilt_every": schedule.tilt_every, "parts": parts, "seconds": seconds,
            "frames_per_s": median(r["frames_per_s"] for r in runs),
            "ceiling_hz": runs[0]["ceiling_hz"],
            "ratio": ratio, "ratio_min": min(ratios), "ratio_max": max(ratios),
            "i2c_per_frame": median(r["i2c_per_frame"] for r in runs),
            "pipeline_misses": sum(r["pipeline_misses"] for r in runs),
            "meets_target": ratio >= TARGET_RATIO}


def run_sampling_bench(seconds: float = 2.0, configs=CONFIGS, parts: int = PARTS,
                       progress: Optional[callable] = None) -> list:
    """One row per (profile, schedule) configuration (see :func:`measure`)."""
    rows = []
    for i, (profile, schedule) in enumerate(configs):
        rows.append(measure(profile, schedule, seconds=seconds, parts=parts))
        if progress:
            progress(i + 1, len(configs))
    return rows


def format_table(rows) -> str:
    from device.bench.tables import table

    body = [[r["profile"], r["schedule"], round(r["frames_per_s"], 1), round(r["ceiling_hz"], 1),
             f"{100 * r['ratio']:.1f}%", f"{100 * r['ratio_min']:.0f}-{100 * r['ratio_max']:.0f}%",
             round(r["i2c_per_frame"], 1), "ok" if r["meets_target"] else "below"]
            for r in rows]
    return table(["board", "read schedule", "frames/s", "ceiling", "ratio", "parts", "I2C/frame",
                  f">= {TARGET_RATIO:.0%}"], body,
                 title="Sampling in virtual time (contact frames/s vs data rate / conversions per "
                       f"frame; median of {rows[0]['parts'] if rows else PARTS} emulated parts)")
