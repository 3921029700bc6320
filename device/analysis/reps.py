"""Rep analysis: a state machine over the smoothed pitch, frame by frame.

A rep is a hinge from upright down past ``min_depth_deg`` and back up.
Wobbles of a few degrees never start one; a descent that turns back before
the minimum depth is a wobble too.  Times come from the frames (``t``),
never from a clock.

Definitions (compared with the sample's truth file):

* ``start``: the moment the athlete leaves upright - the last frame at
  upright level before the descent that went past the minimum depth;
* ``depth_deg``: the deepest pitch of the rep;
* ``end``: the moment the athlete is back upright - the first frame within
  about a degree of where the return settles;
* ``down_s``: start until first reaching the bottom (within ``NEAR_BOTTOM_DEG``
  of the deepest pitch), ``up_s``: leaving the bottom until ``end``, so a
  pause at the bottom counts in neither.

The end of a rep can only be known once the athlete has settled
(``SETTLE_S``): this is the only delay in the analysis, and it delays only
the ``rep_completed`` event, never an alert.
"""
from __future__ import annotations

__all__ = ["RepTracker", "UPRIGHT", "DOWN", "UP", "RETURN"]

#: A descent starts (tentatively) above this many degrees over the upright level;
#: wobbles stay below it or turn back before the minimum depth.
START_DEG = 8.0
#: The rep is over once the pitch is back within this of the upright level (or
#: this fraction of the depth: a sloppy athlete may not come all the way up
#: before the next hinge)...
RETURN_DEG = 10.0
RETURN_FRACTION = 0.25
#: ...and has settled: no new low by more than ``SETTLE_DEG`` for ``SETTLE_S``.
SETTLE_S = 0.25
SETTLE_DEG = 1.0
#: ...or has been back at the upright level it left from for ``BACK_S`` (a slow
#: drift of posture never settles), or near upright for ``RETURN_MAX_S``.
BACK_S = 0.3
RETURN_MAX_S = 2.0
#: "At upright level": within this of the running upright level.
QUIET_DEG = 1.0
#: Turning at the bottom: this far (or ``TURN_FRACTION`` of the depth) above the deepest point.
TURN_DEG = 4.0
TURN_FRACTION = 0.08
#: Tolerance for "at the bottom" when timing the descent and the ascent.
NEAR_BOTTOM_DEG = 1.5
#: Upright level tracking while upright (posture drifts a little during a set).
BASELINE_TAU_S = 1.0
BASELINE_MAX_DEG = 6.0

#: Phases (also the ``phase`` of the status snapshot, with ``idle`` outside a set).
UPRIGHT = "upright"
DOWN = "down"
UP = "up"
RETURN = "return"     # back near upright, waiting to settle (reported as "up")


