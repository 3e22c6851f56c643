"""The job definition's schema: pydantic models, strict parsing with JSON paths, and the error translation.

Every model forbids unknown fields: a definition that says `privileged`, `cap_add`, `devices` or a host
path is rejected with the path of the offending field, never silently ignored (docs/security.md). The
one open mapping is `meta`, which Nosana defines as free-form and which hostapp never acts on.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from hostapp.jobs.limits import (
    ACCEPTED_VERSIONS,
    MAX_DEFINITION_BYTES,
    MAX_DEPTH,
    MAX_OPS,
    MAX_PRICE_PER_SECOND,
    MAX_TIMEOUT_SECONDS,
)

# Ids and volume names: ASCII only, so look-alike letters, bidi overrides and zero-width characters
# cannot make two ops or volumes print the same while being different (or smuggle path characters).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
ENV_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,255}$"
# image[:tag][@sha256:digest] with an optional registry host[:port]; no spaces, no control characters.
_IMAGE_PATTERN = (
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]{1,5})?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@sha256:[a-f0-9]{64})?$"
)
SPREAD_KEY = "__spread__"
REDACTED = "[REDACTED]"

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Text = Annotated[str, StringConstraints(max_length=65_536)]
ShortText = Annotated[str, StringConstraints(max_length=4096)]
ImageRef = Annotated[str, StringConstraints(pattern=_IMAGE_PATTERN, max_length=512)]
EnvKey = Annotated[str, StringConstraints(pattern=ENV_KEY_PATTERN)]
Port = Annotated[int, Field(ge=1, le=65_535)]
PortRange = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,5}-[0-9]{1,5}$")]
LiteralString = Annotated[str, StringConstraints(pattern=r"^%%(ops|global)\.[^%]{1,256}%%$")]


class JobDefinitionError(Exception):
    """The definition is invalid. `.errors` lists (json_path, reason); str() is one line per error."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors or [("$", "invalid job definition")]
        super().__init__("\n".join(f"{path}: {reason}" for path, reason in self.errors))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


# The kernel's and the engine's own file systems in a container: a mount over them (a writable
# /sys/fs/cgroup, a volume over /dev) hands the job what the sandbox takes away.
_KERNEL_TREES = ("/dev", "/proc", "/sys")


def _container_path(value: str, *, allow_root: bool) -> str:
    """An absolute path inside the container, with no `..` component (normalised)."""
    _no_nul(value)
    if not value.startswith("/"):
        raise ValueError(f"must be an absolute path inside the container, got {value!r}")
    if any(part == ".." for part in value.split("/")):
        raise ValueError(f"must not contain '..', got {value!r}")
    normalised = posixpath.normpath(value)
    if normalised == "/" and not allow_root:
        raise ValueError("must not be the container's root directory")
    return normalised


def _mount_target(value: str) -> str:
    """A path the runner mounts a volume at: a container path outside /dev, /proc and /sys."""
    normalised = _container_path(value, allow_root=False)
    if normalised.startswith("//"):  # POSIX keeps a leading `//`; the kernel reads it as `/`
        normalised = "/" + normalised.lstrip("/")
    for tree in _KERNEL_TREES:
        if normalised == tree or normalised.startswith(tree + "/"):
            raise ValueError(f"must not be under {tree} (the container's kernel file systems), got {value!r}")
    return normalised


def _env_keys(value: Mapping[str, str] | None) -> None:
    """NVIDIA_* variables steer the NVIDIA container runtime (which GPUs, which driver features): the runner
    alone decides what GPU a container sees, so a job may not set them."""
    for key in value or {}:
        if key.upper().startswith("NVIDIA_"):
            raise ValueError(
                f"{key}: NVIDIA_* variables are set by this host only (it decides GPU visibility); remove it"
            )


class SpreadMarker(_Strict):
    """`{"__spread__": "%%ops.x.results.y%%"}`: JSON resolved at run time and spliced in."""

    spread: LiteralString = Field(alias="__spread__")


class HttpHealthCheck(_Strict):
    type: Literal["http"]
    path: ShortText
    method: Literal["GET", "POST", "PUT", "DELETE"]
    expected_status: Annotated[int, Field(ge=100, le=599)]
    headers: dict[ShortText, ShortText] | None = None
    body: Any = None
    continuous: bool = False


