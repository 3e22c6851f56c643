"""hostapp/shapes.py: the pydantic-free records the tray shares with the node (settings, rules,
status, events). What each refuses, and that what crosses the socket comes back equal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Literal

import pytest

from hostapp.config.settings import Settings
from hostapp.control.status import NodeSnapshot, NodeState, Problem, SlotSnapshot
from hostapp.schedule.policy import Rules, Snooze
from hostapp.shapes import AwareDatetime, Constraints, Field, FrozenShape, Shape, ShapeError, field_check


class Part(FrozenShape):
    name: str
    weight: int = Field(default=1, ge=0, le=10)


class Order(Shape, validate_assignment=True):
    parts: list[Part] = Field(default_factory=list)
    tags: tuple[Annotated[str, Constraints(strip_whitespace=True, min_length=1)], ...] = ()
    kind: Literal["a", "b"] = "a"
    due: AwareDatetime | None = None
    note: str | None = None
    extra: dict[str, int] = Field(default_factory=dict)

    @field_check("note")
    @classmethod
    def _no_secret(cls, value: str | None) -> str | None:
        if value and "secret" in value:
            raise ValueError("notes hold no secrets")
        return value


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        ({"parts": [{"name": "x", "weight": 11}]}, "parts.0.weight", "Input should be less than or equal to 10"),
        ({"parts": [{"weight": 1}]}, "parts.0.name", "Field required"),
        ({"parts": [{"name": "x", "colour": "red"}]}, "parts.0.colour", "Extra inputs are not permitted"),
        ({"parts": [{"name": 5}]}, "parts.0.name", "Input should be a valid string"),
        ({"parts": [{"name": "x", "weight": True}]}, "parts.0.weight", "Input should be a valid integer"),
        ({"parts": [{"name": "x", "weight": "3.5"}]}, "parts.0.weight", "Input should be a valid integer"),
        ({"parts": "x"}, "parts", "Input should be a valid list"),
        ({"tags": ["  "]}, "tags.0", "Value should have at least 1 item(s) or character(s)"),
        ({"kind": "c"}, "kind", "Input should be 'a' or 'b'"),
        ({"due": "2026-01-01T10:00"}, "due", "Input should have timezone info"),
        ({"due": "tomorrow"}, "due", "Input should be a valid datetime (ISO 8601 text)"),
        ({"note": "my secret"}, "note", "Value error, notes hold no secrets"),
        ({"extra": {"a": "b"}}, "extra.a", "Input should be a valid integer"),
        ({"unknown": 1}, "unknown", "Extra inputs are not permitted"),
    ],
)
def test_a_value_that_does_not_fit_says_where_and_what(data: dict[str, object], where: str, message: str) -> None:
    with pytest.raises(ShapeError) as caught:
        Order.model_validate(data)
    assert str(caught.value) == f"Order: {where}: {message}"
    assert caught.value.errors()[0]["msg"] == message


def test_input_is_converted_to_the_declared_types() -> None:
    order = Order.model_validate(
        {"parts": [{"name": "x"}], "tags": [" a "], "due": "2026-01-01T10:00:00Z", "extra": {"n": 2.0}}
    )
    assert order.parts == [Part(name="x", weight=1)]
    assert order.tags == ("a",)
    assert order.due == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert order.extra == {"n": 2} and isinstance(order.extra["n"], int)


def test_defaults_are_not_shared_between_instances() -> None:
    first, second = Order(), Order()
    first.parts.append(Part(name="x"))
    assert second.parts == []
    assert (
        NodeSnapshot(state=NodeState.WAITING, headline="h").slots
        is not NodeSnapshot(state=NodeState.WAITING, headline="h").slots
    )


def test_frozen_shapes_refuse_changes_and_hash_by_value() -> None:
    part = Part(name="x")
    with pytest.raises(AttributeError, match="frozen"):
        part.name = "y"  # type: ignore[misc]
    assert hash(part) == hash(Part(name="x")) and part == Part(name="x") and part != Part(name="y")
    assert part.model_copy(update={"weight": 3}) == Part(name="x", weight=3)
    with pytest.raises(ShapeError, match="weight: Input should be less than or equal to 10"):
        part.model_copy(update={"weight": 30})


def test_assignment_is_checked_where_declared() -> None:
    order = Order()
    order.kind = "b"
    with pytest.raises(ShapeError, match="kind: Input should be 'a' or 'b'"):
        order.kind = "z"  # type: ignore[assignment]
    assert order.kind == "b"
    settings = Settings()
    with pytest.raises(ShapeError, match="heartbeat_seconds: Input should be greater than or equal to 1"):
        settings.grid.heartbeat_seconds = 0
    assert settings.grid.heartbeat_seconds == 10


def test_settings_round_trip_through_json_unchanged() -> None:
    settings = Settings()
    settings.grid.url = "http://127.0.0.1:8787"
    settings.jobs.cpus = 3
    settings.models.prefetch = [{"type": "HF", "repo": "a/b"}]
    text = settings.model_dump_json(indent=2)
    again = Settings.model_validate(json.loads(text))
    assert again == settings
    assert again.jobs.cpus == 3.0 and isinstance(again.jobs.cpus, float)
    assert "hf_token=" not in repr(settings.models)  # repr=False keeps a token out of logs


def test_a_status_crosses_the_socket_and_comes_back_equal() -> None:
    snapshot = NodeSnapshot(
        state=NodeState.ERROR,
        headline="Error",
        problem=Problem(reason="no docker", fix="start docker"),
        slots=[SlotSnapshot(gpu="GPU-1", gpu_name="NVIDIA GeForce RTX 4090", state=NodeState.ERROR, headline="x")],
        earned=10**18,
    )
    wire = json.loads(json.dumps(snapshot.model_dump(mode="json")))
    assert wire["state"] == "error" and wire["slots"][0]["state"] == "error"
    again = NodeSnapshot.model_validate(wire)
    assert again == snapshot and again.state is NodeState.ERROR and again.slots[0].label == "RTX 4090"
    assert again.summary() == "Error — no docker — fix: start docker"


def test_times_are_written_as_pydantic_wrote_them() -> None:
    """schedule.json files written by earlier versions (UTC as "Z") read back, and are written alike."""
    until = datetime(2026, 1, 2, 8, tzinfo=UTC)
    assert Snooze(until=until).model_dump(mode="json") == {"until": "2026-01-02T08:00:00Z"}
    assert Snooze.model_validate({"until": "2026-01-02T08:00:00Z"}).until == until
    berlin = timezone(timedelta(hours=1))
    assert Snooze(until=until.astimezone(berlin)).model_dump(mode="json") == {"until": "2026-01-02T09:00:00+01:00"}


def test_rules_strip_process_names_and_refuse_nonsense() -> None:
    assert Rules(process_allow_list=(" game.exe ",)).process_allow_list == ("game.exe",)
    with pytest.raises(ShapeError, match="max_temperature_c: Input should be less than or equal to 110"):
        Rules(max_temperature_c=200)
    assert Rules(max_temperature_c=None).max_temperature_c is None  # None skips the bounds


def test_model_fields_lists_the_declared_fields_in_order() -> None:
    assert list(Part.model_fields) == ["name", "weight"]
    assert Part.model_fields["weight"].default == 1 and Part.model_fields["name"].required


def test_numbers_and_booleans_written_as_text_are_taken_as_pydantic_took_them() -> None:
    """A hand-edited settings file from before the move off pydantic still loads."""
    settings = Settings.model_validate(
        {"grid": {"heartbeat_seconds": " 15 "}, "jobs": {"cpus": "1.5"}, "autostart": "yes"}
    )
    assert settings.grid.heartbeat_seconds == 15 and settings.jobs.cpus == 1.5 and settings.autostart is True
    for bad in ({"autostart": "maybe"}, {"jobs": {"cpus": "nan"}}, {"autostart": 2}):
        with pytest.raises(ShapeError):
            Settings.model_validate(bad)
