"""`%%ops.<id>.results.<name>%%` and `%%global.…%%` literals: resolved in a run op's args at run time."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from hostapp.jobs.definition.schema import ENV_KEY_PATTERN, SPREAD_KEY, JobDefinition, RunArgs

LITERAL_RE = re.compile(r"%%((?:ops|global)\.[^%]{1,256})%%")
REMOVE_IF_EMPTY = "__remove-if-empty__"
# Globals the node itself provides to literals: `host` is where the job's services run (this machine).
NODE_GLOBALS = {"host": "localhost"}


class LiteralError(Exception):
    """A `%%…%%` literal names something that does not exist (yet)."""


ResultsByOp = Mapping[str, Mapping[str, str | list[str | None]]]


def resolve_literal(path: str, definition: JobDefinition, results: ResultsByOp) -> str:
    """`global.variables.X`, `global.<field>`, or `ops.<id>.results.<name>` (the first match)."""
    parts = path.split(".")
    if parts[0] == "global":
        glob = definition.global_
        if glob is not None and len(parts) == 3 and parts[1] == "variables" and glob.variables:
            if parts[2] in glob.variables:
                return glob.variables[parts[2]]
        if glob is not None and len(parts) == 2 and isinstance(getattr(glob, parts[1], None), str):
            return str(getattr(glob, parts[1]))
        if len(parts) == 2 and parts[1] in NODE_GLOBALS:
            return NODE_GLOBALS[parts[1]]
        raise LiteralError(f"%%{path}%% is not defined in global")
    if len(parts) == 4 and parts[2] == "results":
        op_results = results.get(parts[1])
        if op_results is None:
            raise LiteralError(f"%%{path}%%: op {parts[1]!r} has not produced results")
        value = op_results.get(parts[3])
        if isinstance(value, list):
            found = [v for v in value if v is not None]
            return found[0] if found else ""
        if value is None:
            raise LiteralError(f"%%{path}%%: op {parts[1]!r} has no result {parts[3]!r}")
        raise LiteralError(f"%%{path}%%: result {parts[3]!r} failed: {value}")
    raise LiteralError(f"%%{path}%% is not a literal hostapp can resolve")


def substitute(text: str, definition: JobDefinition, results: ResultsByOp) -> str:
    return LITERAL_RE.sub(lambda m: resolve_literal(m.group(1), definition, results), text)


def resolve_run_args(args: RunArgs, definition: JobDefinition, results: ResultsByOp) -> RunArgs:
    """Resolve literals in cmd, entrypoint and env (incl. `__spread__` and `__remove-if-empty__`)."""

    def resolve_list(items: str | list[str] | None) -> str | list[str] | None:
        if items is None:
            return None
        if isinstance(items, str):
            return substitute(items, definition, results)
        remove_if_empty = REMOVE_IF_EMPTY in items
        resolved = [substitute(item, definition, results) for item in items if item != REMOVE_IF_EMPTY]
        if remove_if_empty and not any(resolved):
            return None
        return resolved

    env: dict[str, str] | None = None
    if args.env is not None:
        env = {}
        for key, value in args.env.items():
            if key == SPREAD_KEY:
                env.update(_spread_object(substitute(value, definition, results), "env.__spread__"))
            else:
                env[key] = substitute(value, definition, results)
    return args.model_copy(
        update={"cmd": resolve_list(args.cmd), "entrypoint": resolve_list(args.entrypoint), "env": env}
    )


def _spread_object(text: str, where: str) -> dict[str, str]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise LiteralError(f"{where}: resolved value is not JSON ({exc})") from None
    if not isinstance(value, dict) or not all(isinstance(v, str | int | float | bool) for v in value.values()):
        raise LiteralError(f"{where}: resolved value is not a JSON object of plain values")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not re.match(ENV_KEY_PATTERN, str(key)):
            raise LiteralError(f"{where}: {key!r} is not a valid environment variable name")
        if str(key).upper().startswith("NVIDIA_"):
            raise LiteralError(f"{where}: {key}: NVIDIA_* variables are set by this host only")
        out[str(key)] = json.dumps(item) if isinstance(item, bool) else str(item)
    return out
