"""The upright tilt: what the accelerometer reads when the athlete stands tall.

An accelerometer mounted a few degrees off must still read 0 degrees upright.
A calibration says the upright tilt; without one it is learned from the first
moments of each set, when the athlete stands (or kneels) tall with the dowel
on: skip the placing (``UPRIGHT_SKIP_S``), then take the median of
``UPRIGHT_LEARN_S`` of tilt, and the median of what lies near it, so a hinge
begun inside the window does not drag the upright along.  The frames of the
window are kept so the rep analysis can run over them once the upright is known.
"""
from __future__ import annotations

from device.analysis.contact import _asin_deg

__all__ = ["UprightLevel"]

UPRIGHT_SKIP_S = 0.15
UPRIGHT_LEARN_S = 1.0
UPRIGHT_GATE_DEG = 4.0
#: Fewer tilt readings than this in the window: keep the first guess.
MIN_SAMPLES = 5


class UprightLevel:
    """The upright tilt voltage (and its angle), learned per set or calibrated."""

    def __init__(self, tilt_v: float):
        self.learning = False
        self._kept: list = []          # (t, tilt_v, mean tilt_v) while learning
        self._since = 0.0
        self.set(tilt_v)

    def set(self, tilt_v: float) -> None:
        self.tilt_v = tilt_v
        self.deg = _asin_deg(tilt_v)

    def pitch(self, tilt_v: float) -> float:
        """Hinge angle (degrees) of a tilt reading against this upright."""
        return _asin_deg(tilt_v) - self.deg

    def calibrated(self, tilt_v: float) -> None:
        """A calibration taken now: its upright, no learning."""
        self.learning = False
        self._kept = []
        self.set(tilt_v)

    def begin(self, t: float, tilt_v: float) -> None:
        """A set starts at ``t``: take the tilt now until the window is learned
        (the dowel has just gone on the back of an athlete standing tall)."""
        self.set(tilt_v)
        self.learning = True
        self._kept = []
        self._since = t

    @property
    def since(self) -> float:
        """When the set whose upright is being learned was confirmed."""
        return self._since

    def keep(self, t: float, tilt_v: float, mean_v: float) -> bool:
        """While learning, keep a frame's tilt; True while the window is open."""
        if t - self._since < UPRIGHT_SKIP_S + UPRIGHT_LEARN_S:
            self._kept.append((t, tilt_v, mean_v))
            return True
        return False

    def conclude(self) -> list:
        """End the window: set the upright from it; returns the kept frames."""
        self.learning = False
        kept, self._kept = self._kept, []
        start = self._since + UPRIGHT_SKIP_S
        tilts = sorted(v for (bt, v, _) in kept if bt >= start)
        if len(tilts) >= MIN_SAMPLES:
            mid_deg = _asin_deg(tilts[len(tilts) // 2])
            near = [v for v in tilts if abs(_asin_deg(v) - mid_deg) < UPRIGHT_GATE_DEG]
            self.set(near[len(near) // 2] if len(near) >= MIN_SAMPLES else tilts[len(tilts) // 2])
        return kept

    def stop(self) -> None:
        self.learning = False
