"""The simulated athlete: a hinge session as the dowel's sensors see it, with ground truth.

This is the project's own judge (the accuracy bench scores the pipeline on
sessions drawn from here), so it aims at what a real session looks like
(``shared/samples/sloppy-two-sets.csv`` was studied for levels, noise, ramps and
jitter) and at variety rather than at being easy.

A session is a :class:`SessionScript` (what the athlete does, with absolute
times) played by an :class:`AthleteProfile` (how their body and the sensors
respond).  :class:`SessionScript` is written by a :class:`ScriptBuilder`, step by
step (idle, place, upright, rep, remove); :func:`generate_session` draws the
steps and the profile from a seed, :class:`device.sim.sources.ScriptedAthlete`
takes them from a list.

Signals are computed once on a 1 kHz grid (smooth parts interpolated linearly,
sensor noise one value per grid millisecond), so :meth:`SimSession.voltages`
is a pure function of ``t``: sampling at 50 Hz or 200 Hz sees the same
underlying signal, and a 2-4 ms dropout hits at most one frame at 200 Hz.

Electrical model of the reference build: FSR in a 10 kOhm divider
(:func:`device.hw.constants.fsr_volts`) and tilt ``1.65 + 0.33 * sin(pitch)``.

Truth (``SimSession.truth``) is in the shape of ``*.truth.json``, with the product's
definitions:

* a set starts when all three points touch (the last one makes contact),
  ``removal_start`` is when the first point starts to release and ``end``
  when the last one reads zero;
* a rep starts when the dowel leaves upright and ends when it is back;
  ``depth_deg`` is the largest pitch in between; ``down_s``/``up_s`` are the
  descent and the ascent (a pause at the bottom belongs to neither);
* a loss starts at the moment the point's force reaches zero and lasts until
  force comes back.

What :func:`generate_session` varies (seeded; ``noisy=True`` for the harder half):

* the athlete: resting force 1.5-6.5 N per point, re-placed +-3-12 % each set,
  FSR creep (0-15 %), a tiring grip (0-20 %/min), force changing with the hinge
  (+-35 % at 90 deg), breathing wander, per-rep pressure, load moving to the
  other points during a loss; accelerometer mounted -5..+5 deg off; sensor noise
  per point 6-22 mV (noisy 25-45 mV), tilt 1.5-4 mV (noisy 5-10 mV);
* idle: dowel on a wall (78-90 deg) or the floor, or carried about (-10..70 deg),
  never touching - except, sometimes, one or two points briefly while it is
  picked up (a bump: not a set);
* sets: 1-3, 1-15 reps (mostly 8-12); points touch and release within 0.3 s of
  each other with 0.1-0.35 s ramps; a 1.5-3 s upright settle first;
* reps: a per-set tempo (0.8-2.5 s a phase) and depth (35-80 deg, tiring), with
  or without a pause at the bottom; between reps 0.3-2.5 s upright or slouched
  1-4 deg forward, with wobbles (forward up to 6 deg, noisy 10; back up to 4)
  that are not reps;
* losses (30 % of reps, noisy 40 %, sometimes two points): 0.15-1.2 s on any point,
  in the descent, the ascent, or spanning the bottom; force falls in 10-80 ms;
  noisy ones may have a brief touch (4-10 ms) inside;
* glitches: single-sample dropouts to ~0 V (2-3.5 ms), about 1.5/min (noisy 8);
  noisy sessions add one-sample dips/spikes of 0.1-0.4 V and tilt spikes.
"""
from __future__ import annotations

import bisect
import copy
import math
from dataclasses import dataclass, field, fields, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from device.analysis.frames import Frame
from device.hw import constants

__all__ = ["AthleteProfile", "SessionScript", "ScriptBuilder", "SimSession", "SimParams",
           "generate_session", "random_profile", "fsr_volts_array", "GRID_HZ"]

