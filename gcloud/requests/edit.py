"""Write approved values into a tenant file, changing only the lines that hold them.

A round-trip dump (ruamel.yaml's own) keeps comments and key order but not layout: it drops the spaces that
align `owner:         {name: ...}` and so rewrites lines nobody touched (the byte-diff test shows it). So
ruamel.yaml composes the file, which gives every node's exact start and end in the text and whether a mapping
is written in flow style, and the edit splices the text there: a changed value is replaced where it stands,
a new key is appended to its mapping in that mapping's own style. The result is parsed back and compared with
the intended data, so an edit can never write something other than what was approved.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml

from gcloud.model.yamlsrc import PathKey

from .keys import set_path


def _compose(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").compose(text)


def _child(node: Any, part: str | int) -> Any:
    """The value node under a mapping key or sequence index (None when absent)."""
    if isinstance(part, int):
        is_seq = type(node).__name__ == "SequenceNode"
        return node.value[part] if is_seq and part < len(node.value) else None
    if not _is_map(node):
        return None
    return next((value for key, value in node.value if key.value == part), None)


def _is_map(node: Any) -> bool:
    return type(node).__name__ == "MappingNode"


def _is_scalar(node: Any) -> bool:
    return type(node).__name__ == "ScalarNode"


def _scalar(value: Any, style: str | None = None) -> str:
    """A value as YAML text; a string that would read as a number keeps (or gets) quotes."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"quota values are ints or quantities, not {type(value).__name__}")
    if isinstance(value, int):
        return str(value)
    if style in ('"', "'"):
        return f"{style}{value}{style}"
    loaded = yaml.safe_load(value)
    return f'"{value}"' if not isinstance(loaded, str) or loaded != value else value


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    return _scalar(value)


def _block(key: str, value: Any, indent: int) -> list[str]:
    """A new key in block style; a mapping of scalars is written in flow style, as tenant files do."""
    pad = " " * indent
    if isinstance(value, Mapping) and any(isinstance(item, Mapping) for item in value.values()):
        lines = [f"{pad}{key}:"]
        for child, item in value.items():
            lines += _block(str(child), item, indent + 2)
        return lines
    return [f"{pad}{key}: {_flow(value)}"]


def _last_leaf(node: Any) -> Any:
    """The last scalar or flow collection inside a block collection: its line is the collection's last."""
    while not _is_scalar(node) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if _is_map(node) else last
    return node


def _nested(path: PathKey, value: Any) -> Any:
    """`("a", "b"), 1` -> `{"b": 1}` under "a": the value a missing key holds."""
    result: Any = value
    for part in reversed(path):
        result = {part: result}
    return result


def _edit_one(text: str, path: PathKey, value: Any) -> str:
    root = _compose(text)
    node, depth = root, 0
    while depth < len(path):
        child = _child(node, path[depth])
        if child is None:
            break
        node, depth = child, depth + 1
    if depth == len(path):
        if not _is_scalar(node):
            raise ValueError(f"{path} holds a collection, not a quota value")
        start, end = node.start_mark.index, node.end_mark.index
        return text[:start] + _scalar(value, node.style) + text[end:]
    if not _is_map(node):
        raise ValueError(f"cannot add {path[depth]!r} under a non-mapping")
    key = str(path[depth])
    rest = _nested(path[depth + 1:], value)
    if node.flow_style:
        if node.value:
            end = node.value[-1][1].end_mark.index
            return text[:end] + f", {key}: {_flow(rest)}" + text[end:]
        close = text.rindex("}", 0, node.end_mark.index)
        return text[:close] + f"{key}: {_flow(rest)}" + text[close:]
    leaf = _last_leaf(node)
    line_end = text.find("\n", leaf.end_mark.index)
    line_end = len(text) if line_end < 0 else line_end
    indent = node.value[0][0].start_mark.column
    return text[:line_end] + "\n" + "\n".join(_block(key, rest, indent)) + text[line_end:]


def edit_tenant_text(text: str, values: list[tuple[PathKey, Any]]) -> str:
    """The tenant file's text with each (path, value) set, every other byte kept."""
    expected = copy.deepcopy(yaml.safe_load(text))
    for path, value in values:
        text = _edit_one(text, path, value)
        set_path(expected, path, value)
    if yaml.safe_load(text) != expected:
        raise RuntimeError("the tenant file edit did not produce the approved values; nothing was written")
    return text
