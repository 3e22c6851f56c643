import ast
import logging
import threading
from pathlib import Path

import pytest

from hostapp.events import Event, EventBus
from hostapp.events.topics import TOPICS, EventContractError, LedgerChanged, ScheduleChanged

HOSTAPP = Path(__file__).resolve().parents[2] / "hostapp"


def test_publish_reaches_topic_and_wildcard_subscribers() -> None:
    bus = EventBus()
    seen: list[tuple[str, Event]] = []
    bus.subscribe("job.frozen", lambda e: seen.append(("topic", e)))
    bus.subscribe("*", lambda e: seen.append(("all", e)))
    bus.publish("job.frozen", job_id="j1")
    bus.publish("job.thawed", job_id="j1")
    assert [(k, e.topic) for k, e in seen] == [
        ("topic", "job.frozen"),
        ("all", "job.frozen"),
        ("all", "job.thawed"),
    ]
    assert seen[0][1].data == {"job_id": "j1"}


def test_failing_handler_does_not_break_others_or_the_publisher(caplog) -> None:  # type: ignore[no-untyped-def]
    bus = EventBus()
    seen: list[Event] = []

    def bad(_: Event) -> None:
        raise ValueError("handler bug")

    bus.subscribe("job.frozen", bad)
    bus.subscribe("job.frozen", seen.append)
    bus.publish("job.frozen", job_id="j1")
    assert len(seen) == 1
    assert "handler for job.frozen failed" in caplog.text


def test_unsubscribe_and_concurrent_publishers() -> None:
    bus = EventBus()
    count = 0
    lock = threading.Lock()

    def handler(_: Event) -> None:
        nonlocal count
        with lock:
            count += 1

    unsubscribe = bus.subscribe("job.frozen", handler)
    threads = [
        threading.Thread(target=lambda: [bus.publish("job.frozen", job_id="j") for _ in range(500)]) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count == 4000
    unsubscribe()
    bus.publish("job.frozen", job_id="j")
    assert count == 4000


# ------------------------------------------------------------------ the topic registry


def _published_topics() -> dict[str, str]:
    """Every topic hostapp/ publishes: the first argument of each `.publish(...)` call, a string or a
    module-level constant (STATE_TOPIC = "node.state"), with the file that publishes it."""
    found: dict[str, str] = {}
    for path in sorted(HOSTAPP.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                continue
            if node.func.attr not in ("publish", "_publish"):
                continue
            first = node.args[0]
            topic = first.value if isinstance(first, ast.Constant) else constants.get(getattr(first, "id", ""))
            if isinstance(topic, str) and "." in topic:  # a topic, not another _publish's first argument
                found[topic] = str(path.relative_to(HOSTAPP.parent))
    return found


def test_every_topic_hostapp_publishes_is_declared() -> None:
    published = _published_topics()
    assert len(published) >= 25  # the scan finds them (it is not vacuously empty)
    undeclared = {topic: where for topic, where in published.items() if topic not in TOPICS}
    assert undeclared == {}


def test_the_ledger_and_schedule_topics_have_exactly_their_declared_fields() -> None:
    assert set(LedgerChanged.model_fields) == {"job_id", "attempt", "status", "amount"}
    assert set(ScheduleChanged.model_fields) == {"source", "revision"}
    bus = EventBus(strict=True)
    bus.publish("ledger.changed", job_id="j", attempt=1, status="credited", amount=5)
    bus.publish("ledger.changed", job_id="j", attempt=1, status="running", amount=None)
    bus.publish("schedule.changed", source="control", revision=3)
    with pytest.raises(EventContractError, match="status"):
        bus.publish("ledger.changed", job_id="j", attempt=1, status="refunded", amount=5)
    with pytest.raises(EventContractError, match="source"):
        bus.publish("schedule.changed", source="cron", revision=3)


@pytest.mark.parametrize(
    ("topic", "data", "problem"),
    [
        ("ledger.credited", {"amount": 1}, "'ledger.credited' is not declared"),
        ("node.payout", {"job_id": "j", "amount": 1}, "signature: Field required"),
        ("node.payout", {"job_id": "j", "amount": 1, "signature": "s", "fee": 2}, "fee: Extra inputs"),
        ("node.payout", {"job_id": "j", "amount": "lots", "signature": "s"}, "amount: Input should be a valid integer"),
        ("gpu.telemetry", {"uuid": "GPU-1", "index": 0, "sample": {"temperature_c": 40}}, "expected a GpuSample"),
    ],
)
def test_a_strict_bus_refuses_what_breaks_the_contract_before_delivering(
    topic: str, data: dict[str, object], problem: str
) -> None:
    bus = EventBus(strict=True)
    seen: list[Event] = []
    bus.subscribe("*", seen.append)
    with pytest.raises(EventContractError, match=problem):
        bus.publish(topic, **data)
    assert seen == []


def test_in_production_a_mismatch_is_logged_once_and_still_delivered(caplog: pytest.LogCaptureFixture) -> None:
    """Raising would stop the publishing thread (a node slot); dropping would hide a state change."""
    bus = EventBus(strict=False)
    seen: list[Event] = []
    bus.subscribe("node.payout", seen.append)
    with caplog.at_level(logging.ERROR, logger="hostapp.events"):
        for _ in range(3):
            bus.publish("node.payout", job_id="j", amount=1)
    assert len(seen) == 3
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "signature: Field required" in errors[0].getMessage()


def test_the_test_suite_runs_strict() -> None:
    assert EventBus().strict  # tests/conftest.py sets HOSTAPP_STRICT_EVENTS=1
