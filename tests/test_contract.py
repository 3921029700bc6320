"""One set of checks for everything that keeps the core's contract
(device/runtime/contract.py): the tests' FakeCore, a real core on the emulated
chip, and the web process's CoreProxy talking to such a core over the channel.
When the real snapshot or behaviour changes, this fails until the Protocol, its
docs, the fake and the proxy follow."""
import pytest

from device.analysis.calibration import Calibration, CalibrationError
from device.analysis.settings import EXERCISES, Settings, SettingsError
from device.hw import constants
from device.runtime.contract import Coaching, Core, Health, PointStatus, Status, Subscription

HOLD_STILL = [("idle", 0.3), ("place", 0.3), ("upright", 30.0), ("remove", 0.3), ("idle", 0.3)]
NOTHING_ON = [("idle", 30.0), ("place", 0.3), ("remove", 0.3), ("idle", 0.3)]


def _core(kind: str, request, holding: bool):
    """The fake (from conftest), a started core on the emulated chip whose
    athlete holds the dowel still (``holding``) or leaves it off, or a proxy
    for that core across the channel."""
    if kind == "proxy":
        return _proxy(_core("mock", request, holding), request)
    if kind == "fake":
        fake = request.getfixturevalue("fake_core")
        fake.holding = holding
        return fake
    from device.hw.mock.factory import build_mock_core
    from device.sim.sources import ScriptedAthlete

    steps = HOLD_STILL if holding else NOTHING_ON
    from device.runtime.clock import VirtualClock

    # Virtual time: the same frames however loaded the machine is.
    real = build_mock_core(ScriptedAthlete.from_steps(steps, loop=True), clock=VirtualClock())
    request.addfinalizer(real.close)
    real.start()
    # Past the placing of the dowel (1 s of script time), so a hold is a hold.
    with real.subscribe(types={"status"}) as sub:
        for status in sub:
            if status["t"] >= 1.0:
                break
    return real


def _proxy(real, request):
    from device.runtime.channel import ChannelServer
    from device.runtime.core_proxy import CoreProxy

    tmp = request.getfixturevalue("tmp_path")
    server = ChannelServer(real, tmp / "core.sock").start()
    request.addfinalizer(server.stop)
    proxy = CoreProxy(tmp / "core.sock").connect(timeout_s=10)
    request.addfinalizer(proxy.close)
    return proxy


KINDS = ["fake", "mock", "proxy"]


@pytest.fixture(params=KINDS)
def core(request):
    return _core(request.param, request, holding=True)


@pytest.fixture(params=KINDS)
def empty_core(request):
    return _core(request.param, request, holding=False)


def _keys(typed_dict) -> set:
    return set(typed_dict.__annotations__)


def test_keeps_the_protocol(core):
    assert isinstance(core, Core)
    assert isinstance(core.settings, Settings)


def test_status_has_exactly_the_declared_shape(core):
    status = core.get_status()
    assert set(status) == _keys(Status)
    assert set(status["points"]) == set(constants.POINTS)
    for point in status["points"].values():
        assert set(point) == _keys(PointStatus)
        assert isinstance(point["contact"], bool) and isinstance(point["lost"], bool)
    assert set(status["health"]) == _keys(Health)
    assert status["phase"] in ("idle", "upright", "down", "up")
    assert isinstance(status["alert"], bool) and isinstance(status["calibrated"], bool)
    assert status["exercise"] == core.settings.exercise


def test_status_is_a_copy_the_caller_may_change(core):
    first = core.get_status()
    first["points"]["head"]["lost"] = "scribbled"
    first["health"]["fault"] = "scribbled"
    second = core.get_status()
    assert second["points"]["head"]["lost"] != "scribbled"
    assert second["health"]["fault"] != "scribbled"


def test_subscribers_are_counted_and_close_ends_get(core):
    before = core.get_status()["health"]["subscribers"]
    sub = core.subscribe(maxsize=8, types={"settings"})
    assert isinstance(sub, Subscription) and not sub.closed
    assert core.get_status()["health"]["subscribers"] == before + 1
    sub.close()
    assert sub.closed and sub.get(timeout=0.01) is None
    assert core.get_status()["health"]["subscribers"] == before


def test_a_settings_change_is_applied_and_published(core):
    with core.subscribe(types={"settings"}) as sub:
        new = core.update_settings({"debounce_ms": 31})
        event = sub.get(timeout=5)
    assert isinstance(new, Settings) and new.debounce_ms == 31
    assert core.settings.debounce_ms == 31
    assert event["type"] == "settings" and event["settings"]["debounce_ms"] == 31
    assert isinstance(event["t"], float) and isinstance(event["wall"], float)


def test_a_bad_setting_names_its_field_and_changes_nothing(core):
    before = core.settings
    with pytest.raises(SettingsError) as caught:
        core.update_settings({"debounce_ms": 31, "data_rate": 7})
    assert caught.value.field == "data_rate"
    assert core.settings == before


def test_exercise_selection(core):
    other = next(e for e in EXERCISES if e != core.settings.exercise)
    assert core.set_exercise(other).exercise == other
    assert core.get_status()["exercise"] == other
    with pytest.raises(SettingsError) as caught:
        core.set_exercise("juggling")
    assert caught.value.field == "exercise"
    assert core.settings.exercise == other


def test_calibration_keeps_the_thresholds_and_says_so(core):
    with core.subscribe(types={"calibrated"}) as sub:
        calibration = core.calibrate(1.0)
        event = sub.get(timeout=5)
    assert isinstance(calibration, Calibration)
    assert set(calibration.points) == set(constants.POINTS)
    assert core.settings.calibration == calibration
    assert core.get_status()["calibrated"] is True
    assert event["calibration"] == calibration.to_dict()


def test_calibration_with_nothing_on_the_dowel_is_refused(empty_core):
    before = empty_core.settings
    with pytest.raises(CalibrationError):
        empty_core.calibrate(1.0)
    assert empty_core.settings == before
    assert empty_core.get_status()["calibrated"] is False


@pytest.fixture(params=["mock", "proxy"])
def coaching_core(request):
    return _core(request.param, request, holding=True)


def test_the_plan_is_kept_by_the_core_and_reached_across_the_channel(coaching_core):
    from device.analysis.plan import PlanError

    core = coaching_core
    assert isinstance(core, Coaching)
    plan = core.plan_status()
    assert plan == core.get_status()["plan"]
    moved = core.plan_skip()
    assert moved["step_index"] == plan["step_index"] + 1
    assert core.plan_status()["step_index"] == moved["step_index"]
    with pytest.raises(PlanError) as caught:
        core.plan_order(["no such step"])
    assert caught.value.field