class WebSocketHealthCheck(_Strict):
    type: Literal["websocket"]
    expected_response: ShortText
    continuous: bool = False


HealthCheck = Annotated[HttpHealthCheck | WebSocketHealthCheck, Field(discriminator="type")]


class ExposedPort(_Strict):
    port: Port | PortRange
    type: Literal["web", "api", "webapi", "websocket", "none"] | None = None
    health_checks: Annotated[list[HealthCheck], Field(max_length=16)] | None = None


ExposeItem = Port | PortRange | LiteralString | ExposedPort | SpreadMarker


class S3Bucket(_Strict):
    url: ShortText
    files: list[ShortText] | None = None


def resource_file_name(value: str) -> str:
    """A file inside a model resource: a relative path that stays inside it (no `..`, no absolute path)."""
    _no_nul(value)
    if not value or value.startswith("/") or "\\" in value:
        raise ValueError(f"must be a relative path inside the resource, got {value!r}")
    parts = value.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"must not contain empty, '.' or '..' components, got {value!r}")
    return value


ResourceFile = Annotated[str, StringConstraints(max_length=1024)]


class Resource(_Strict):
    """An S3 / Hugging Face / Ollama model resource (docs/job-format.md, "Model resources").

    S3 and HF resources are fetched into the node's model cache and mounted read-only at `target`
    (hostapp/resources/); Ollama models are parsed and named, but not fetched by this host.
    """

    type: Literal["S3", "HF", "Ollama"]
    url: ShortText | None = None
    target: str | None = None
    files: Annotated[list[ResourceFile], Field(max_length=4096)] | None = None
    allowWrite: bool | None = None  # Nosana's spelling
    bucket: ShortText | None = None
    buckets: Annotated[list[S3Bucket], Field(max_length=256)] | None = None
    IAM: dict[ShortText, ShortText] | None = Field(default=None, repr=False)
    repo: ShortText | None = None
    revision: ShortText | None = None
    accessToken: ShortText | None = Field(default=None, repr=False)
    model: ShortText | None = None

    @field_validator("target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        return None if value is None else _mount_target(value)

    @field_validator("files")
    @classmethod
    def _files(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            resource_file_name(name)
        return value

    @field_validator("IAM")
    @classmethod
    def _iam(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        unknown = sorted(set(value or {}) - {"REGION", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY"})
        if unknown:
            raise ValueError(f"unknown IAM keys {unknown}: use REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY")
        if value and bool(value.get("ACCESS_KEY_ID")) != bool(value.get("SECRET_ACCESS_KEY")):
            raise ValueError("IAM needs both ACCESS_KEY_ID and SECRET_ACCESS_KEY (or neither)")
        return value

    @model_validator(mode="after")
    def _fields_for_type(self) -> Resource:
        needs = {"S3": ("url", "target"), "HF": ("repo", "target"), "Ollama": ("model",)}[self.type]
        if self.type == "S3" and self.buckets:
            needs = ("target",)
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"an {self.type} resource needs {' and '.join(repr(m) for m in missing)}")
        foreign = {
            "S3": ("repo", "revision", "model", "accessToken"),
            "HF": ("url", "bucket", "buckets", "IAM", "model"),
            "Ollama": ("url", "bucket", "buckets", "IAM", "repo", "revision", "files", "accessToken", "allowWrite"),
        }[self.type]
        extra = [name for name in foreign if getattr(self, name) is not None]
        if extra:
            raise ValueError(f"{', '.join(repr(e) for e in extra)} is not a field of an {self.type} resource")
        return self


class DockerAuth(_Strict):
    type: Literal["password"] | None = None
    username: ShortText | None = None
    password: ShortText | None = Field(default=None, repr=False)
    email: ShortText | None = None
    server: ShortText | None = None

    @property
    def has_credentials(self) -> bool:
        return bool(self.username or self.password)


class Authentication(_Strict):
    docker: DockerAuth | None = None


class RestartPolicy(_Strict):
    policy: Literal["no", "always", "on-failure", "unless-stopped"] = "no"
    restart_tries: Annotated[int, Field(ge=0, le=100)] = 0


class Volume(_Strict):
    name: Identifier
    dest: str

    @field_validator("dest")
    @classmethod
    def _dest(cls, value: str) -> str:
        return _mount_target(value)


def _resource_kind(value: Any) -> str | None:
    """Which shape a `resources` item is, so an invalid resource gets the resource's errors only."""
    if isinstance(value, str):
        return "marker"
    if isinstance(value, Resource | SpreadMarker):
        return "spread" if isinstance(value, SpreadMarker) else "resource"
    if isinstance(value, Mapping):
        return "spread" if SPREAD_KEY in value else "resource"
    return None


ResourceItem = Annotated[
    Annotated[Resource, Tag("resource")]
    | Annotated[SpreadMarker, Tag("spread")]
    | Annotated[Literal["__remove-if-empty__"], Tag("marker")],
    Discriminator(
        _resource_kind,
        custom_error_type="invalid_resource",
        custom_error_message="a resource must be an object with a type (S3, HF or Ollama)",
    ),
]
CommandList = Annotated[list[Text], Field(max_length=4096)]


class RunArgs(_Strict):
    image: ImageRef | None = None  # may come from `global.image`
    aliases: ShortText | list[ShortText] | None = None
    cmd: Text | CommandList | None = None
    entrypoint: Text | CommandList | None = None
    env: Annotated[dict[EnvKey, Text], Field(max_length=1024)] | None = None
    work_dir: str | None = None
    output: str | None = None
    volumes: Annotated[list[Volume], Field(max_length=16)] | None = None
    expose: (
        Port | PortRange | LiteralString | SpreadMarker | Annotated[list[ExposeItem], Field(max_length=64)] | None
    ) = None
    private: bool | None = None
    gpu: bool | None = None
    required_vram: Annotated[int, Field(ge=0, le=4096)] | None = None  # GB, as Nosana counts it
    resources: Annotated[list[ResourceItem], Field(max_length=256)] | None = None
    authentication: Authentication | None = None
    restart_policy: RestartPolicy | None = None

    @field_validator("cmd", "entrypoint")
    @classmethod
    def _command(cls, value: str | list[str] | None) -> str | list[str] | None:
        for part in [value] if isinstance(value, str) else value or []:
            _no_nul(part)
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        _env_keys(value)
        for item in (value or {}).values():
            _no_nul(item)
        return value

    @field_validator("work_dir")
    @classmethod
    def _work_dir(cls, value: str | None) -> str | None:
        return None if value is None else _container_path(value, allow_root=True)

    @field_validator("output")
    @classmethod
    def _output(cls, value: str | None) -> str | None:
        return None if value is None else _mount_target(value)


class CreateVolumeArgs(_Strict):
    name: Identifier


class Execution(_Strict):
    group: Identifier | None = None
    depends_on: Annotated[list[Identifier], Field(max_length=MAX_OPS)] | None = None
    stop_if_dependent_stops: bool | None = None


LogType = Literal["stdin", "stdout", "stderr", "nodeerr"]


class ResultFilter(_Strict):
    regex: Annotated[str, StringConstraints(max_length=4096)]
    logType: Annotated[list[LogType], Field(min_length=1, max_length=4)]

    @field_validator("logType")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("logType values must be unique")
        return value


ResultName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Results = Annotated[
    dict[ResultName, Annotated[str, StringConstraints(max_length=4096)] | ResultFilter],
    Field(max_length=64),
]


class RunOp(_Strict):
    type: Literal["container/run"]
    id: Identifier
    args: RunArgs
    results: Results | None = None
    execution: Execution | None = None


class CreateVolumeOp(_Strict):
    type: Literal["container/create-volume"]
    id: Identifier
    args: CreateVolumeArgs
    results: Results | None = None
    execution: Execution | None = None


Op = Annotated[RunOp | CreateVolumeOp, Field(discriminator="type")]


class GlobalDefaults(_Strict):
    image: ImageRef | None = None
    gpu: bool | None = None
    entrypoint: Text | CommandList | None = None
    env: Annotated[dict[EnvKey, Text], Field(max_length=1024)] | None = None
    work_dir: str | None = None
    variables: Annotated[dict[EnvKey, Text], Field(max_length=1024)] | None = None

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        _env_keys(value)
        return value

    @field_validator("work_dir")
    @classmethod
    def _work_dir(cls, value: str | None) -> str | None:
        return None if value is None else _container_path(value, allow_root=True)


class LogisticsEndpoint(_Strict):
    type: Literal["api", "api-listen"]
    args: dict[Literal["endpoint"], ShortText] = Field(default_factory=dict)


class Logistics(_Strict):
    send: LogisticsEndpoint | None = None
    receive: LogisticsEndpoint | None = None


class Meta(BaseModel):
    # Free-form in the Nosana format (trigger, system_requirements, ...): kept, never acted on,
    # except system_requirements.required_vram for GPU matching.
    model_config = ConfigDict(extra="allow", frozen=True)
    trigger: ShortText | None = None
    system_requirements: dict[ShortText, Any] | None = None


class JobDefinition(_Strict):
    version: str = "0.1"
    type: Literal["container"] = "container"
    meta: Meta | None = None
    logistics: Logistics | None = None
    deployment_id: ShortText | None = None
    global_: GlobalDefaults | None = Field(default=None, alias="global")
    ops: Annotated[list[Op], Field(max_length=MAX_OPS)]

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value not in ACCEPTED_VERSIONS:
            accepted = ", ".join(ACCEPTED_VERSIONS)
            raise ValueError(f"format version {value[:32]!r} is not supported; this host reads versions {accepted}")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> JobDefinition:
        errors: list[tuple[str, str]] = []
        if not self.ops and self.logistics is None:
            # Only a confidential job (Nosana's `logistics`) leaves its ops to an outside API.
            errors.append(("$.ops", "no ops to run: a job needs at least one op"))
        seen: dict[str, int] = {}
        volumes: set[str] = set()
        for index, op in enumerate(self.ops):
            if op.id in seen:
                errors.append((f"$.ops[{index}].id", f"duplicate op id {op.id!r} (also ops[{seen[op.id]}])"))
            seen[op.id] = index
            if isinstance(op, CreateVolumeOp):
                volumes.add(op.args.name)
        for index, op in enumerate(self.ops):
            for dep in (op.execution.depends_on or []) if op.execution else []:
                if dep not in seen:
                    errors.append((f"$.ops[{index}].execution.depends_on", f"unknown op id {dep!r}"))
                elif dep == op.id:
                    errors.append((f"$.ops[{index}].execution.depends_on", "an op cannot depend on itself"))
            if isinstance(op, RunOp):
                for v_index, volume in enumerate(op.args.volumes or []):
                    # Only volumes the job itself creates: a name must never reach the user's own
                    # Docker volumes (or anything on the host).
                    if volume.name not in volumes:
                        errors.append(
                            (
                                f"$.ops[{index}].args.volumes[{v_index}].name",
                                f"volume {volume.name!r} is not created by a container/create-volume op "
                                "of this job (host paths and outside volumes are not allowed)",
                            )
                        )
                if op.args.image is None and (self.global_ is None or self.global_.image is None):
                    errors.append((f"$.ops[{index}].args.image", "missing (and no global.image)"))
        if not errors:
            try:
                execution_order(self)
            except JobDefinitionError as exc:
                errors.extend(exc.errors)
        if errors:
            raise _CrossCheckError(errors)
        return self


class _CrossCheckError(ValueError):
    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {r}" for p, r in errors))
        self.errors = errors


_ADAPTER: TypeAdapter[JobDefinition] = TypeAdapter(JobDefinition)


@dataclass(frozen=True)
class GridJob:
    """What the grid hands the node: a definition plus the terms it runs under."""

    job_id: str
    attempt: int
    price_per_second: int  # token base units, never floats
    timeout_seconds: int
    definition: JobDefinition
    network: bool = False  # the market allows outbound network for this job (docs/security.md)

    def __post_init__(self) -> None:
        if not re.match(ID_PATTERN, self.job_id):
            raise ValueError(f"job id {self.job_id!r} is not a plain ASCII id")
        if isinstance(self.attempt, bool) or not isinstance(self.attempt, int) or not 1 <= self.attempt <= 10_000:
            raise ValueError(f"attempt must be an integer 1..10000, got {self.attempt!r}")
        price = self.price_per_second
        if isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= MAX_PRICE_PER_SECOND:
            raise ValueError(f"price_per_second must be an integer 0..{MAX_PRICE_PER_SECOND}, got {price!r}")
        timeout = self.timeout_seconds
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"timeout_seconds must be an integer 1..{MAX_TIMEOUT_SECONDS}, got {timeout!r}")


# ---------------------------------------------------------------- parsing


def parse_job_definition(raw: bytes | str | Mapping[str, Any]) -> JobDefinition:
    """Parse and validate; raises JobDefinitionError listing every problem with its JSON path."""
    if isinstance(raw, bytes | bytearray | str):
        size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
        if size > MAX_DEFINITION_BYTES:
            raise JobDefinitionError([("$", f"definition is {size} bytes; the limit is {MAX_DEFINITION_BYTES}")])
        try:
            data: Any = json.loads(raw)
        except RecursionError:
            raise JobDefinitionError([("$", f"JSON nested deeper than {MAX_DEPTH} levels")]) from None
        except UnicodeDecodeError as exc:
            raise JobDefinitionError([("$", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
        except json.JSONDecodeError as exc:
            raise JobDefinitionError(
                [("$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
            ) from None
        except ValueError as exc:  # e.g. integers with thousands of digits
            raise JobDefinitionError([("$", f"not valid JSON: {exc}")]) from None
    else:
        data = raw
    if not isinstance(data, dict):
        raise JobDefinitionError([("$", f"must be a JSON object, got {_json_type(data)}")])
    depth_error = _depth_error(data)
    if depth_error:
        raise JobDefinitionError([depth_error])
    if not isinstance(raw, bytes | bytearray | str):
        # An object (grid submission, lease, test) gets the same limit as text: its size as compact JSON.
        size = _encoded_size(data)
        if size > MAX_DEFINITION_BYTES:
            raise JobDefinitionError(
                [("$", f"definition is {size} bytes as JSON; the limit is {MAX_DEFINITION_BYTES}")]
            )
    ops = data.get("ops")
    if isinstance(ops, list) and len(ops) > MAX_OPS:
        raise JobDefinitionError([("$.ops", f"{len(ops)} ops; at most {MAX_OPS} are allowed")])
    try:
        definition = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise JobDefinitionError(_translate(exc, data)) from None
    return merge_globals(definition)


def _encoded_size(data: Mapping[str, Any]) -> int:
    """The object's size as compact UTF-8 JSON, counted without building the text (and stopping early)."""
    size = 0
    stack: list[Any] = [data]
    while stack and size <= MAX_DEFINITION_BYTES:
        value = stack.pop()
        if isinstance(value, Mapping):
            size += 1 + max(len(value) * 2 - 1, 0) + 1  # braces, colons, commas
            for key, item in value.items():
                stack.append(str(key))
                stack.append(item)
        elif isinstance(value, list | tuple):
            size += 1 + max(len(value) - 1, 0) + 1
            stack.extend(value)
        elif isinstance(value, str):
            # As json.dumps writes it (escapes included); a string longer than the limit is over it anyway.
            size += len(value) if len(value) > MAX_DEFINITION_BYTES else len(_compact_json(value))
        elif isinstance(value, bool) or value is None:
            size += 5
        elif isinstance(value, int):  # str() of a 5,000-digit integer raises: count its digits instead
            size += value.bit_length() * 30103 // 100_000 + 2
        else:
            size += len(repr(value))
    return size


def _compact_json(value: str) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _depth_error(data: Any) -> tuple[str, str] | None:
    stack: list[tuple[Any, int, str]] = [(data, 1, "$")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            return path, f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, dict):
            stack.extend((v, depth + 1, f"{path}.{k}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(value))
    return None


def _translate(exc: ValidationError, data: Any) -> list[tuple[str, str]]:
    """Pydantic errors as (JSON path, reason); union branch names are dropped from the path."""
    by_path: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        ctx = err.get("ctx") or {}
        if isinstance(ctx.get("error"), _CrossCheckError):
            for path, reason in ctx["error"].errors:
                by_path.setdefault(path, []).append(reason)
            continue
        path, last = _json_path(data, err["loc"], keep_last=err["type"] == "missing")
        if err["type"] == "extra_forbidden":
            reason = f"unknown field {last!r}: not part of the job format (rejected, not ignored)"
        elif err["type"] == "missing":
            reason = "required field is missing"
        elif err["type"] == "string_pattern_mismatch":
            reason = _PATTERN_REASONS.get(str(ctx.get("pattern")), str(err["msg"]))
        else:
            reason = str(err["msg"]).removeprefix("Value error, ")
        if len(path) > 200:
            path = path[:200] + "…"
        reasons = by_path.setdefault(path, [])
        if reason not in reasons:
            reasons.append(reason)
    errors = [(path, " | ".join(reasons[:3])) for path, reasons in by_path.items()]
    return errors[:50]


_PATTERN_REASONS = {
    ID_PATTERN: "must be a plain ASCII id: letters, digits, '_', '.', '-', at most 64 characters",
    _IMAGE_PATTERN: "not a valid image reference (name[:tag][@sha256:digest])",
    ENV_KEY_PATTERN: "not a valid environment variable name",
}


def _json_path(data: Any, loc: tuple[int | str, ...], keep_last: bool) -> tuple[str, str]:
    """Walk the input along `loc`, keeping only the steps that exist in it."""
    path = "$"
    current = data
    last = ""
    for index, part in enumerate(loc):
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            path, current, last = f"{path}.{part}", current[part], part
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path, current, last = f"{path}[{part}]", current[part], str(part)
        elif keep_last and index == len(loc) - 1:
            path, last = f"{path}.{part}", str(part)
    return path, last


def merge_globals(definition: JobDefinition) -> JobDefinition:
    """Apply `global` defaults (image, gpu, entrypoint, env, work_dir) to every container/run op."""
    glob = definition.global_
    if glob is None:
        return definition
    merged: list[RunOp | CreateVolumeOp] = []
    for op in definition.ops:
        if isinstance(op, RunOp):
            args = op.args
            update: dict[str, Any] = {}
            for name in ("image", "gpu", "entrypoint", "work_dir"):
                if getattr(args, name) is None and getattr(glob, name) is not None:
                    update[name] = getattr(glob, name)
            if glob.env:
                update["env"] = {**glob.env, **(args.env or {})}
            if update:
                op = op.model_copy(update={"args": args.model_copy(update=update)})
        merged.append(op)
    return definition.model_copy(update={"ops": merged})


def execution_order(definition: JobDefinition) -> list[RunOp | CreateVolumeOp]:
    """Ops in document order, each moved after the ops it depends on; a cycle is an error."""
    by_id = {op.id: op for op in definition.ops}
    done: set[str] = set()
    order: list[RunOp | CreateVolumeOp] = []
    visiting: set[str] = set()

    def visit(op: RunOp | CreateVolumeOp) -> None:
        if op.id in done:
            return
        if op.id in visiting:
            raise JobDefinitionError([("$.ops", f"execution.depends_on has a cycle through {op.id!r}")])
        visiting.add(op.id)
        for dep in (op.execution.depends_on or []) if op.execution else []:
            if dep in by_id:
                visit(by_id[dep])
        visiting.discard(op.id)
        done.add(op.id)
        order.append(op)

    for op in definition.ops:
        visit(op)
    return order


# ---------------------------------------------------------------- commands


def effective_command(args: RunArgs) -> list[str] | None:
    """Nosana's rule: a string cmd runs as ["/bin/sh", "-c", cmd]; a list is used as is."""
    if args.cmd is None:
        return None
    if isinstance(args.cmd, str):
        return ["/bin/sh", "-c", args.cmd]
    return list(args.cmd)


def effective_entrypoint(args: RunArgs) -> list[str] | None:
    if args.entrypoint is None:
        return None
    if isinstance(args.entrypoint, str):
        return [args.entrypoint]
    return list(args.entrypoint)


def redacted_json(definition: JobDefinition) -> str:
    """The definition as JSON with registry passwords removed: what may be stored or shown."""
    data = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    for op in data.get("ops", []):
        docker = (op.get("args", {}).get("authentication") or {}).get("docker")
        if docker and docker.get("password"):
            docker["password"] = REDACTED
        for item in op.get("args", {}).get("resources") or []:
            # A resource's IAM keys and HF token are used for its fetch only: never stored or shown.
            if isinstance(item, dict) and item.get("IAM"):
                item["IAM"] = {key: value if key == "REGION" else REDACTED for key, value in item["IAM"].items()}
            if isinstance(item, dict) and item.get("accessToken"):
                item["accessToken"] = REDACTED
    return json.dumps(data, sort_keys=True)
