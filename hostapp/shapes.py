"""Typed, validated records for the shapes the tray shares with the node, without pydantic.

Settings, the schedule's rules, the node's status snapshot and the event topics cross the control
socket and are read by the tray. Declared with pydantic they cost the tray ~22 MB of its 80 MB
(pydantic's schema builder and pydantic-core load with the first model; docs/benchmarks.md), so they
are declared with `Shape` instead: the subset of pydantic's `BaseModel` behaviour and method names
hostapp uses — fields from annotations with defaults or `Field(...)` (ge/le/gt/lt, lengths, pattern),
`extra` forbidden, frozen (`FrozenShape`), `validate_assignment=True`, nested shapes, `Literal`,
enums, unions, lists, tuples, dicts, timezone-aware datetimes, and `@field_check` validators — and the same method names
(`model_validate`, `model_dump`, `model_dump_json`, `model_copy`, `model_fields`), so the node, the
CLI and the tray keep one declaration per shape. The messages follow pydantic's wording
("Field required", "Input should be …"): one line with the field's dotted path.

The node's own grid and job models stay pydantic: the node loads pydantic anyway.
"""

from __future__ import annotations

import copy
import enum
import inspect
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, Self, TypedDict, Union, dataclass_transform

_MISSING: Any = object()


class ErrorDetail(TypedDict):
    loc: tuple[str | int, ...]
    msg: str


class ShapeError(ValueError):
    """A value that does not fit its shape; `errors()[0]` says where (a path of field names) and what."""

    def __init__(self, shape: str, loc: tuple[str | int, ...], msg: str) -> None:
        self.shape, self.loc, self.msg = shape, loc, msg
        where = ".".join(str(part) for part in loc) or "<root>"
        super().__init__(f"{shape}: {where}: {msg}")

    def errors(self) -> list[ErrorDetail]:
        return [{"loc": self.loc, "msg": self.msg}]