POINTS = constants.POINTS
#: Rate of the grid the signals are computed on (1 ms): finer than any frame rate.
GRID_HZ = 1000.0
#: The force a held point is kept within (a held contact is 1-8 N).
HELD_FORCE_N = (1.0, 8.0)
#: Glitch kinds: the reading is replaced by ``value`` or has ``value`` added.
SET, ADD = 0, 1


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream per use (script, noise, frame times) of one seed;
    any integer seed works, negative ones too."""
    return np.random.default_rng([int(seed) % 2**64, *stream])


def fsr_volts_array(force_n: np.ndarray) -> np.ndarray:
    """:func:`device.hw.constants.fsr_volts` on an array (0 N and below read 0 V)."""
    f = np.asarray(force_n, dtype=float)
    out = np.zeros_like(f)
    pos = f > 0
    r_fsr = constants.FSR_REF_OHMS * (1.0 / f[pos]) ** constants.FSR_EXPONENT
    out[pos] = constants.SUPPLY_V * constants.DIVIDER_OHMS / (constants.DIVIDER_OHMS + r_fsr)
    return out


def tilt_volts_array(pitch_deg: np.ndarray) -> np.ndarray:
    return constants.TILT_ZERO_V + constants.TILT_SCALE_V * np.sin(np.radians(pitch_deg))


# -- the athlete and the sensors ------------------------------------------------------
@dataclass
class AthleteProfile:
    """How one athlete's body and one dowel's sensors respond.

    Forces per point in newtons; fractions are of the resting force.
    """
    rest_n: Dict[str, float] = field(default_factory=lambda: {"head": 3.0, "upper_back": 2.2,
                                                              "sacrum": 5.0})
    #: Each placing of the dowel lands a little differently: resting force x U(1 +- this).
    replace_spread: float = 0.08
    #: FSR creep: force reads up to this fraction higher after ``creep_tau_s`` of load.
    creep_frac: Dict[str, float] = field(default_factory=lambda: {p: 0.06 for p in POINTS})
    creep_tau_s: float = 20.0
    #: A tiring grip: force falls by this fraction per minute within a set.
    fatigue_per_min: Dict[str, float] = field(default_factory=lambda: {p: 0.08 for p in POINTS})
    #: Force change at a 90 deg hinge (times sin(pitch)): the dowel presses differently.
    hinge_mod: Dict[str, float] = field(default_factory=lambda: {"head": -0.15, "upper_back": 0.1,
                                                                 "sacrum": 0.2})
    #: Sensor noise (std, volts) on a held point (each FSR its own; the sample recording
    #: has 0.013-0.021 V), on an open one, and on the tilt channel.
    contact_noise_v: Dict[str, float] = field(default_factory=lambda: {p: 0.012 for p in POINTS})
    open_noise_v: float = 0.0025
    tilt_noise_v: float = 0.003
    #: Accelerometer mounted this far off the dowel's axis (reads this pitch when upright).
    tilt_offset_deg: float = 2.0
    #: Slow postural sway (std, degrees) while holding the dowel, and while not.
    sway_deg: float = 0.6
    idle_sway_deg: float = 2.0
    #: Slow force wander (breathing, grip), std as a fraction of the force.
    force_wander: float = 0.03
    #: Each rep presses a little differently: force x U(1 +- this) per rep and point.
    rep_force_spread: float = 0.05
    #: When a point leaves, the others carry its share: force x (1 + this) while it is off.
    redistribution: float = 0.15
    #: Distance (m) from the hip to the accelerometer.  Non-zero adds the tangential
    #: acceleration of the hinge to the tilt reading (a real accelerometer feels it);
    #: 0 keeps the electrical model's pure ``1.65 + 0.33 sin(pitch)``.
    sensor_radius_m: float = 0.0


@dataclass
class SimParams:
    """The knobs :func:`generate_session` draws a session with (overrides by name)."""
    noisy: bool = False
    n_sets: Optional[int] = None            # None: 1-3
    reps: Optional[Sequence[int]] = None    # reps per set; None: 1-15 each
    loss_prob: float = 0.3                  # chance a rep has a loss
    second_loss_prob: float = 0.15          # chance of a second loss in a rep that has one
    wobble_prob: float = 0.3                # chance of a wobble in an upright gap
    wobble_max_deg: float = 6.0
    dropouts_per_min: float = 1.5           # single-sample dropouts on held points
    tilt_glitches_per_min: float = 0.0
    partial_glitches_per_min: float = 0.0   # one-sample dips and spikes on held points
    depth_deg: Tuple[float, float] = (35.0, 80.0)
    phase_s: Tuple[float, float] = (0.8, 2.5)
    loss_s: Tuple[float, float] = (0.15, 1.2)
    stagger_s: float = 0.3                  # points touch/release within this of each other
    bounce_prob: float = 0.0                # chance a loss has a brief touch inside it
                                            # (shorter than any debounce: still one loss)
    bump_prob: float = 0.15                 # chance one or two points touch briefly while
                                            # the dowel is being picked up (not a set)
    slouch_prob: float = 0.3                # chance a set's athlete rests a few degrees
                                            # forward between reps instead of fully upright
    profile: Optional[AthleteProfile] = None

    @classmethod
    def noisy_defaults(cls) -> "SimParams":
        return cls(noisy=True, loss_prob=0.4, second_loss_prob=0.25, wobble_prob=0.6,
                   wobble_max_deg=10.0, dropouts_per_min=8.0, tilt_glitches_per_min=3.0,
                   partial_glitches_per_min=4.0, bounce_prob=0.3, bump_prob=0.35)


# -- the script -----------------------------------------------------------------------
@dataclass
class LossScript:
    point: str
    start: float            # force reaches zero
    duration_s: float       # until force comes back
    fall_s: float
    rise_s: float
    bounce: Optional[Tuple[float, float]] = None   # (after the start, width_s)


@dataclass
class RepScript:
    start: float
    down_s: float
    pause_s: float
    up_s: float
    depth_deg: float
    losses: List[LossScript] = field(default_factory=list)
    rest_deg: float = 0.0       # the "upright" it leaves from and returns to

    @property
    def end(self) -> float:
        return self.start + self.down_s + self.pause_s + self.up_s


@dataclass
class SetScript:
    place_start: float                  # first point starts touching
    start: float                        # all three touch
    placed: float = 0.0                 # all three at their resting force
    reps: List[RepScript] = field(default_factory=list)
    removal_start: Optional[float] = None
    end: Optional[float] = None
    force_scale: Dict[str, float] = field(default_factory=lambda: {p: 1.0 for p in POINTS})
    #: Wobbles that are not reps: (start, duration_s, amplitude_deg).
    wobbles: List[Tuple[float, float, float]] = field(default_factory=list)


@dataclass
class SessionScript:
    """What the athlete does, in absolute times (seconds from the start)."""
    duration_s: float
    sets: List[SetScript]
    #: Per point, knots (t, factor) of a piecewise-linear contact factor in [0, 1].
    contact_knots: Dict[str, List[Tuple[float, float]]]
    #: Knots (t, pitch_deg), eased with a half cosine between consecutive knots.
    pitch_knots: List[Tuple[float, float]]
    #: Glitches (start, end, channel index 0-3, SET|ADD, value).
    glitches: List[Tuple[float, float, int, int, float]]
    #: No postural sway (scripted tests want exact pitch).
    still: bool = False
    #: Brief touches of one or two points while the dowel is off: (point, start, duration_s).
    bumps: List[Tuple[str, float, float]] = field(default_factory=list)


class ScriptBuilder:
    """Writes a :class:`SessionScript` one step at a time; the clock is ``self.t``."""

    def __init__(self) -> None:
        self.t = 0.0
        self.contact: Dict[str, List[Tuple[float, float]]] = {p: [(0.0, 0.0)] for p in POINTS}
        self.pitch: List[Tuple[float, float]] = [(0.0, 0.0)]
        self.sets: List[SetScript] = []
        self.glitches: List[Tuple[float, float, int, int, float]] = []
        self.bumps: List[Tuple[str, float, float]] = []
        self._set: Optional[SetScript] = None

    # pitch helpers
    def _pitch_to(self, t: float, deg: float) -> None:
        last_t, _ = self.pitch[-1]
        if t < last_t:
            raise ValueError(f"pitch knot at {t:.3f} s before {last_t:.3f} s")
        if t == last_t:
            self.pitch[-1] = (t, deg)
        else:
            self.pitch.append((t, deg))

    def _contact_to(self, point: str, t: float, value: float) -> None:
        knots = self.contact[point]
        if t < knots[-1][0] - 1e-9:
            raise ValueError(f"{point}: contact change at {t:.3f} s overlaps the previous one "
                             f"(at {knots[-1][0]:.3f} s)")
        knots.append((max(t, knots[-1][0]), value))

    @property
    def in_set(self) -> bool:
        return self._set is not None

    # steps
    def idle(self, duration_s: float, level_deg: float = 85.0, wander: Sequence[float] = (),
             transition_s: Optional[float] = None) -> None:
        """No contact; the dowel leans on a wall (``level_deg``) or moves about
        (``wander``: pitches visited one after the other), then is picked up
        and brought upright for the next set."""
        if self.in_set:
            raise ValueError("idle inside a set: remove the dowel first")
        t0, t1 = self.t, self.t + duration_s
        tr = min(1.0, duration_s * 0.3) if transition_s is None else transition_s
        self._pitch_to(t0, self.pitch[-1][1])
        self._pitch_to(t0 + tr, level_deg)
        for k, deg in enumerate(wander):
            self._pitch_to(t0 + tr + (k + 1) * (duration_s - 2 * tr) / (len(wander) + 1), deg)
        self._pitch_to(t1 - tr, level_deg if not wander else wander[-1])
        self._pitch_to(t1, 0.0)
        self.t = t1

    def place(self, offsets_s: Dict[str, float], ramps_s: Dict[str, float],
              force_scale: Optional[Dict[str, float]] = None) -> None:
        """Each point starts to touch at ``t + offset`` and reaches its force ``ramp`` later."""
        if self.in_set:
            raise ValueError("place inside a set")
        t0 = self.t
        for p in POINTS:
            self._contact_to(p, t0 + offsets_s[p], 0.0)
            self._contact_to(p, t0 + offsets_s[p] + ramps_s[p], 1.0)
        end = t0 + max(offsets_s[p] + ramps_s[p] for p in POINTS)
        self._set = SetScript(place_start=t0 + min(offsets_s.values()),
                              start=t0 + max(offsets_s.values()), placed=end,
                              force_scale=dict(force_scale or {p: 1.0 for p in POINTS}))
        self._pitch_to(end, self.pitch[-1][1])
        self.t = end

    def upright(self, duration_s: float, wobble: Optional[Tuple[float, float, float]] = None,
                rest_deg: float = 0.0) -> None:
        """Upright with the dowel on, at ``rest_deg`` (a slouch of a few degrees is still
        upright); ``wobble`` = (at_s, duration_s, amplitude_deg): a small sway forward
        (or back, negative) and return, not a rep."""
        self._need_set("upright")
        t0 = self.t
        self._pitch_to(t0, self.pitch[-1][1])
        if wobble:
            at, dur, amp = wobble
            if at < 0 or at + dur > duration_s:
                raise ValueError("wobble does not fit in the upright step")
            self._pitch_to(t0 + at, rest_deg)
            self._pitch_to(t0 + at + dur * 0.5, rest_deg + amp)
            self._pitch_to(t0 + at + dur, rest_deg)
            self._set.wobbles.append((t0 + at, dur, amp))
        self._pitch_to(t0 + duration_s, rest_deg)
        self.t = t0 + duration_s

    def rep(self, depth_deg: float, down_s: float, up_s: float, pause_s: float = 0.0,
            losses: Sequence[tuple] = (), fall_s: float = 0.03,
            rise_s: float = 0.03, rest_deg: float = 0.0) -> RepScript:
        """One hinge from ``rest_deg`` down to ``depth_deg`` and back.  Each loss is
        (point, start after the rep start, duration_s[, fall_s, rise_s[, bounce]]), where
        ``bounce`` = (at_s after the loss start, width_s): a brief touch inside the loss."""
        self._need_set("rep")
        if depth_deg <= 0 or down_s <= 0 or up_s <= 0 or pause_s < 0:
            raise ValueError("a rep needs a positive depth, down_s and up_s")
        rep = RepScript(self.t, down_s, pause_s, up_s, depth_deg, rest_deg=rest_deg)
        t0 = self.t
        self._pitch_to(t0, self.pitch[-1][1])
        self._pitch_to(t0 + down_s, depth_deg)
        if pause_s:
            self._pitch_to(t0 + down_s + pause_s, depth_deg)
        self._pitch_to(rep.end, rest_deg)
        for loss in sorted(losses, key=lambda l: l[1]):
            point, at, dur = loss[0], loss[1], loss[2]
            f = loss[3] if len(loss) > 3 else fall_s
            r = loss[4] if len(loss) > 4 else rise_s
            bounce = loss[5] if len(loss) > 5 else None
            if point not in POINTS:
                raise ValueError(f"unknown point {point!r} (one of {', '.join(POINTS)})")
            s = t0 + at
            if s - f < t0 or s + dur + r > rep.end + 1e-9 or dur <= 0:
                raise ValueError(f"loss of {point} at {at} s for {dur} s does not fit in a "
                                 f"{rep.end - t0:.2f} s rep")
            self._contact_to(point, s - f, 1.0)
            self._contact_to(point, s, 0.0)
            if bounce:
                b_at, b_w = bounce
                if not (0.02 < b_at and b_at + b_w < dur - 0.02):
                    raise ValueError("a bounce must lie inside its loss")
                self._contact_to(point, s + b_at, 0.0)
                self._contact_to(point, s + b_at + b_w / 2, 0.5)
                self._contact_to(point, s + b_at + b_w, 0.0)
            self._contact_to(point, s + dur, 0.0)
            self._contact_to(point, s + dur + r, 1.0)
            rep.losses.append(LossScript(point, s, dur, f, r, tuple(bounce) if bounce else None))
        self._set.reps.append(rep)
        self.t = rep.end
        return rep

    def remove(self, offsets_s: Dict[str, float], ramps_s: Dict[str, float]) -> None:
        """Each point starts to release at ``t + offset`` and reads zero ``ramp`` later."""
        self._need_set("remove")
        t0 = self.t
        for p in POINTS:
            self._contact_to(p, t0 + offsets_s[p], 1.0)
            self._contact_to(p, t0 + offsets_s[p] + ramps_s[p], 0.0)
        self._set.removal_start = t0 + min(offsets_s.values())
        self._set.end = t0 + max(offsets_s[p] + ramps_s[p] for p in POINTS)
        self.sets.append(self._set)
        self._set = None
        self._pitch_to(self.sets[-1].end, self.pitch[-1][1])
        self.t = self.sets[-1].end

    def bump(self, point: str, start: float, duration_s: float, level: float = 0.7,
             ramp_s: float = 0.05) -> None:
        """While the dowel is off (after an idle step), ``point`` alone touches from
        ``start`` for ``duration_s`` at ``level`` of its force: not a set, not a loss."""
        if self.in_set:
            raise ValueError("a bump is a touch while the dowel is off")
        if start + duration_s > self.t or duration_s <= 2 * ramp_s:
            raise ValueError("a bump must lie inside the idle step before it")
        self._contact_to(point, start, 0.0)
        self._contact_to(point, start + ramp_s, level)
        self._contact_to(point, start + duration_s - ramp_s, level)
        self._contact_to(point, start + duration_s, 0.0)
        self.bumps.append((point, start, duration_s))

    def glitch(self, t: float, width_s: float, channel: int, kind: int, value: float) -> None:
        self.glitches.append((t, t + width_s, channel, kind, value))

    def _need_set(self, step: str) -> None:
        if not self.in_set:
            raise ValueError(f"{step} with the dowel off: place it first")

    def build(self, still: bool = False) -> SessionScript:
        if self.in_set:
            raise ValueError("the script ends with the dowel on: remove it first")
        return SessionScript(duration_s=self.t, sets=self.sets,
                             contact_knots={p: list(k) for p, k in self.contact.items()},
                             pitch_knots=list(self.pitch), glitches=sorted(self.glitches),
                             still=still, bumps=list(self.bumps))


# -- the session ------------------------------------------------------------------------
def _eased(tg: np.ndarray, knots: List[Tuple[float, float]]) -> np.ndarray:
    """Half-cosine easing between consecutive knots, held before/after."""
    kt = np.array([k[0] for k in knots])
    kv = np.array([k[1] for k in knots])
    i = np.clip(np.searchsorted(kt, tg, side="right") - 1, 0, len(kt) - 1)
    j = np.minimum(i + 1, len(kt) - 1)
    span = kt[j] - kt[i]
    u = np.where(span > 0, (tg - kt[i]) / np.where(span > 0, span, 1.0), 0.0)
    u = np.clip(u, 0.0, 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * u)
    return kv[i] + (kv[j] - kv[i]) * w


def _smooth_noise(rng: np.random.Generator, n: int, corner_hz: float) -> np.ndarray:
    """Unit-std noise with nothing much faster than ``corner_hz``: white noise at
    ``corner_hz`` interpolated onto the grid, then smoothed by a moving average."""
    step = max(1, int(GRID_HZ / corner_hz))
    coarse = rng.standard_normal(n // step + 3)
    x = np.interp(np.arange(n) / step, np.arange(coarse.size), coarse)
    # moving average over one coarse step (cumulative sums: O(n) whatever the width)
    c = np.concatenate(([0.0], np.cumsum(x)))
    lo = np.clip(np.arange(n) - step // 2, 0, n)
    hi = np.clip(lo + step, 0, n)
    x = (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
    sd = x.std()
    return x / sd if sd > 0 else x


class SimSession:
    """A session ready to be sampled: ``voltages(t)``, ``frames()``, ``truth``."""

    def __init__(self, script: SessionScript, profile: AthleteProfile, seed: int = 0) -> None:
        self.script = script
        self.profile = profile
        self.seed = seed
        self.duration_s = float(script.duration_s)
        rng = _rng(seed, 2)
        n = int(math.ceil(self.duration_s * GRID_HZ)) + 2
        tg = np.arange(n) / GRID_HZ

        pitch = _eased(tg, script.pitch_knots)
        if not script.still:
            sway = _smooth_noise(rng, n, 0.5)
            holding = np.zeros(n, dtype=bool)
            for s in script.sets:
                holding[int(s.place_start * GRID_HZ):int(s.end * GRID_HZ) + 1] = True
            pitch = pitch + sway * np.where(holding, profile.sway_deg, profile.idle_sway_deg)
        self._pitch = pitch

        smooth = np.empty((4, n))
        noise_scale = np.empty((4, n))
        contact = {}
        for p in POINTS:
            knots = script.contact_knots[p]
            contact[p] = np.interp(tg, [k[0] for k in knots], [k[1] for k in knots])
        # the share a point carries while another is off (only between placing and removal:
        # putting the dowel on and taking it off are not losses)
        off_share = {p: np.zeros(n) for p in POINTS}
        for st in script.sets:
            a, b = int(st.placed * GRID_HZ), int(st.removal_start * GRID_HZ)
            for p in POINTS:
                off_share[p][a:b] = 1.0 - contact[p][a:b]
        sin_pitch = np.sin(np.radians(pitch))
        for ci, p in enumerate(POINTS):
            c = contact[p]
            wander = 1.0 + profile.force_wander * _smooth_noise(rng, n, 0.3)
            # outside sets only a bump can load a point: its plain resting force
            force = np.clip(profile.rest_n[p] * wander, *HELD_FORCE_N)
            others = sum(off_share[q] for q in POINTS if q != p)
            for st in script.sets:
                a, b = int(st.place_start * GRID_HZ), min(n, int(math.ceil(st.end * GRID_HZ)) + 1)
                dt = np.maximum(tg[a:b] - st.start, 0.0)
                drift = (1.0 + profile.creep_frac[p] * (1.0 - np.exp(-dt / profile.creep_tau_s))
                         - profile.fatigue_per_min[p] * dt / 60.0)
                # each rep presses a little differently, most at the bottom
                kt, kv = [tg[a]], [1.0]
                for r in st.reps:
                    f = 1.0 + rng.uniform(-profile.rep_force_spread, profile.rep_force_spread)
                    kt += [r.start, r.start + r.down_s + r.pause_s / 2, r.end]
                    kv += [1.0, f, 1.0]
                per_rep = np.interp(tg[a:b], kt, kv)
                held = (profile.rest_n[p] * st.force_scale[p] * drift * per_rep * wander[a:b]
                        * (1.0 + profile.hinge_mod[p] * sin_pitch[a:b])
                        * (1.0 + profile.redistribution * others[a:b]))
                force[a:b] = np.clip(held, *HELD_FORCE_N)
            smooth[ci] = fsr_volts_array(force * c)
            noise_scale[ci] = np.where(c > 0, profile.contact_noise_v[p], profile.open_noise_v)
        smooth[3] = tilt_volts_array(pitch + profile.tilt_offset_deg)
        if profile.sensor_radius_m:
            # the accelerometer also feels the hinge's tangential acceleration r * theta''
            omega = np.gradient(np.radians(pitch), 1.0 / GRID_HZ)
            alpha = np.gradient(omega, 1.0 / GRID_HZ)
            smooth[3] += constants.TILT_SCALE_V * profile.sensor_radius_m * alpha / 9.81
        noise_scale[3] = profile.tilt_noise_v
        # float32 halves the memory (a 3-minute session is 7 MB); far finer than the ADC
        self._smooth = smooth.astype(np.float32)
        self._noise = (rng.standard_normal((4, n)) * noise_scale).astype(np.float32)
        self._n = n
        g = script.glitches
        self._glitch_start = [[x[0] for x in g if x[2] == ch] for ch in range(4)]
        self._glitch = [[x for x in g if x[2] == ch] for ch in range(4)]
        self.truth = self._truth()

    def _freeze(self) -> None:
        for a in (self._pitch, self._smooth, self._noise):
            a.flags.writeable = False

    def _copy(self) -> "SimSession":
        """Another session with the same (read-only) signal arrays and its own copy
        of everything a caller could change."""
        other = copy.copy(self)
        other.script = copy.deepcopy(self.script)
        other.profile = copy.deepcopy(self.profile)
        other.truth = copy.deepcopy(self.truth)
        other._glitch_start = copy.deepcopy(self._glitch_start)
        other._glitch = copy.deepcopy(self._glitch)
        return other

    # -- sampling -------------------------------------------------------------------------
    def voltages(self, t: float) -> Tuple[float, float, float, float]:
        """(head, upper_back, sacrum, tilt) volts at time ``t`` (clamped to the session)."""
        x = min(max(float(t), 0.0), self.duration_s) * GRID_HZ
        i = min(int(math.floor(x)), self._n - 2)
        frac = x - i
        out = []
        for ch in range(4):
            row = self._smooth[ch]
            a = float(row[i])
            v = a + (float(row[i + 1]) - a) * frac + float(self._noise[ch, i])
            k = bisect.bisect_right(self._glitch_start[ch], x / GRID_HZ) - 1
            if k >= 0:
                g = self._glitch[ch][k]
                if x / GRID_HZ < g[1]:
                    v = g[4] if g[3] == SET else v + g[4]
            out.append(min(max(v, 0.0), constants.SUPPLY_V))
        return tuple(out)

    def voltages_array(self, ts: np.ndarray) -> np.ndarray:
        """:meth:`voltages` for many times at once: shape (4, len(ts))."""
        x = np.clip(np.asarray(ts, dtype=float), 0.0, self.duration_s) * GRID_HZ
        i = np.minimum(np.floor(x).astype(np.int64), self._n - 2)
        frac = x - i
        # the same float64 arithmetic as voltages(), so both give identical numbers
        a = self._smooth[:, i].astype(np.float64)
        v = a + (self._smooth[:, i + 1].astype(np.float64) - a) * frac \
            + self._noise[:, i].astype(np.float64)
        tt = x / GRID_HZ
        for ch in range(4):
            starts = self._glitch_start[ch]
            if not starts:
                continue
            k = np.searchsorted(np.array(starts), tt, side="right") - 1
            hit = np.nonzero(k >= 0)[0]
            ends = np.array([g[1] for g in self._glitch[ch]])
            kinds = np.array([g[3] for g in self._glitch[ch]])
            vals = np.array([g[4] for g in self._glitch[ch]])
            hit = hit[tt[hit] < ends[k[hit]]]
            kk = k[hit]
            v[ch, hit] = np.where(kinds[kk] == SET, vals[kk], v[ch, hit] + vals[kk])
        return np.clip(v, 0.0, constants.SUPPLY_V)

    def frame_times(self, rate_hz: float = 200.0, jitter: float = 0.2,
                    seed: Optional[int] = None) -> np.ndarray:
        """Frame times like a real recording: each interval is ``1/rate_hz`` times
        ``1 + U(-jitter/2, +jitter/2)`` (the sample recording has jitter 0.1)."""
        if rate_hz <= 0:
            raise ValueError("rate_hz must be positive")
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        rng = _rng(self.seed if seed is None else seed, 3, int(rate_hz * 1000))
        period = 1.0 / rate_hz
        n = int(self.duration_s * rate_hz * (1 + jitter) + 10)
        dt = period * (1.0 + jitter * (rng.random(n) - 0.5))
        t = np.concatenate(([0.0], np.cumsum(dt)))
        return t[t <= self.duration_s]

    def frames(self, rate_hz: float = 200.0, jitter: float = 0.2,
               seed: Optional[int] = None) -> List[Frame]:
        """The session sampled like a recording (see :meth:`frame_times`)."""
        t = self.frame_times(rate_hz, jitter, seed)
        v = self.voltages_array(t)
        return list(map(Frame, t.tolist(), v[0].tolist(), v[1].tolist(), v[2].tolist(),
                        v[3].tolist()))

    def pitch_deg(self, t: float) -> float:
        """The dowel's true pitch at ``t`` (for tests and plots)."""
        x = min(max(float(t), 0.0), self.duration_s) * GRID_HZ
        i = min(int(x), self._n - 2)
        return float(self._pitch[i] + (self._pitch[i + 1] - self._pitch[i]) * (x - i))

    # -- truth ------------------------------------------------------------------------------
    def _truth(self) -> dict:
        sets = []
        for s in self.script.sets:
            reps = []
            for r in s.reps:
                a, b = int(round(r.start * GRID_HZ)), int(round(r.end * GRID_HZ)) + 1
                depth = float(self._pitch[a:b].max())
                reps.append({
                    "start": round(r.start, 3), "end": round(r.end, 3), "depth_deg": depth,
                    "down_s": round(r.down_s, 3), "up_s": round(r.up_s, 3),
                    "losses": [{"point": l.point, "start": round(l.start, 3),
                                "duration_s": round(l.duration_s, 3)} for l in r.losses],
                })
            sets.append({"start": round(s.start, 3), "removal_start": round(s.removal_start, 3),
                         "end": round(s.end, 3), "reps": reps})
        return {"sets": sets}


