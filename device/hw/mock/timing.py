"""What a Raspberry Pi costs the read loop: timing profiles for the emulated bus.

The emulated chip is exact about the chip (conversion time, oscillator error,
power-up); a profile adds what the host costs on a given board, so mock mode
and the benchmarks meet the limits a Pi meets, not a laptop's:

* ``transaction_overhead_s``: Linux i2c-dev ioctl plus Blinka/Python per I2C
  transaction, on top of the bits on the wire;
* ``gpio_read_s``: one read of the ALERT/RDY line from Python (gpiozero on lgpio);
* ``wake_jitter_s``: mean lateness of a sleeping thread's wake-up (the kernel's
  scheduling latency on a stock Raspberry Pi OS kernel), drawn exponentially;
* ``frame_cpu_s``: the core's processing of one frame (pipeline, alerts,
  status publication) on that board's CPU;
* ``edge_lag_s``: how late a conversion-ready pulse on ALERT/RDY shows in the
  edge counter Python reads (the kernel queues the edge, lgpio's thread hands
  it to gpiozero's callback);
* ``bus_hz``: the I2C clock.  A Pi runs 100 kHz unless ``dtparam=i2c_arm_baudrate``
  says otherwise (Blinka cannot set it from Python: it warns "I2C frequency is
  not settable in python, ignoring!"); ``make install`` sets 400 kHz.

Sources, and which numbers are estimates:

* Adafruit's own measurement of its driver's single-shot reads
  (adafruit/Adafruit_CircuitPython_ADS1x15 issue #27, "slow reading AnalogIn()"):
  on a Pi Zero W at 860 SPS, ``AnalogIn.value`` in a loop gives 199 reads/s,
  5.0 ms a read.  A read is one config write, polls of the config register
  until the conversion (1.16 ms) is done, and one result read; that puts one
  transaction at about 1.5 ms on that board at the default 100 kHz (0.48 ms of
  it on the wire), so about 1 ms of overhead on the single-core ARM11.  The
  same issue and #43/#80 there show the rate depends on the host, not on DR.
* The product's hardware notes: 0.1-0.3 ms of Linux and Python overhead per
  transaction on a Pi, about 0.1 ms on the wire at 400 kHz.
* The TI datasheet: conversion time 1/DR with the oscillator within +-10 %
  ("Data rate variation: +-10 %"), single-shot power-up about 25 us (see
  :mod:`device.hw.mock.ads1x15`).

ESTIMATES (no published measurement found): the Zero 2 W's overhead is scaled
from the Zero W figure above by the Cortex-A53's single-thread speed for Python
(about 3-4x) to 0.25 ms, inside the 0.1-0.3 ms range; the Pi 4 and Pi 5
overheads, every GPIO read cost, every wake-up jitter, every edge lag and every ``frame_cpu_s``
(this project's 13 us per frame on a developer machine, scaled by each board's
single-thread speed) are estimates of the same kind.  A measurement on a real
board should replace them: ``dowel selftest`` prints the bus's transaction time.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict


@dataclass(frozen=True)
class TimingProfile:
    """Host costs of one board (see the module docstring for where they come from)."""

    name: str
    title: str
    transaction_overhead_s: float
    gpio_read_s: float
    wake_jitter_s: float
    frame_cpu_s: float
    edge_lag_s: float = 0.0
    bus_hz: int = 400_000

    def at(self, bus_hz: int) -> "TimingProfile":
        """The same board with its I2C bus at ``bus_hz``."""
        return replace(self, bus_hz=int(bus_hz))

    @property
    def label(self) -> str:
        return f"{self.title}, I2C {self.bus_hz // 1000} kHz"


PI_ZERO_2W = TimingProfile("pi-zero-2w", "Pi Zero 2 W", transaction_overhead_s=250e-6,
                           gpio_read_s=30e-6, wake_jitter_s=80e-6, frame_cpu_s=100e-6,
                           edge_lag_s=150e-6)
PI_4 = TimingProfile("pi-4", "Pi 4", transaction_overhead_s=90e-6,
                     gpio_read_s=10e-6, wake_jitter_s=40e-6, frame_cpu_s=40e-6,
                     edge_lag_s=60e-6)
PI_5 = TimingProfile("pi-5", "Pi 5", transaction_overhead_s=50e-6,
                     gpio_read_s=5e-6, wake_jitter_s=20e-6, frame_cpu_s=20e-6,
                     edge_lag_s=30e-6)
#: No host at all: the chip and the wire only (what the emulator charged before
#: profiles existed; useful to see the chip's own limit).  A GPIO read still costs
#: a microsecond so that a spin on the line sees time pass.
IDEAL = TimingProfile("ideal", "no host cost", transaction_overhead_s=0.0, gpio_read_s=1e-6,
                      wake_jitter_s=0.0, frame_cpu_s=0.0)

PROFILES: Dict[str, TimingProfile] = {p.name: p for p in (PI_ZERO_2W, PI_4, PI_5, IDEAL)}
#: Mock mode charges the smallest supported Pi, so a laptop shows what it would do.
DEFAULT_PROFILE = PI_ZERO_2W


def profile(name: str) -> TimingProfile:
    """A profile by name (ValueError naming the choices)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown timing profile {name!r}; one of {', '.join(PROFILES)}") from None
