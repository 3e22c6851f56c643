import threading

from hostapp.events import Event, EventBus


def test_publish_reaches_topic_and_wildcard_subscribers() -> None:
    bus = EventBus()
    seen: list[tuple[str, Event]] = []
    bus.subscribe("job.started", lambda e: seen.append(("topic", e)))
    bus.subscribe("*", lambda e: seen.append(("all", e)))
    bus.publish("job.started", job_id="j1")
    bus.publish("other")
    assert [(k, e.topic) for k, e in seen] == [
        ("topic", "job.started"),
        ("all", "job.started"),
        ("all", "other"),
    ]
    assert seen[0][1].data == {"job_id": "j1"}


def test_failing_handler_does_not_break_others_or_the_publisher(caplog) -> None:  # type: ignore[no-untyped-def]
    bus = EventBus()
    seen: list[Event] = []

    def bad(_: Event) -> None:
        raise ValueError("handler bug")

    bus.subscribe("t", bad)
    bus.subscribe("t", seen.append)
    bus.publish("t")
    assert len(seen) == 1
    assert "handler for t failed" in caplog.text


def test_unsubscribe_and_concurrent_publishers() -> None:
    bus = EventBus()
    count = 0
    lock = threading.Lock()

    def handler(_: Event) -> None:
        nonlocal count
        with lock:
            count += 1

    unsubscribe = bus.subscribe("t", handler)
    threads = [threading.Thread(target=lambda: [bus.publish("t") for _ in range(500)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count == 4000
    unsubscribe()
    bus.publish("t")
    assert count == 4000
