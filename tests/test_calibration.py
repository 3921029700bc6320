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
