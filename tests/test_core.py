"""The polling core on the real stack: Adafruit driver -> emulated ADS1115 -> source,
gpiozero MockFactory pins.  Sources here are tiny scripts so the tests own their timing;
the core runs on virtual time (as fast as the CPU allows, the same frames however
loaded the machine is)."""
import math
import threading

import pytest
from conftest import wait_for

from device.analysis.calibration import CalibrationError
from device.analysis.settings import Settings, SettingsError
from device.hw.constants import fsr_volts
from device.hw.mock.factory import build_mock_core
from device.runtime.clock import VirtualClock
from device.runtime.settings_store import SettingsStore

HELD = {"head": fsr_volts(3.0), "upper_back": fsr_volts(4.0), "sacrum": fsr_volts(2.5)}


class ScriptSource:
    """Dowel on from t=0.2 s, upright; optional sacrum loss; optional end."""

    def __init__(self, loss=None, end_s=None, tilt_v=1.67, on_s=0.2):
        self.loss = loss
        self.end_s = end_s
        self.tilt_v = tilt_v
        self.on_s = on_s
        self.finished = False

    def voltages(self, t):
        if self.end_s is not None and t >= self.end_s:
            self.finished = True
        if t < self.on_s:
            return (0.0, 0.0, 0.0, 1.65 + 0.33 * math.sin(math.radians(85)))
        sacrum = HELD["sacrum"]
        if self.loss and self.loss[0] <= t < self.loss[1]:
            sacrum = 0.0
        return (HELD["head"], HELD["upper_back"], sacrum, self.tilt_v)


@pytest.fixture
def make_core():
    cores = []

    def make(source, **kw):
        core = build_mock_core(source, **kw)
        cores.append(core)
        return core

    yield make
    for core in cores:
        core.close()
        core.pin_factory.reset()


def test_status_snapshot_has_the_documented_shape(make_core):
    core = make_core(ScriptSource(), clock=VirtualClock()).start()
    assert wait_for(lambda: core.get_status()["health"]["frames"] > 50)
    status = core.get_status()
    assert set(status["points"]) == {"head", "upper_back", "sacrum"}
    for point in status["points"].values():
        assert {"v", "force_n", "contact", "lost"} <= set(point)
    assert {"pitch_deg", "in_set", "set_index", "rep_count", "phase", "lost_points", "alert",
            "exercise", "calibrated", "t", "wall"} <= set(status)
    health = status["health"]
    assert health["frame_rate_hz"] > 0                  # the rate itself: dowel bench sampling
    assert health["read_errors"] == 0 and health["fault"] is None


def test_a_lost_point_fires_led_and_buzzer_and_events_carry_wall_time(make_core):
    # Virtual time: the loop runs as fast as the CPU allows and the answer is
    # the same however loaded the machine is.
    core = make_core(ScriptSource(loss=(2.5, 3.0), end_s=4.0), clock=VirtualClock())
    sub = core.subscribe(maxsize=10_000)
    core.start()
    assert core.wait(15)
    events = sub.drain()
    types = [e["type"] for e in events]
    assert "set_started" in types
    lost = [e for e in events if e["type"] == "contact_lost"]
    restored = [e for e in events if e["type"] == "contact_restored"]
    assert [e["point"] for e in lost] == ["sacrum"] and len(restored) == 1
    assert lost[0]["start"] == pytest.approx(2.5, abs=0.03)
    assert restored[0]["duration_s"] == pytest.approx(0.5, abs=0.05)
    assert all("wall" in e for e in events)
    alerts = [e for e in events if e["type"] == "alert"]
    assert [a["on"] for a in alerts][:2] == [True, False]
    # The mock pins' own history: on once, off once (plus the initial off).
    led = [s.state for s in core.alerts.led.pin.states]
    buzzer = [s.state for s in core.alerts.buzzer.pin.states]
    assert led == [False, True, False] and buzzer == [False, True, False]


