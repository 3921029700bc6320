"""An internal error in the polling loop: logged, the pipeline rebuilt, the loop goes
on; an error that keeps coming stops the loop and the process exits non-zero."""
import logging
from pathlib import Path

import pytest

from device.analysis.pipeline import Pipeline
from device.hw.mock.factory import build_mock_core
from device.runtime import core as core_module, recovery
from device.runtime.clock import VirtualClock

from test_core import ScriptSource, wait_for

SAMPLE = Path(__file__).resolve().parent / "data" / "sloppy-two-sets.csv"


class BrokenOnce(Pipeline):
    """Raises on the 30th frame of the first pipeline made (a bug that hits once)."""
    made = 0

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        type(self).made += 1
        self._first = type(self).made == 1
        self._fed = 0

    def feed(self, frame):
        self._fed += 1
        if self._first and self._fed == 30:
            raise TypeError("'<' not supported between instances of 'str' and 'float'")
        return super().feed(frame)


class AlwaysBroken(Pipeline):
    def feed(self, frame):
        raise TypeError("broken for good")


@pytest.fixture
def cores():
    made = []
    yield made
    for core in made:
        core.close()
        core.pin_factory.reset()


def test_an_internal_error_is_logged_the_pipeline_rebuilt_and_the_loop_goes_on(
        cores, monkeypatch, caplog):
    BrokenOnce.made = 0
    monkeypatch.setattr(core_module, "Pipeline", BrokenOnce)
    core = build_mock_core(ScriptSource(on_s=0.05), clock=VirtualClock())
    cores.append(core)
    with caplog.at_level(logging.WARNING, logger="device.runtime.core"):
        core.start()
        assert wait_for(lambda: core.get_status()["health"]["frames"] > 200)
    assert core._thread.is_alive() and not core.finished.is_set()
    assert core.crash_guard.errors == 1 and not core.crashed
    assert isinstance(core.pipeline, BrokenOnce) and BrokenOnce.made == 2
    crash = [r for r in caplog.records if "internal error in the polling loop" in r.getMessage()]
    assert crash and crash[0].exc_info is not None        # the traceback is in the log
    assert "not supported between instances" in str(crash[0].exc_info[1])


def test_the_open_set_is_ended_when_the_pipeline_is_rebuilt(cores, monkeypatch):
    BrokenOnce.made = 0
    monkeypatch.setattr(core_module, "Pipeline", BrokenOnce)
    core = build_mock_core(ScriptSource(on_s=0.01), clock=VirtualClock())
    cores.append(core)
    sub = core.subscribe(maxsize=10_000, types=["set_started", "set_completed"])
    core.start()
    assert wait_for(lambda: core.crash_guard.errors == 1)
    assert wait_for(lambda: core.get_status()["health"]["frames"] > 100)
    kinds = [e["type"] for e in sub.drain()]
    # the first set ends with the broken pipeline; the new one starts its own
    assert kinds[:2] == ["set_started", "set_completed"]


def test_an_error_that_keeps_coming_stops_the_loop_as_a_crash(cores, monkeypatch):
    monkeypatch.setattr(core_module, "Pipeline", AlwaysBroken)
    core = build_mock_core(ScriptSource(), clock=VirtualClock())
    cores.append(core)
    core.start()
    assert core.wait(10)
    assert core.crashed
    assert core.crash_guard.errors == recovery.CRASH_LIMIT + 1
    assert "internal error" in core.get_status()["health"]["fault"]


def test_a_pipeline_that_cannot_be_rebuilt_stops_the_loop_as_a_crash(cores, monkeypatch):
    BrokenOnce.made = 0
    monkeypatch.setattr(core_module, "Pipeline", BrokenOnce)
    core = build_mock_core(ScriptSource(), clock=VirtualClock())
    cores.append(core)

    def cannot_build(*a, **kw):
        raise ValueError("settings the pipeline refuses")
    monkeypatch.setattr(core_module, "Pipeline", cannot_build)
    core.start()
    assert core.wait(10)
    assert core.crashed and core.crash_guard.errors == 1


def test_dowel_run_exits_non_zero_after_a_crash_and_never_says_stopped(
        tmp_path, monkeypatch, capsys):
    from device.cli import main

    monkeypatch.setattr(core_module, "Pipeline", AlwaysBroken)
    rc = main(["run", "--mock", "--trace", str(SAMPLE), "--speed", "8", "--no-web",
               "--no-history", "--data-dir", str(tmp_path)])
    out = capsys.readouterr()
    assert rc != 0
    assert "Stopped." not in out.out
    assert "internal errors" in out.err
