"""Which CPUs the web process may use (``device.runtime.cpus``)."""
from __future__ import annotations

from device.runtime.cpus import away_from_core


def test_the_highest_cpu_is_left_to_the_core():
    assert away_from_core({0, 1, 2, 3}) == {0, 1, 2}
    assert away_from_core({2, 5}) == {2}


def test_one_cpu_is_shared_rather_than_taken_away():
    assert away_from_core({0}) == {0}