def test_i2c_errors_are_counted_and_retried_without_killing_the_loop(make_core):
    core = make_core(ScriptSource(), clock=VirtualClock()).start()
    assert wait_for(lambda: core.get_status()["health"]["frames"] > 20)
    core.mock_bus.fail_next(5)
    assert wait_for(lambda: core.get_status()["health"]["read_errors"] >= 5)
    before = core.get_status()["health"]["frames"]
    assert wait_for(lambda: core.get_status()["health"]["frames"] > before + 20)
    assert core.get_status()["health"]["fault"] is None


def test_unplugged_adc_is_a_fault_shown_and_survived(make_core):
    core = make_core(ScriptSource(), clock=VirtualClock())
    sub = core.subscribe(maxsize=10_000, types=["fault"])
    core.start()
    assert wait_for(lambda: core.get_status()["health"]["frames"] > 20)
    core.mock_bus.unplug()
    assert wait_for(lambda: core.get_status()["health"]["fault"] is not None)
    assert "ADC not answering" in core.get_status()["health"]["fault"]
    assert wait_for(lambda: len([s for s in core.alerts.led.pin.states if s.state]) >= 2)
    core.mock_bus.plug()
    assert wait_for(lambda: core.get_status()["health"]["fault"] is None)
    before = core.get_status()["health"]["frames"]
    assert wait_for(lambda: core.get_status()["health"]["frames"] > before + 20)
    faults = sub.drain()
    assert [f["active"] for f in faults] == [True, False]
    assert core._thread.is_alive()