class RepTracker:
    """Counts reps in one set from ``step(t, pitch_deg)``.

    ``step`` returns ``None``, ``"started"`` (the descent went past the minimum
    depth: a rep is under way, ``start`` is known) or ``"completed"`` (the rep
    in ``last_rep`` is finished).  A ``"completed"`` and a new descent can
    happen at the same frame; the caller then sees ``pending_start`` set.
    """

    def __init__(self, min_depth_deg: float = 25.0):
        self.min_depth_deg = min_depth_deg
        self.reset(0.0)

    def reset(self, t: float) -> None:
        self.phase = UPRIGHT
        self.baseline = 0.0
        self.quiet_t = t           # last frame at upright level
        self.last_t = t
        self.confirmed = False     # the current descent went past min depth
        self.start_t = t
        self.max_p = 0.0
        self.max_t = t
        self.depth = 0.0
        self.near_ref = 0.0        # pitch at first reaching the bottom region
        self.bottom_first_t = t
        self.bottom_last_t = t
        self.min_p = 0.0
        self.end_t = t
        self.return_t = t
        self.back_t = None
        self.end_ref = 0.0
        self.last_rep = None
        self.pending_start = False
        # a rep starts from upright: until the athlete has been seen upright in
        # this set (the dowel may still be swinging over from the wall), no descent
        self.seen_upright = False

    def in_rep(self) -> bool:
        """True while a confirmed rep is under way (started, not yet completed)."""
        return self.confirmed

    def status_phase(self) -> str:
        return UP if self.phase == RETURN else self.phase

    def step(self, t: float, p: float, depth_p: float = None):
        """One frame: ``p`` the (lightly smoothed) pitch, ``depth_p`` the pitch
        to take the depth from (more smoothed; ``p`` when not given)."""
        if depth_p is None:
            depth_p = p
        if self.phase != UPRIGHT and depth_p > self.depth:
            self.depth = depth_p
        dt = t - self.last_t
        self.last_t = t
        phase = self.phase
        if phase == UPRIGHT:
            return self._step_upright(t, p, dt)
        if phase == DOWN:
            return self._step_down(t, p)
        if phase == UP:
            return self._step_up(t, p)
        return self._step_return(t, p)

    def _turn_deg(self) -> float:
        """How far above the deepest point the athlete is turning back up."""
        return max(TURN_DEG, TURN_FRACTION * self.max_p)

    def _step_upright(self, t: float, p: float, dt: float):
        base = self.baseline
        if p <= base + QUIET_DEG:
            self.quiet_t = t
            self.seen_upright = True
        if p < base + START_DEG or not self.seen_upright:
            if dt > 0.0:
                base += (p - base) * (dt / (BASELINE_TAU_S + dt))
                self.baseline = max(-BASELINE_MAX_DEG, min(BASELINE_MAX_DEG, base))
            return None
        self._begin_descent(t, p)
        return None

    def _step_down(self, t: float, p: float):
        self._track_bottom(t, p)
        if not self.confirmed:
            if self.max_p >= self.min_depth_deg:
                self.confirmed = True
                return "started"
            if p < self.baseline + START_DEG - 2.0:
                # turned back before the minimum depth: a wobble
                self.phase = UPRIGHT
            return None
        if p < self.max_p - self._turn_deg():
            self.phase = UP
        return None

    def _step_up(self, t: float, p: float):
        if p > self.max_p - self._turn_deg():
            # still at (or back to) the bottom: a pause, or a second dip
            self.phase = DOWN
            self._track_bottom(t, p)
            return None
        if p <= self.baseline + max(RETURN_DEG, RETURN_FRACTION * (self.max_p - self.baseline)):
            self.phase = RETURN
            self.return_t = t
            self.back_t = None
            self.min_p = p
            self.end_ref = p
            self.end_t = t
        return None

    def _step_return(self, t: float, p: float):
        """Back near upright: wait for the pitch to settle there."""
        if p < self.end_ref - SETTLE_DEG:
            self.end_ref = p
            self.end_t = t
        if p < self.min_p:
            self.min_p = p
        if p > self.baseline + START_DEG and p > self.min_p + START_DEG:
            # a new descent before settling: this rep ended at its lowest point
            self._complete()
            self.quiet_t = self.end_t
            self._begin_descent(t, p)
            self.pending_start = True
            return "completed"
        if self.back_t is None and p <= self.baseline + QUIET_DEG:
            self.back_t = t
        if (t - self.end_t >= SETTLE_S or t - self.return_t >= RETURN_MAX_S
                or (self.back_t is not None and t - self.back_t >= BACK_S)):
            # settled; or back at the upright level it left from and still
            # drifting slowly (a breath, a slouch); or simply long enough
            self._complete()
            self.phase = UPRIGHT
            self.quiet_t = self.end_t
            return "completed"
        return None

    def finish(self) -> bool:
        """The set ends: a rep already back near upright counts (``last_rep``);
        one still down or on its way up does not.  True if a rep was completed."""
        if self.phase == RETURN:
            self._complete()
            self.phase = UPRIGHT
            return True
        return False

    def _begin_descent(self, t: float, p: float) -> None:
        self.phase = DOWN
        self.confirmed = False
        self.start_t = self.quiet_t
        self.max_p = p
        self.max_t = t
        self.depth = -90.0       # from the next frame on (the depth signal lags)
        self.near_ref = p
        self.bottom_first_t = t
        self.bottom_last_t = t

    def _track_bottom(self, t: float, p: float) -> None:
        if p > self.max_p:
            self.max_p = p
            self.max_t = t
        if p > self.near_ref + NEAR_BOTTOM_DEG:
            # a new, deeper bottom region: the descent is not over yet
            self.near_ref = p
            self.bottom_first_t = t
        if p >= self.max_p - NEAR_BOTTOM_DEG:
            self.bottom_last_t = t

    def _complete(self) -> None:
        start, end = self.start_t, self.end_t
        self.last_rep = {
            "start": start,
            "end": end,
            "depth_deg": self.depth,
            "down_s": max(0.0, self.bottom_first_t - start),
            "up_s": max(0.0, end - self.bottom_last_t),
        }
        self.confirmed = False
        # settle the upright level where the athlete came back to
        self.baseline = max(-BASELINE_MAX_DEG, min(BASELINE_MAX_DEG, self.min_p))
