import threading

from device.runtime.events import EventBus


def test_every_subscriber_gets_every_event_in_order():
    bus = EventBus()
    a, b = bus.subscribe(), bus.subscribe()
    for i in range(5):
        bus.publish({"type": "x", "i": i})
    assert [e["i"] for e in a.drain()] == [0, 1, 2, 3, 4]
    assert [e["i"] for e in b.drain()] == [0, 1, 2, 3, 4]


def test_slow_subscriber_loses_oldest_events_and_never_blocks_publish():
    bus = EventBus()
    slow = bus.subscribe(maxsize=3)
    for i in range(10):
        bus.publish({"type": "x", "i": i})
    assert [e["i"] for e in slow.drain()] == [7, 8, 9]
    assert slow.dropped == 7


def test_type_filter():
    bus = EventBus()
    sub = bus.subscribe(types=["rep_completed"])
    bus.publish({"type": "status"})
    bus.publish({"type": "rep_completed", "n": 1})
    assert sub.drain() == [{"type": "rep_completed", "n": 1}]


def test_close_unsubscribes_and_wakes_a_waiting_reader():
    bus = EventBus()
    sub = bus.subscribe()
    got = []
    reader = threading.Thread(target=lambda: got.append(sub.get(timeout=5)))
    reader.start()
    sub.close()
    reader.join(2)
    assert not reader.is_alive()
    assert got == [None]
    assert bus.subscriber_count == 0
    bus.publish({"type": "x"})       # nobody left: no error


def test_get_times_out_with_none():
    bus = EventBus()
    with bus.subscribe() as sub:
        assert sub.get(timeout=0.01) is None
    assert bus.subscriber_count == 0