# -- random sessions ------------------------------------------------------------------
def random_profile(rng: np.random.Generator, noisy: bool = False) -> AthleteProfile:
    rest = {p: float(rng.uniform(1.5, 6.5)) for p in POINTS}
    return AthleteProfile(
        rest_n=rest,
        replace_spread=float(rng.uniform(0.03, 0.12)),
        creep_frac={p: float(rng.uniform(0.0, 0.15)) for p in POINTS},
        creep_tau_s=float(rng.uniform(8.0, 40.0)),
        fatigue_per_min={p: float(rng.uniform(0.0, 0.2)) for p in POINTS},
        hinge_mod={p: float(rng.uniform(-0.35, 0.35)) for p in POINTS},
        contact_noise_v={p: float(rng.uniform(0.025, 0.045) if noisy else rng.uniform(0.006, 0.022))
                         for p in POINTS},
        open_noise_v=float(rng.uniform(0.004, 0.01) if noisy else rng.uniform(0.0015, 0.004)),
        tilt_noise_v=float(rng.uniform(0.005, 0.01) if noisy else rng.uniform(0.0015, 0.004)),
        tilt_offset_deg=float(rng.uniform(-5.0, 5.0)),
        sway_deg=float(rng.uniform(0.2, 1.2 if noisy else 0.8)),
        idle_sway_deg=float(rng.uniform(0.5, 3.0)),
        force_wander=float(rng.uniform(0.01, 0.05)),
        rep_force_spread=float(rng.uniform(0.0, 0.1)),
        redistribution=float(rng.uniform(0.0, 0.3)),
    )


