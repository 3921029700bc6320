import pytest

from device.analysis.calibration import (
    CalibrationError,
    calibrate_from_frames,
    thresholds_for,
)
from device.analysis.frames import Frame
from device.hw.constants import fsr_volts


def hold(n=300, head_n=3.0, upper_n=5.0, sacrum_n=2.0, tilt_v=1.68, wobble_v=0.0):
    return [Frame(i / 200, fsr_volts(head_n), fsr_volts(upper_n), fsr_volts(sacrum_n),
                  tilt_v + (wobble_v if i % 2 else -wobble_v)) for i in range(n)]


def test_thresholds_sit_below_the_resting_voltage_with_hysteresis():
    cal = calibrate_from_frames(hold())
    for point, force in (("head", 3.0), ("upper_back", 5.0), ("sacrum", 2.0)):
        c = cal.points[point]
        assert c.rest_v == pytest.approx(fsr_volts(force), abs=1e-3)
        assert 0 < c.off_v < c.on_v < c.rest_v
    assert cal.tilt_upright_v == pytest.approx(1.68)


def test_higher_sensitivity_raises_the_threshold():
    assert thresholds_for(2.0, 0.9).off_v > thresholds_for(2.0, 0.1).off_v


def test_a_point_without_contact_is_refused_with_advice():
    frames = [f._replace(sacrum=0.01) for f in hold()]
    with pytest.raises(CalibrationError, match="sacrum"):
        calibrate_from_frames(frames)


def test_moving_during_the_hold_is_refused():
    with pytest.raises(CalibrationError, match="moved"):
        calibrate_from_frames(hold(wobble_v=0.1))


def swaying(n=600, amplitude_deg=2.0, period_s=4.0):
    """A person standing still: a slow sway of a couple of degrees and sensor noise."""
    import math
    out = []
    for f in hold(n):
        deg = amplitude_deg * math.sin(2 * math.pi * f.t / period_s)
        noise = 0.004 * math.sin(f.t * 377.0)          # mains hum on the long leads
        out.append(f._replace(tilt=1.65 + 0.33 * math.sin(math.radians(deg + 3.0)) + noise))
    return out


def test_the_sway_of_a_person_standing_still_is_accepted():
    cal = calibrate_from_frames(swaying())
    assert cal.tilt_upright_v == pytest.approx(1.65 + 0.33 * 0.0523, abs=0.01)


def test_a_single_glitched_frame_is_not_movement():
    frames = hold()
    frames[150] = frames[150]._replace(tilt=0.0)
    calibrate_from_frames(frames)


def test_the_words_name_the_pad_and_what_to_do():
    with pytest.raises(CalibrationError, match="^the head pad reads nothing: check it touches"):
        calibrate_from_frames([f._replace(head=0.0) for f in hold()])
    with pytest.raises(CalibrationError, match="^the head and sacrum pads read nothing: check they"):
        calibrate_from_frames([f._replace(head=0.0, sacrum=0.02) for f in hold()])
    with pytest.raises(CalibrationError, match="upper back pad reads 3.3 V.*shorted"):
        calibrate_from_frames([f._replace(upper_back=3.3) for f in hold()])


def test_calibration_takes_the_time_it_is_given():
    assert calibrate_from_frames(hold(), taken_at=1234.5).taken_at == 1234.5


def test_the_hold_retries_once_by_itself_then_says_why():
    from device.analysis.calibration import CalibrationHold

    h = CalibrationHold()
    assert h.judge(hold(wobble_v=0.1)) is None
    assert h.attempt == 1 and "moved" in h.retrying
    cal = h.judge(hold(), taken_at=5.0)
    assert cal.points["head"].rest_v > 1.0 and cal.taken_at == 5.0

    h = CalibrationHold()
    no_sacrum = [f._replace(sacrum=0.0) for f in hold()]
    assert h.judge(no_sacrum) is None
    with pytest.raises(CalibrationError, match="sacrum pad reads nothing"):
        h.judge(no_sacrum)
    assert h.attempt == 2


def test_the_recorded_hold_gets_no_frame_after_it_ended():
    # The polling thread calls the frame taps it took before the hold's tap was
    # removed, so the tap can run once more after the hold ended: that frame must
    # not land in the hold being judged.
    import threading
    from types import SimpleNamespace

    from device.runtime.calibrator import record_hold
    from device.runtime.clock import VirtualClock

    clock = VirtualClock()
    returned = threading.Event()
    taps = []

    def tap_frames(callback):
        taps.append(callback)
        return lambda: None

    def polling():
        while not taps:
            threading.Event().wait(0.001)
        for i in range(12):
            taps[0](SimpleNamespace(t=i * 0.1))        # the hold ends at t = 1.0
        returned.wait(10)
        taps[0](SimpleNamespace(t=1.2))                # a tap taken before remove()

    feeder = threading.Thread(target=polling)
    feeder.start()
    frames = record_hold(tap_frames, clock, 1.0, timeout_s=10)
    kept = list(frames)
    returned.set()
    feeder.join(10)
    assert [round(f.t, 1) for f in kept] == [round(i * 0.1, 1) for i in range(11)]
    assert frames == kept
