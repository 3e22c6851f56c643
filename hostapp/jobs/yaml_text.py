"""YAML job definitions (Nosana's CLI reads them too), loaded safely into the same JSON data.

PyYAML's SafeLoader (no tags that build objects), plus what a stranger's file needs:
- the size limit of a JSON definition, checked before parsing;
- alias expansion bounded (a "billion laughs" file is refused, not expanded), recursive aliases refused;
- only JSON's types come out: timestamps stay strings, `!!binary`, `!!set` and other tags are refused,
  mapping keys must be strings.
The result goes through the same validation as JSON (same errors, same JSON paths). No pydantic here:
the CLI converts a YAML file before it hands the text on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hostapp.jobs.limits import MAX_DEFINITION_BYTES, MAX_DEPTH

YAML_SUFFIXES = (".yaml", ".yml")
MAX_EXPANDED_NODES = 100_000  # values after alias expansion; a real definition has a few hundred


class YamlDefinitionError(ValueError):
    """The text is not a YAML definition this host reads; `.path` and `.reason` as in JobDefinitionError."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def is_yaml_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in YAML_SUFFIXES


class _JsonSafeLoader(yaml.SafeLoader):
    """SafeLoader without the YAML 1.1 timestamp resolver (dates stay strings, as in JSON)."""


_JsonSafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_JSON_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")}


def _refuse_tag(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(None, None, f"the tag {node.tag} is not allowed", node.start_mark)


for _tag in list(yaml.SafeLoader.yaml_constructors):
    if _tag is not None and _tag not in _JSON_TAGS:
        _JsonSafeLoader.add_constructor(_tag, _refuse_tag)
_JsonSafeLoader.add_constructor(None, _refuse_tag)  # any unknown tag


def load_yaml_definition(raw: bytes | str) -> Any:
    """The YAML text as JSON data (dict, list, str, int, float, bool, None); YamlDefinitionError says why not."""
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > MAX_DEFINITION_BYTES:
        raise YamlDefinitionError("$", f"definition is {size} bytes; the limit is {MAX_DEFINITION_BYTES}")
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlDefinitionError("$", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        loader = _JsonSafeLoader(raw)
        try:
            node = loader.get_single_node()
            _check_expansion(node)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise YamlDefinitionError("$", f"not valid YAML: {exc.problem or exc.context}{where}") from None
    except yaml.YAMLError as exc:
        raise YamlDefinitionError("$", f"not valid YAML: {exc}") from None
    except RecursionError:
        raise YamlDefinitionError("$", f"YAML nested deeper than {MAX_DEPTH} levels") from None
    _check_json_types(data)
    return data


def _check_expansion(root: yaml.Node | None) -> None:
    """Count nodes as if every alias were expanded, stopping at the limit (never expanding anything)."""
    count = 0
    stack: list[tuple[yaml.Node, int, tuple[int, ...]]] = [(root, 1, ())] if root is not None else []
    while stack:
        node, depth, ancestors = stack.pop()
        count += 1
        if count > MAX_EXPANDED_NODES:
            raise YamlDefinitionError(
                "$", f"YAML aliases expand to more than {MAX_EXPANDED_NODES} values (an alias bomb?); refused"
            )
        if depth > MAX_DEPTH:
            raise YamlDefinitionError("$", f"YAML nested deeper than {MAX_DEPTH} levels")
        if id(node) in ancestors:
            raise YamlDefinitionError("$", "a YAML alias refers to itself (a recursive structure); refused")
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1, (*ancestors, id(node))) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1, (*ancestors, id(node))))
                stack.append((value, depth + 1, (*ancestors, id(node))))


def _check_json_types(data: Any) -> None:
    stack: list[tuple[Any, str]] = [(data, "$")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise YamlDefinitionError(path, f"the key {key!r} is not a string (quote it)")
                stack.append((item, f"{path}.{key}"))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(value))
        elif not isinstance(value, str | int | float | bool) and value is not None:
            raise YamlDefinitionError(path, f"a {type(value).__name__} value is not part of the job format")