def _idle_step(b: ScriptBuilder, rng: np.random.Generator, duration_s: float,
               bump_prob: float = 0.0) -> None:
    t0 = b.t
    style = rng.choice(["wall", "wall", "floor", "hand"])
    if style == "wall":
        b.idle(duration_s, level_deg=float(rng.uniform(78.0, 90.0)))
    elif style == "floor":
        b.idle(duration_s, level_deg=float(rng.uniform(86.0, 94.0)))
    else:
        k = int(rng.integers(1, 4))
        b.idle(duration_s, level_deg=float(rng.uniform(0.0, 40.0)),
               wander=[float(x) for x in rng.uniform(-10.0, 70.0, k)])
    if duration_s >= 2.0 and rng.random() < bump_prob:
        # fumbling the dowel into place: one or two points touch briefly first
        start = b.t - float(rng.uniform(0.6, min(1.5, duration_s - 0.4)))
        dur = float(rng.uniform(0.15, 0.45))
        for p in rng.choice(POINTS, size=int(rng.integers(1, 3)), replace=False):
            b.bump(str(p), max(start + float(rng.uniform(0.0, 0.08)), t0 + 0.1), dur,
                   level=float(rng.uniform(0.3, 0.9)))


def _touch(rng, stagger_s: float, ramp: Tuple[float, float]):
    offsets = {p: float(rng.uniform(0.0, stagger_s)) for p in POINTS}
    lo = min(offsets.values())
    offsets = {p: o - lo for p, o in offsets.items()}
    ramps = {p: float(rng.uniform(*ramp)) for p in POINTS}
    return offsets, ramps


