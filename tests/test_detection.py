"""Contact detection and tilt: pitch conversion, debounce, thresholds."""
from __future__ import annotations

import math

import pytest

from device.analysis.contact import (
    CONTACT,
    LOST,
    PointContact,
    TiltFilter,
    pitch_deg,
    threshold_fractions,
)
from device.hw import constants


def volts(pitch, offset=0.0):
    return constants.TILT_ZERO_V + constants.TILT_SCALE_V * math.sin(math.radians(pitch + offset))


# -- pitch -----------------------------------------------------------------------------------
@pytest.mark.parametrize("pitch", [0.0, 10.0, 25.0, 45.0, 60.0, 80.0, -10.0])
def test_pitch_from_the_tilt_formula(pitch):
    assert pitch_deg(volts(pitch)) == pytest.approx(pitch, abs=1e-6)


def test_60_degrees_reads_1_94_volts():
    assert pitch_deg(1.9358) == pytest.approx(60.0, abs=0.1)


@pytest.mark.parametrize("offset", [-6.0, -2.0, 3.0, 7.0])
@pytest.mark.parametrize("pitch", [0.0, 30.0, 60.0, 75.0])
def test_mount_offset_is_taken_out_as_an_angle_not_as_volts(offset, pitch):
    upright_v = volts(0.0, offset)
    assert pitch_deg(volts(pitch, offset), upright_v) == pytest.approx(pitch, abs=1e-6)


def test_mount_offset_subtracting_volts_would_be_wrong():
    # the naive correction (subtract the upright volts) is off by degrees at depth
    offset = 7.0
    v, upright_v = volts(70.0, offset), volts(0.0, offset)
    naive = math.degrees(math.asin((v - upright_v) / constants.TILT_SCALE_V))
    assert abs(naive - 70.0) > 3.0
    assert pitch_deg(v, upright_v) == pytest.approx(70.0, abs=1e-6)


def test_out_of_range_tilt_is_clamped_not_an_error():
    assert pitch_deg(0.0) == pytest.approx(-90.0)
    assert pitch_deg(3.3) == pytest.approx(90.0)


def test_tilt_filter_drops_a_single_frame_glitch():
    f = TiltFilter()
    out = [f.step(i * 0.005, 0.0 if i == 50 else 1.9) for i in range(100)]
    assert min(out) == pytest.approx(1.9)


def test_tilt_filter_same_response_at_50_and_200_fps():
    def settle(rate):
        f = TiltFilter()
        out = 0.0
        for i in range(int(rate * 0.2)):
            out = f.step(i / rate, 1.65 if i < 2 else 1.95)
        return out
    assert settle(50) == pytest.approx(settle(200), abs=0.01)


def test_threshold_fractions_follow_sensitivity():
    lo_off, lo_on = threshold_fractions(0.0)
    mid_off, mid_on = threshold_fractions(0.5)
    hi_off, hi_on = threshold_fractions(1.0)
    assert (mid_off, mid_on) == pytest.approx((0.45, 0.6))
    assert lo_off < mid_off < hi_off and lo_on < mid_on < hi_on
    assert all(off < on for off, on in ((lo_off, lo_on), (mid_off, mid_on), (hi_off, hi_on)))


# -- debounce --------------------------------------------------------------------------------
def feed(point, samples, debounce_s=0.02):
    changes = []
    for t, v in samples:
        c = point.step(t, v, debounce_s)
        if c:
            changes.append((round(t, 4), c))
    return changes


def held_point(t0=0.0):
    p = PointContact("sacrum", 0.45, 0.6)
    p.begin(t0, 2.5)
    return p


@pytest.mark.parametrize("rate", [50.0, 100.0, 200.0])
def test_single_frame_dropout_is_never_a_loss(rate):
    p = held_point()
    dt = 1.0 / rate
    samples = [(i * dt, 0.0 if i in (40, 80) else 2.5) for i in range(200)]
    assert feed(p, samples) == []
    assert p.state == CONTACT