def test_settings_update_is_validated_saved_and_applied(make_core, tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    core = make_core(ScriptSource(), settings_store=store, clock=VirtualClock()).start()
    with pytest.raises(SettingsError):
        core.update_settings({"debounce_ms": 30, "data_rate": 7})
    assert core.settings == Settings()
    core.update_settings({"debounce_ms": 30, "data_rate": 475})
    assert store.load().debounce_ms == 30
    assert wait_for(lambda: core.adc_link.adc is not None and core.adc_link.adc.data_rate == 475)


def test_calibration_from_the_resting_hold(make_core, tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    core = make_core(ScriptSource(), settings_store=store, clock=VirtualClock()).start()
    assert wait_for(lambda: core.get_status()["health"]["frames"] > 100)
    calibration = core.calibrate(duration_s=1.0)
    assert calibration.points["head"].rest_v == pytest.approx(HELD["head"], abs=0.01)
    assert calibration.tilt_upright_v == pytest.approx(1.67, abs=0.01)
    assert store.load().calibration == calibration
    assert core.get_status()["calibrated"] is True


def test_calibration_without_contact_is_refused(make_core):
    core = make_core(ScriptSource(on_s=1e9), clock=VirtualClock()).start()
    with pytest.raises(CalibrationError, match="no contact"):
        core.calibrate(duration_s=0.5)
    assert core.settings.calibration is None


def test_switching_the_chip_model_rebuilds_the_driver_and_keeps_reading(make_core):
    core = make_core(ScriptSource(), clock=VirtualClock()).start()
    assert wait_for(lambda: core.get_status()["health"]["frames"] > 20)
    core.update_settings({"chip": "ADS1015", "data_rate": 3300})
    assert wait_for(lambda: core.mock_chip.model == "ADS1015")
    before = core.get_status()["health"]["frames"]
    assert wait_for(lambda: core.get_status()["health"]["frames"] > before + 50)
    head = core.get_status()["points"]["head"]["v"]
    assert head == pytest.approx(HELD["head"], abs=0.01)


def test_settings_changed_from_many_threads_at_once_keep_every_change(make_core, tmp_path):
    # Two web requests at once each change one field: neither change may be lost
    # to the other starting from the same old settings.
    store = SettingsStore(tmp_path / "settings.json")
    core = make_core(ScriptSource(), settings_store=store, clock=VirtualClock()).start()
    changes = [{"debounce_ms": 30}, {"buzzer": False}, {"sensitivity": 0.6}, {"data_rate": 475}]
    go = threading.Barrier(len(changes))

    def change(c):
        go.wait()
        core.update_settings(c)

    threads = [threading.Thread(target=change, args=(c,)) for c in changes]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    expected = Settings().updated({k: v for c in changes for k, v in c.items()})
    assert core.settings == expected
    assert store.load() == expected


class _SaveHook(SettingsStore):
    """A settings file whose save runs ``during_save()`` first: what another thread
    does while a web request is writing the file."""

    def __init__(self, path, during_save):
        super().__init__(path)
        self.during_save = during_save

    def save(self, settings):
        during, self.during_save = self.during_save, None
        if during is not None:
            during()
        return super().save(settings)


def _on_another_thread(fn, timeout=None):
    th = threading.Thread(target=fn)
    th.start()
    th.join(timeout)
    return th


def test_the_plan_moving_on_while_settings_are_saved_keeps_both_changes(make_core, tmp_path):
    # The plan's next step re-tags the exercise (on the polling thread after a set,
    # or a coach's skip) while a phone's settings change is writing the file: the
    # change must land on top of the plan's exercise, not put the old one back.
    store = _SaveHook(tmp_path / "settings.json", None)
    core = make_core(ScriptSource(), settings=Settings().updated({"exercise": "kneeling_3point"}),
                     settings_store=store, clock=VirtualClock())
    core.plan_skip()                                    # on to kneeling_kettlebell (by hand)
    assert core.settings.exercise == "kneeling_3point"
    store.during_save = lambda: _on_another_thread(core.plan_skip)   # on to standing_3point
    core.update_settings({"debounce_ms": 30})
    assert core.settings.exercise == "standing_3point"
    assert core.settings.debounce_ms == 30
    assert core.pipeline.settings is core.settings


def test_settings_events_go_out_in_the_order_the_changes_were_made(make_core, tmp_path):
    # The plan re-tags the exercise and, before its settings event is out, a phone's
    # change lands: the last settings event must be the settings the core has (the
    # web process takes its settings from these events).
    core = make_core(ScriptSource(), settings=Settings().updated({"exercise": "kneeling_3point"}),
                     settings_store=SettingsStore(tmp_path / "settings.json"), clock=VirtualClock())
    core.plan_skip()
    sub = core.subscribe(types=["settings"])
    publish = core.publisher.event
    plan_thread = []

    def event(e):
        if e["type"] == "settings" and plan_thread and plan_thread[0] is threading.current_thread():
            plan_thread.clear()
            # Give the phone's change every chance to overtake this event; when the
            # event goes out under the core's lock, the change waits (the join times out).
            _on_another_thread(lambda: core.update_settings({"debounce_ms": 30}), timeout=1.0)
        publish(e)

    core.publisher.event = event

    def skip():
        plan_thread.append(threading.current_thread())
        core.plan_skip()

    _on_another_thread(skip)
    assert wait_for(lambda: core.settings.debounce_ms == 30)
    events = []
    assert wait_for(lambda: events.extend(sub.drain()) or len(events) >= 2)
    assert [e["settings"]["exercise"] for e in events] == ["standing_3point", "standing_3point"]
    assert Settings().updated(events[-1]["settings"]) == core.settings


def test_a_status_snapshot_never_goes_out_after_a_newer_one():
    # The polling thread has taken its snapshot when a settings change (another
    # thread) takes and publishes a newer one: the older must not go out last, or
    # every listener is left with the settings before the change.
    from device.runtime.events import EventBus
    from device.runtime.publisher import Publisher

    bus = EventBus()
    statuses = bus.subscribe(types=["status"])
    clock = VirtualClock()
    state = {"settings": "old", "interrupt": True}

    def snapshot():
        seen = state["settings"]
        if state.pop("interrupt", False):
            state["settings"] = "new"
            # the change's snapshot gets every chance to overtake this one
            _on_another_thread(lambda: publisher.status(clock.now(), force=True), timeout=1.0)
        return {"settings": seen}

    publisher = Publisher(bus, clock, snapshot)
    publisher.status(clock.now())
    got = []
    assert wait_for(lambda: got.extend(statuses.drain()) or len(got) >= 2)
    assert [s["settings"] for s in got] == ["old", "new"]


class HoldingSource(ScriptSource):
    """A ScriptSource that runs ``during_hold()`` when a calibration asks the athlete
    to hold still (once): what another page or the button does meanwhile."""

    def __init__(self, during_hold):
        super().__init__()
        self.during_hold = during_hold

    def hold_still(self, start, end):
        during, self.during_hold = self.during_hold, None
        if during is not None:
            during()


def test_one_calibration_at_a_time_from_pages_and_the_button(make_core):
    # The page says "a calibration is already running" (409) for a second one;
    # the button is refused the same way while a page calibrates.
    refused, button_started = [], []

    def meanwhile():
        def second_page():
            with pytest.raises(CalibrationError, match="already running"):
                core.calibrate(duration_s=0.5)
            refused.append(True)
        _on_another_thread(second_page)
        core._button_held()                        # the athlete holds the button down
        for th in threading.enumerate():
            if th.name == "dowel-button-calibration":
                th.join(10)

    core = make_core(HoldingSource(meanwhile), clock=VirtualClock())
    core._calibrate_from_button = lambda: button_started.append(True)
    core.start()
    assert wait_for(lambda: core.get_status()["health"]["frames"] > 100)
    calibration = core.calibrate(duration_s=1.0)
    assert refused == [True] and button_started == []
    assert core.settings.calibration == calibration
    # Once it is over, the next one runs.
    assert core.calibrate(duration_s=0.5) is not None


def test_two_exercises_picked_at_once_end_on_the_last_one_picked(make_core, tmp_path):
    # Picking an exercise changes the settings and then moves the plan to its step.
    # A second pick landing between the two must not have the first pick's plan
    # move put the first exercise back over it.
    core = make_core(ScriptSource(), settings_store=SettingsStore(tmp_path / "settings.json"),
                     clock=VirtualClock())
    core.plan_order(["standing_3point", "kneeling_3point", "kneeling_kettlebell", "standing_kettlebell"])
    assert core.plan_status()["exercise"] == core.settings.exercise == "standing_3point"
    plan_change = core._plan_change

    def another_pick_first(change):
        del core._plan_change                          # once
        # the second pick gets every chance to land before this one's plan move
        _on_another_thread(lambda: core.set_exercise("standing_3point"), timeout=1.0)
        return plan_change(change)

    core._plan_change = another_pick_first
    core.set_exercise("kneeling_3point")
    assert wait_for(lambda: core.settings_store.load().exercise == "standing_3point")
    assert wait_for(lambda: core.plan_status()["exercise"] == "standing_3point")
    assert core.settings.exercise == "standing_3point"


def test_a_plan_move_does_not_undo_an_exercise_picked_just_after_it(make_core, tmp_path):
    # The plan moves on (the coach reorders it, a set ends) and, before the next
    # sets are tagged with its step, the athlete picks another exercise: the pick
    # wins, in the settings as in the plan.
    core = make_core(ScriptSource(), settings=Settings().updated({"exercise": "kneeling_3point"}),
                     settings_store=SettingsStore(tmp_path / "settings.json"), clock=VirtualClock())
    follow = core._follow_plan

    def a_pick_first(*args):
        del core._follow_plan                          # once
        _on_another_thread(lambda: core.set_exercise("kneeling_3point"))
        return follow(*args)

    core._follow_plan = a_pick_first
    core.plan_order(["standing_3point", "kneeling_3point", "kneeling_kettlebell", "standing_kettlebell"])
    assert core.plan_status()["exercise"] == "kneeling_3point"
    assert core.settings.exercise == "kneeling_3point"