def _draw_losses(rng, params: SimParams, down_s, pause_s, up_s, n_losses):
    """(point, start after rep start, duration, fall, rise) that fit the rep; any phase,
    sometimes spanning the bottom."""
    rep_s = down_s + pause_s + up_s
    out = []
    busy: Dict[str, List[Tuple[float, float]]] = {p: [] for p in POINTS}
    for _ in range(n_losses):
        fall = float(rng.uniform(0.01, 0.08 if params.noisy else 0.05))
        rise = float(rng.uniform(0.01, 0.08 if params.noisy else 0.05))
        margin = 0.05
        room = rep_s - 2 * margin - fall - rise
        if room < params.loss_s[0]:
            break
        dur = float(rng.uniform(params.loss_s[0], min(params.loss_s[1], room)))
        where = rng.choice(["down", "bottom", "up", "any"], p=[0.25, 0.3, 0.25, 0.2])
        lo, hi = margin + fall, rep_s - margin - rise - dur
        if where == "bottom":
            # spans the turnaround: starts before the bottom, ends after it
            lo2, hi2 = max(lo, down_s + pause_s - dur + 0.02), min(hi, down_s - 0.02)
        elif where == "down":
            lo2, hi2 = lo, min(hi, down_s - dur * 0.5)
        elif where == "up":
            lo2, hi2 = max(lo, down_s + pause_s), hi
        else:
            lo2, hi2 = lo, hi
        if hi2 < lo2:
            lo2, hi2 = lo, hi
        start = float(rng.uniform(lo2, hi2))
        point = str(rng.choice(POINTS))
        span = (start - fall - 0.2, start + dur + rise + 0.2)
        if any(span[0] < e and s < span[1] for s, e in busy[point]):
            continue
        busy[point].append(span)
        bounce = None
        if dur > 0.15 and rng.random() < params.bounce_prob:
            # a brief touch well inside the loss, shorter than any debounce
            width = float(rng.uniform(0.004, 0.010))
            bounce = (float(rng.uniform(0.05, dur - width - 0.05)), width)
        out.append((point, start, dur, fall, rise, bounce))
    return out