def test_thirty_ms_low_is_a_loss_and_comes_back_after_the_debounce():
    p = held_point()
    dt = 0.005
    samples = [(i * dt, 0.0 if 100 <= i < 106 else 2.5) for i in range(200)]
    changes = feed(p, samples)
    assert changes == [(0.52, "lost"), (0.55, "restored")]


def test_loss_at_50_fps_two_low_frames_twenty_ms_apart():
    p = held_point()
    samples = [(i * 0.02, 0.0 if i in (20, 21, 22) else 2.5) for i in range(40)]
    changes = feed(p, samples)
    assert changes[0] == (0.42, "lost")
    # the loss starts where the reading fell through the threshold: between
    # the last frame in contact and the first low one
    assert 0.38 < p.low_since < 0.40


def test_the_debounce_runs_from_the_threshold_crossing_not_the_first_low_frame():
    """A reading that fell through the threshold early between two frames has
    been low longer than the first low frame says: the loss is confirmed a
    frame sooner than when it crossed just before that frame."""
    dt = 0.004
    off = 2.5 * 0.45
    early = [2.5] * 99 + [1.3, 0.2] + [0.0] * 20      # 1.3 V at 0.396 s, 0.2 V at 0.400 s
    p = held_point()
    changes = feed(p, [(i * dt, v) for i, v in enumerate(early)])
    assert p.low_since == pytest.approx(0.400 - dt * (off - 0.2) / (1.3 - 0.2))
    assert changes == [(0.416, "lost")]
    late = [2.5] * 99 + [1.3, 1.1] + [0.0] * 20       # crossed just before 0.400 s
    p = held_point()
    assert feed(p, [(i * dt, v) for i, v in enumerate(late)]) == [(0.420, "lost")]


def test_ten_ms_low_is_not_a_loss_at_200_fps():
    p = held_point()
    samples = [(i * 0.005, 0.0 if 100 <= i < 102 else 2.5) for i in range(200)]
    assert feed(p, samples) == []


def test_restore_needs_the_debounce_too():
    p = held_point()
    samples = [(i * 0.005, 0.0) for i in range(10)]
    samples += [(0.05 + i * 0.005, 2.5 if i == 3 else 0.0) for i in range(10)]   # one high frame
    changes = feed(p, samples)
    assert changes == [(0.02, "lost")]
    assert p.state == LOST


def test_hysteresis_between_off_and_on():
    p = held_point()
    # 1.3 V is above the off threshold (1.125) but below on (1.5): no chatter either way
    samples = [(i * 0.005, 1.3) for i in range(20)]
    assert feed(p, samples) == []
    samples = [(0.1 + i * 0.005, 0.5) for i in range(10)] + [(0.15 + i * 0.005, 1.3) for i in range(20)]
    # low since the crossing between 0.095 s (1.3 V) and 0.1 s (0.5 V): 0.096 s
    assert feed(p, samples) == [(0.115, "lost")]
    assert p.state == LOST


def test_resting_level_follows_a_slow_drift():
    p = held_point()
    t = 0.0
    for i in range(int(30 / 0.005)):          # 30 s from 2.5 V down to 1.2 V
        t = i * 0.005
        assert p.step(t, 2.5 - 1.3 * t / 30.0, 0.02) is None
    # it lags a slow drift by a few seconds' worth, which is what keeps a rep's
    # force modulation out of it
    assert p.rest_v == pytest.approx(1.2, abs=0.25)
    assert p.state == CONTACT


def test_resting_level_learned_fast_at_the_start_of_a_set():
    p = PointContact("head", 0.45, 0.6)
    p.begin(0.0, 0.9)                         # confirmed while the force was still rising
    for i in range(200):
        p.step(i * 0.005, min(2.4, 0.9 + i * 0.05), 0.02)
    assert p.rest_v == pytest.approx(2.4, abs=0.05)