class _Invalid(Exception):
    """Raised inside validation with the path so far; turned into one ShapeError at the top."""

    def __init__(self, msg: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(msg)
        self.msg, self.loc = msg, loc

    def under(self, part: str | int) -> _Invalid:
        return _Invalid(self.msg, (part, *self.loc))


@dataclass(frozen=True)
class Constraints:
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    strip_whitespace: bool = False

    def apply(self, value: Any) -> Any:
        if self.strip_whitespace and isinstance(value, str):
            value = value.strip()
        if self.ge is not None and value < self.ge:
            raise _Invalid(f"Input should be greater than or equal to {_num(self.ge)}")
        if self.gt is not None and value <= self.gt:
            raise _Invalid(f"Input should be greater than {_num(self.gt)}")
        if self.le is not None and value > self.le:
            raise _Invalid(f"Input should be less than or equal to {_num(self.le)}")
        if self.lt is not None and value >= self.lt:
            raise _Invalid(f"Input should be less than {_num(self.lt)}")
        if self.min_length is not None and len(value) < self.min_length:
            raise _Invalid(f"Value should have at least {self.min_length} item(s) or character(s)")
        if self.max_length is not None and len(value) > self.max_length:
            raise _Invalid(f"Value should have at most {self.max_length} item(s) or character(s)")
        if self.pattern is not None and not re.search(self.pattern, value):
            raise _Invalid(f"String should match pattern '{self.pattern}'")
        return value


def _num(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


class Aware:
    """`Annotated[datetime, Aware()]`: a datetime with a time zone (ISO 8601 text on the wire)."""


AwareDatetime = typing.Annotated[datetime, Aware()]


@dataclass(frozen=True)
class FieldInfo:
    default: Any = _MISSING
    default_factory: Callable[[], Any] | None = None
    constraints: Constraints = Constraints()
    repr: bool = True

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.default_factory is None

    def make_default(self) -> Any:
        if self.default_factory is not None:
            return self.default_factory()
        # A mutable default ([] or {}) is copied, as pydantic does: instances never share it.
        return copy.copy(self.default) if isinstance(self.default, list | dict | set) else self.default


def Field(  # named as pydantic's, which these declarations used
    default: Any = _MISSING,
    *,
    default_factory: Callable[[], Any] | None = None,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
    repr: bool = True,
) -> Any:
    return FieldInfo(default, default_factory, Constraints(ge, le, gt, lt, min_length, max_length, pattern), repr)


def field_check(*names: str) -> Callable[[Callable[..., Any]], Any]:
    """Marks a classmethod `(cls, value) -> value` that checks (and may convert) the named fields after
    their types are checked; it raises ValueError with the one-line reason."""

    def mark(func: Callable[..., Any]) -> Any:
        target = func.__func__ if isinstance(func, classmethod) else func
        target.__shape_checks__ = names  # type: ignore[attr-defined]
        return func

    return mark


@dataclass(frozen=True)
class _Spec:
    """A field resolved once per class: its checker, constraints, default, and extra checks."""

    name: str
    info: FieldInfo
    check: Callable[[Any], Any]
    validators: tuple[Callable[[Any], Any], ...]


class _Frozen(AttributeError):
    pass


@dataclass_transform(kw_only_default=True, field_specifiers=(Field,))
class Shape:
    """Base of the declared shapes; `class Section(Shape, validate_assignment=True)` checks each
    assignment too, and `FrozenShape` refuses them. Unknown input fields are always refused."""

    __shape_frozen__: ClassVar[bool] = False
    __shape_validate_assignment__: ClassVar[bool] = False
    __shape_specs__: ClassVar[dict[str, _Spec] | None]
    __shape_infos__: ClassVar[dict[str, FieldInfo]]

    def __init_subclass__(cls, *, validate_assignment: bool | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if validate_assignment is not None:
            cls.__shape_validate_assignment__ = validate_assignment
        infos: dict[str, FieldInfo] = {}
        for base in reversed(cls.__mro__[1:]):
            infos.update(getattr(base, "__shape_infos__", {}))
        for name in inspect.get_annotations(cls):
            if name.startswith("_"):
                continue
            value = cls.__dict__.get(name, _MISSING)
            if isinstance(value, FieldInfo):
                infos[name] = value
            else:
                infos[name] = FieldInfo(default=value)
            if name in cls.__dict__:
                delattr(cls, name)  # the value lives on each instance, not as a class default
        cls.__shape_infos__ = infos
        cls.__shape_specs__ = None  # resolved on first use: annotations may name later classes

    # --------------------------------------------------------------- the pydantic-named API

    model_fields: ClassVar[Mapping[str, FieldInfo]]

    def __init__(self, **data: Any) -> None:
        try:
            values = _validate_fields(type(self), data)
        except _Invalid as exc:
            raise ShapeError(type(self).__name__, exc.loc, exc.msg) from None
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise ShapeError(cls.__name__, (), f"Input should be an object, not {type(data).__name__}")
        return cls(**{str(k): v for k, v in data.items()})

    def model_dump(self, *, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        return {name: _dump(getattr(self, name), mode) for name in type(self).__shape_infos__}

    def model_dump_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=indent, ensure_ascii=False)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with `update` applied; the updated fields are checked like any input."""
        current = {name: getattr(self, name) for name in type(self).__shape_infos__}
        if deep:
            current = copy.deepcopy(current)
        if update:
            return type(self)(**{**current, **update})
        clone = object.__new__(type(self))
        for name, value in current.items():
            object.__setattr__(clone, name, value)
        return clone

    # --------------------------------------------------------------- object protocol

    def __setattr__(self, name: str, value: Any) -> None:
        cls = type(self)
        if cls.__shape_frozen__:
            raise _Frozen(f"{cls.__name__} is frozen: use model_copy(update=...)")
        specs = _specs(cls)
        if name not in specs:
            raise AttributeError(f"{cls.__name__} has no field {name!r}")
        if cls.__shape_validate_assignment__:
            try:
                value = _check_field(specs[name], value)
            except _Invalid as exc:
                raise ShapeError(cls.__name__, exc.under(name).loc, exc.msg) from None
        object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in type(self).__shape_infos__)

    def __hash__(self) -> int:
        if not type(self).__shape_frozen__:
            raise TypeError(f"unhashable type: {type(self).__name__!r}")
        return hash(tuple(_hashable(getattr(self, n)) for n in type(self).__shape_infos__))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name, info in type(self).__shape_infos__.items() if info.repr
        )
        return f"{type(self).__name__}({shown})"

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        clone = object.__new__(type(self))
        for name in type(self).__shape_infos__:
            object.__setattr__(clone, name, copy.deepcopy(getattr(self, name), memo))
        return clone

    def __copy__(self) -> Self:
        return self.model_copy()


class FrozenShape(Shape):
    """A shape whose instances never change (a status, an event, the schedule's rules); hashable.
    Enforced at run time (as pydantic's frozen config was): mypy's dataclass rules on frozen bases
    would make every subclass repeat it."""

    __shape_frozen__: ClassVar[bool] = True


class _ModelFields:
    """`Cls.model_fields`: the declared fields in order (name → FieldInfo), as in pydantic."""

    def __get__(self, obj: object, owner: type[Shape]) -> Mapping[str, FieldInfo]:
        return types.MappingProxyType(owner.__shape_infos__)


Shape.model_fields = _ModelFields()  # type: ignore[assignment]
Shape.__shape_infos__ = {}


# ------------------------------------------------------------------ validation


def _specs(cls: type[Shape]) -> dict[str, _Spec]:
    specs = cls.__dict__.get("__shape_specs__")
    if specs is not None:
        return specs  # type: ignore[no-any-return]
    # Resolved on first use, not at class creation: an annotation may name a class declared later.
    hints = typing.get_type_hints(cls, include_extras=True)
    checks: dict[str, list[Callable[[Any], Any]]] = {}
    for klass in reversed(cls.__mro__):
        for attr in vars(klass).values():
            func = attr.__func__ if isinstance(attr, classmethod) else attr
            for name in getattr(func, "__shape_checks__", ()):
                checks.setdefault(name, []).append(getattr(cls, func.__name__))
    specs = {
        name: _Spec(name, info, _checker(hints[name]), tuple(checks.get(name, ())))
        for name, info in cls.__shape_infos__.items()
    }
    cls.__shape_specs__ = specs
    return specs


def _validate_fields(cls: type[Shape], data: Mapping[str, Any]) -> dict[str, Any]:
    specs = _specs(cls)
    for key in data:
        if key not in specs:
            raise _Invalid("Extra inputs are not permitted", (key,))
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in data:
            try:
                values[name] = _check_field(spec, data[name])
            except _Invalid as exc:
                raise exc.under(name) from None
        elif spec.info.required:
            raise _Invalid("Field required", (name,))
        else:
            values[name] = spec.info.make_default()
    return values


def _check_field(spec: _Spec, value: Any) -> Any:
    value = spec.check(value)
    if value is not None:
        value = spec.info.constraints.apply(value)
    for validator in spec.validators:
        try:
            value = validator(value)
        except (ValueError, TypeError) as exc:
            raise _Invalid(f"Value error, {exc}") from None
    return value


def _checker(hint: Any) -> Callable[[Any], Any]:
    """A function that returns the value checked (and converted: dicts to shapes, text to datetimes
    and enums, lists to tuples) for the type `hint`, or raises _Invalid."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(hint)
        inner = _checker(base)
        constraints = [e for e in extras if isinstance(e, Constraints)]
        if any(isinstance(e, Aware) for e in extras):
            return _aware_datetime
        if constraints:
            return lambda v: constraints[0].apply(inner(v))
        return inner
    if hint is Any or hint is object:
        return lambda v: v
    if hint is type(None) or hint is None:
        return _none
    if origin in (Union, types.UnionType):
        return _union([_checker(arg) for arg in typing.get_args(hint)], typing.get_args(hint))
    if origin is Literal:
        return _literal(typing.get_args(hint))
    if origin in (list, tuple, dict):
        args = typing.get_args(hint)
        if origin is dict:
            key_check, value_check = _checker(args[0]), _checker(args[1])
            return lambda v: _dict(v, key_check, value_check)
        item = _checker(args[0]) if args else (lambda v: v)
        return (lambda v: _sequence(v, item, list)) if origin is list else (lambda v: _sequence(v, item, tuple))
    if isinstance(hint, type):
        if issubclass(hint, Shape):
            return lambda v: _nested(hint, v)
        if issubclass(hint, enum.Enum):
            return lambda v: _enum(hint, v)
        if hint is bool:
            return _bool
        if hint is int:
            return _int
        if hint is float:
            return _float
        if hint is str:
            return _str
        if hint is datetime:
            return _datetime
        return lambda v: _instance(hint, v)
    raise TypeError(f"shapes: no checker for the type {hint!r}")


def _none(value: Any) -> None:
    if value is not None:
        raise _Invalid("Input should be None")


def _union(checks: list[Callable[[Any], Any]], args: tuple[Any, ...]) -> Callable[[Any], Any]:
    exact = {arg: check for arg, check in zip(args, checks, strict=True) if isinstance(arg, type)}

    def check(value: Any) -> Any:
        if value is None and type(None) in args:
            return None
        # Exact type first (an int stays an int in `float | str`), then the declared order.
        if type(value) in exact and type(value) is not type(None):
            return exact[type(value)](value)
        first: _Invalid | None = None
        for one in checks:
            try:
                return one(value)
            except _Invalid as exc:
                first = first or exc
        assert first is not None
        raise first

    return check


def _literal(choices: tuple[Any, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        for choice in choices:
            if value == choice and type(value) is type(choice):
                return choice
        raise _Invalid(f"Input should be {' or '.join(repr(c) for c in choices)}")

    return check


def _sequence(value: Any, item: Callable[[Any], Any], kind: type) -> Any:
    if not isinstance(value, list | tuple):
        raise _Invalid(f"Input should be a valid {'list' if kind is list else 'tuple'}")
    out = []
    for index, one in enumerate(value):
        try:
            out.append(item(one))
        except _Invalid as exc:
            raise exc.under(index) from None
    return kind(out)


def _dict(value: Any, key_check: Callable[[Any], Any], value_check: Callable[[Any], Any]) -> dict[Any, Any]:
    if not isinstance(value, Mapping):
        raise _Invalid("Input should be a valid dictionary")
    out = {}
    for key, one in value.items():
        try:
            out[key_check(key)] = value_check(one)
        except _Invalid as exc:
            raise exc.under(str(key)) from None
    return out


def _nested(cls: type[Shape], value: Any) -> Shape:
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise _Invalid(f"Input should be a valid dictionary or instance of {cls.__name__}")
    data = {str(k): v for k, v in value.items()}
    instance = object.__new__(cls)
    for name, checked in _validate_fields(cls, data).items():
        object.__setattr__(instance, name, checked)
    return instance


def _enum(cls: type[enum.Enum], value: Any) -> enum.Enum:
    try:
        return cls(value)
    except ValueError:
        raise _Invalid(f"Input should be {' or '.join(repr(m.value) for m in cls)}") from None


_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


# Numbers and booleans written as text ("10", "true") are taken, as pydantic's lax mode took them:
# a settings or schedule file someone edited by hand keeps working after the move off pydantic.


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Invalid("Input should be a valid boolean")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid("Input should be a valid integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _Invalid("Input should be a valid integer")


def _float(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    raise _Invalid("Input should be a valid number")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Invalid("Input should be a valid string")


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise _Invalid("Input should be a valid datetime (ISO 8601 text)")


def _aware_datetime(value: Any) -> datetime:
    parsed = _datetime(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _Invalid("Input should have timezone info")
    return parsed


def _instance(cls: type, value: Any) -> Any:
    if isinstance(value, cls):
        return value
    raise _Invalid(f"Input should be an instance of {cls.__name__}")


# ------------------------------------------------------------------ dumping


def _dump(value: Any, mode: str) -> Any:
    if isinstance(value, Shape):
        return value.model_dump(mode=mode)  # type: ignore[arg-type]
    if isinstance(value, enum.Enum):
        return value.value if mode == "json" else value
    if isinstance(value, datetime):
        if mode != "json":
            return value
        text = value.isoformat()  # UTC as "Z", the way pydantic wrote the files users already have
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, list | tuple):
        items = [_dump(v, mode) for v in value]
        return items if mode == "json" or isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: _dump(v, mode) for k, v in value.items()}
    return value


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