def _wobble(rng, params: SimParams, gap_s: float):
    """(at, duration, amplitude) of a sway that is not a rep, or None."""
    if gap_s < 0.8 or rng.random() >= params.wobble_prob:
        return None
    dur = float(rng.uniform(0.4, min(1.5, gap_s - 0.2)))
    at = float(rng.uniform(0.1, gap_s - dur - 0.05))
    amp = float(rng.uniform(1.5, params.wobble_max_deg))
    if rng.random() < 0.2:
        amp = -min(amp, 4.0)        # leaning back a little
    return at, dur, amp


def generate_session(seed: int = 0, noisy: bool = False, **overrides) -> SimSession:
    """A random session drawn from ``seed``: 1-3 sets of 1-15 reps with idle between.

    ``noisy=True``: more sensor noise, more dropouts and glitches, more wobbles,
    more losses.  ``overrides`` set :class:`SimParams` fields (``n_sets``,
    ``reps``, ``loss_prob``, ``profile``...).

    A pure function of its arguments, so the last session made is kept and the
    same call again gets a copy of it at once (each caller its own script,
    profile and truth; the signal arrays are shared and read-only).  Only the
    last one: a looping mock athlete or a bench walking through seeds holds no
    more memory than before.
    """
    key = _session_key(seed, noisy, overrides)
    last = _LAST_SESSION.get(key) if key is not None else None
    if last is not None:
        return last._copy()
    session = _generate_session(seed, noisy, **overrides)
    if key is not None:
        session._freeze()
        _LAST_SESSION.clear()
        _LAST_SESSION[key] = session
        return session._copy()
    return session


#: The last generated session by its arguments (at most one entry).
_LAST_SESSION: Dict[tuple, SimSession] = {}
_PLAIN = (int, float, bool, str, type(None))


def _session_key(seed, noisy, overrides) -> Optional[tuple]:
    """A key for plain arguments (numbers, strings, tuples and lists of them, an
    AthleteProfile); None - not kept - for anything else."""
    def plain(v):
        if isinstance(v, _PLAIN):
            return (type(v).__name__, v)
        if isinstance(v, (tuple, list)) and all(isinstance(x, _PLAIN) for x in v):
            return (type(v).__name__, tuple(v))
        if type(v) is AthleteProfile:
            return ("profile", repr(v))
        raise TypeError
    try:
        return (plain(seed), plain(noisy), tuple(sorted((k, plain(v)) for k, v in overrides.items())))
    except TypeError:
        return None


def _generate_session(seed: int = 0, noisy: bool = False, **overrides) -> SimSession:
    params = SimParams.noisy_defaults() if noisy else SimParams()
    names = {f.name for f in fields(SimParams)}
    bad = sorted(set(overrides) - names)
    if bad:
        raise TypeError(f"generate_session: unknown override(s) {', '.join(bad)} "
                        f"(known: {', '.join(sorted(names))})")
    params = replace(params, **overrides)
    rng = _rng(seed, 1)
    profile = params.profile or random_profile(rng, params.noisy)
    n_sets = params.n_sets if params.n_sets is not None else int(rng.integers(1, 4))
    reps_per_set = list(params.reps) if params.reps is not None else \
        [int(rng.choice(np.arange(1, 16), p=_REPS_P)) for _ in range(n_sets)]
    if len(reps_per_set) != n_sets:
        n_sets = len(reps_per_set)

    b = ScriptBuilder()
    _idle_step(b, rng, float(rng.uniform(1.5, 6.0)), params.bump_prob)
    for si, n_reps in enumerate(reps_per_set):
        offsets, ramps = _touch(rng, params.stagger_s, (0.08, 0.3))
        scale = {p: float(1.0 + rng.uniform(-profile.replace_spread, profile.replace_spread))
                 for p in POINTS}
        b.place(offsets, ramps, scale)
        # the athlete settles upright first (what calibration learns from)
        settle = float(rng.uniform(1.5, 3.0))
        b.upright(settle)
        # this set's style: tempo, depth, pauses, slouching; reps vary around it and tire
        base_depth = float(rng.uniform(*params.depth_deg))
        base_phase = float(rng.uniform(params.phase_s[0], params.phase_s[1]))
        pause_prob = float(rng.uniform(0.0, 1.0))
        slouch_deg = float(rng.uniform(1.0, 4.0)) if rng.random() < params.slouch_prob else 0.0
        rest = 0.0
        for ri in range(n_reps):
            if ri:
                gap = float(rng.uniform(0.3, 2.5))
                rest = slouch_deg * float(rng.uniform(0.3, 1.0))
                b.upright(gap, _wobble(rng, params, gap), rest_deg=rest)
                if rng.random() < 0.5:
                    rest = slouch_deg * float(rng.uniform(0.3, 1.0))
            depth = float(np.clip(base_depth + rng.normal(0, 5.0) - 0.4 * ri,
                                  *params.depth_deg))
            down = float(np.clip(base_phase * rng.uniform(0.8, 1.25), *params.phase_s))
            up = float(np.clip(base_phase * rng.uniform(0.7, 1.2), *params.phase_s))
            pause = float(rng.uniform(0.15, 1.0)) if rng.random() < pause_prob else 0.0
            n_loss = 0
            if rng.random() < params.loss_prob:
                n_loss = 2 if rng.random() < params.second_loss_prob else 1
            losses = _draw_losses(rng, params, down, pause, up, n_loss)
            b.rep(depth, down, up, pause, losses=losses, rest_deg=rest)
        end_upright = float(rng.uniform(0.5, 2.0))
        b.upright(end_upright, _wobble(rng, params, end_upright))
        offsets, ramps = _touch(rng, params.stagger_s, (0.1, 0.35))
        b.remove(offsets, ramps)
        idle_s = float(rng.uniform(3.0, 15.0)) if si < n_sets - 1 else float(rng.uniform(1.5, 4.0))
        _idle_step(b, rng, idle_s, params.bump_prob)
    _add_glitches(b, rng, params)
    return SimSession(b.build(), profile, seed)


# Reps per set: anything from 1 to 15, most often a program's 8-12.
_REPS_W = np.array([1, 1, 1, 1, 2, 2, 3, 4, 4, 5, 4, 4, 2, 2, 2], dtype=float)
_REPS_P = _REPS_W / _REPS_W.sum()


def _held_windows(b: ScriptBuilder, point: str, guard_s: float = 0.06):
    """Spans where ``point`` is fully held (contact factor 1), shrunk by ``guard_s``."""
    knots = b.contact[point]
    out = []
    for (t0, v0), (t1, v1) in zip(knots, knots[1:]):
        if v0 == 1.0 and v1 == 1.0 and t1 - t0 > 2 * guard_s:
            out.append((t0 + guard_s, t1 - guard_s))
    return out


def _sample_times(rng, windows, rate_per_min, min_gap_s=0.15):
    total = sum(b - a for a, b in windows)
    n = int(rng.poisson(rate_per_min * total / 60.0))
    times = []
    for _ in range(n):
        x = rng.uniform(0, total)
        for a, b in windows:
            if x <= b - a:
                times.append(a + x)
                break
            x -= b - a
    times.sort()
    kept = []
    for t in times:
        if not kept or t - kept[-1] >= min_gap_s:
            kept.append(t)
    return kept


def _add_glitches(b: ScriptBuilder, rng, params: SimParams) -> None:
    """Single-sample dropouts (a point reads ~0 V for 2-3.5 ms: hits at most one frame at
    200 Hz) and, for noisy sessions, one-sample dips/spikes and tilt glitches."""
    for ci, p in enumerate(POINTS):
        wins = _held_windows(b, p)
        for t in _sample_times(rng, wins, params.dropouts_per_min):
            b.glitch(t, float(rng.uniform(0.002, 0.0035)), ci, SET, float(rng.uniform(0, 0.004)))
        for t in _sample_times(rng, wins, params.partial_glitches_per_min):
            if any(g[0] - 0.15 < t < g[1] + 0.15 for g in b.glitches if g[2] == ci):
                continue
            b.glitch(t, float(rng.uniform(0.002, 0.0035)), ci, ADD,
                     float(rng.choice([-1, 1]) * rng.uniform(0.1, 0.4)))
    set_wins = [(s.start, s.removal_start) for s in b.sets]
    for t in _sample_times(rng, set_wins, params.tilt_glitches_per_min):
        b.glitch(t, float(rng.uniform(0.002, 0.0035)), 3, ADD,
                 float(rng.choice([-1, 1]) * rng.uniform(0.01, 0.04)))
