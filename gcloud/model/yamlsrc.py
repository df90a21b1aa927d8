"""Safe YAML that remembers where every value came from.

Tenant files are reviewed like code, so the loader is strict where YAML is lenient: only the standard tags,
no duplicate keys, no merge keys, a bounded number of nodes (YAML bombs), at most 1 MiB, strict UTF-8.
It composes the document with libyaml and walks the node tree once, building plain data and a position
index keyed by field path, so every later error can name file, line and column.

Text holding control characters is refused too. libyaml already refuses them raw, but a double-quoted escape
(`"\\e[2J"`, `"\\x9b"`) or a bidi override yields one, and such a value would rewrite the terminal that prints a
table or hide text from the reviewer who reads the file (Trojan Source). Only tab and newline may appear.
"""

from __future__ import annotations

import datetime as dt
import marshal
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from gcloud.errors import InputError

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 50_000
"""Nodes visited after alias expansion; a real tenant file has a few hundred."""
MAX_DEPTH = 64
"""Nesting levels (a tenant file has 6): the walk recurses, and libyaml's own limit (1000) is past Python's."""

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """libyaml's safe loader with the implicit-tag resolution of scalars remembered.

    libyaml composes in C but asks the Python resolver for every scalar's tag (a regex per candidate type):
    about a third of composing a tenant file. The answer depends only on the text and its quoting (the safe
    loader has no path resolvers, so position plays no part), and most values recur (keys, `ingress`, `tcp`),
    so it is remembered, up to RESOLVED_MAX texts.
    """

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode:
            return str(super().resolve(kind, value, implicit))
        key = (value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = str(super().resolve(kind, value, implicit))
            if len(_RESOLVED) < RESOLVED_MAX:
                _RESOLVED[key] = tag
        return tag


RESOLVED_MAX = 65_536
_RESOLVED: dict[tuple[Any, Any], str] = {}
_constructor = yaml.constructor.SafeConstructor()

_TAG = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _MERGE = (f"{_TAG}{name}" for name in ("str", "map", "seq", "merge"))
_SCALAR_TAGS = {f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""C0 but tab and newline, DEL, C1, line/paragraph separators, bidi marks, embeddings, overrides, isolates."""
_MAY_HOLD_CONTROL = re.compile(r"[\\\x85\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""What a text needs for a value to hold one: an escape (a backslash) or the character itself (libyaml allows
these raw). A file without any (nearly every tenant file) skips the per-value check."""

PathKey = tuple[str | int, ...]


def control_character_problem(text: str) -> str:
    """Why `text` may not be shown as it is (a control character, named by code point), or ""."""
    found = _CONTROL.search(text)
    if not found:
        return ""
    return (f"control character U+{ord(found.group()):04X} is not allowed in text (it could rewrite a terminal "
            "or hide text from a reviewer); only tab and newline are")


def format_path(path: PathKey) -> str:
    """`("spec", "access", 1, "role")` -> `spec.access[1].role`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(frozen=True)
class YamlDocument:
    """A loaded file: its plain data and, on demand, the 1-based (line, column) of every field.

    Positions are computed from the kept text the first time an error or finding needs one: a fleet of
    10,000 valid files then costs neither the time nor the memory of a million positions nobody reads.
    A scalar's position is its value's; a mapping's or list's is its key's (block collections begin a line later).
    A single file's loading walk records them (cheaply, beside building the data) and keeps them packed, one bytes
    object per file; a fleet's does not (see `load_yaml`).
    """

    path: Path
    data: Any
    text: str = field(repr=False)
    label: str = ""
    packed_positions: bytes = field(default=b"", repr=False, compare=False)
    """`positions` as the loading walk recorded them (marshal of our own dict, never read from disk)."""

    @cached_property
    def positions(self) -> dict[PathKey, tuple[int, int]]:
        if self.packed_positions:
            found: dict[PathKey, tuple[int, int]] = marshal.loads(self.packed_positions)
            return found
        walker = _Walker(self.label or str(self.path), record=True, check_text=False)
        walker.build(_compose(self.text, walker.name), ())
        return walker.positions

    def position(self, path: PathKey) -> tuple[int, int]:
        """Position of a field, or of its nearest ancestor present in the file."""
        while path:
            found = self.positions.get(path)
            if found:
                return found
            path = path[:-1]
        return self.positions.get((), (1, 1))


def read_text(path: Path, label: str | None = None) -> str:
    """Read a file as strict UTF-8 under the size limit, or raise an InputError naming it."""
    name = label or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError.single(name, "file not found", code="file-not-found") from None
    except IsADirectoryError:
        raise InputError.single(name, "is a directory, expected a YAML file", code="not-a-file") from None
    except OSError as err:
        raise InputError.single(name, f"cannot read: {err.strerror}", code="unreadable") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError.single(name, f"file is {len(raw)} bytes, over the 1 MiB limit", code="file-too-large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError.single(name, f"not valid UTF-8 (byte {err.start})", line=line, column=1,
                                code="not-utf8", hint="save the file as UTF-8") from None
    return text.removeprefix("\ufeff")


def load_yaml(path: Path, label: str | None = None, *, keep_positions: bool = True) -> YamlDocument:
    """Load one YAML document; every problem is an InputError with file and line.

    `keep_positions=False` leaves positions to be found on demand: a fleet's loader, where most files never
    need one, saves a fifth of the parse and of what its workers send back.
    """
    name = label or str(path)
    text = read_text(path, name)
    walker = _Walker(name, record=keep_positions, check_text=_MAY_HOLD_CONTROL.search(text) is not None)
    data = walker.build(_compose(text, name), ())
    packed = marshal.dumps(walker.positions) if keep_positions else b""
    return YamlDocument(path=path, data=data, text=text, label=name, packed_positions=packed)


def _compose(text: str, name: str) -> yaml.Node:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise InputError.single(name, f"malformed YAML: {err.problem or err.context}", line=line, column=column,
                                code="yaml-syntax") from None
    except yaml.YAMLError as err:
        raise InputError.single(name, f"malformed YAML: {err}", code="yaml-syntax") from None
    if node is None:
        raise InputError.single(name, "file is empty", line=1, column=1, code="empty-file")
    return node


class _Walker:
    """Turns a composed node tree into plain data, refusing what a reviewed file must not contain."""

    def __init__(self, name: str, *, record: bool, check_text: bool) -> None:
        self.name = name
        self.record = record
        self.check_text = check_text
        self.positions: dict[PathKey, tuple[int, int]] = {}
        self.visited = 0

    def fail(self, node: yaml.Node, path: PathKey, message: str, code: str) -> InputError:
        mark = node.start_mark
        return InputError.single(self.name, message, line=mark.line + 1, column=mark.column + 1,
                                 field=format_path(path), code=code)

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise self.fail(node, path, f"document expands to more than {MAX_NODES} nodes (alias bomb?)",
                            "yaml-too-large")
        if len(path) > MAX_DEPTH:
            outer = path[:6]  # name where the nesting starts, not 64 levels of `[0]`
            while outer and isinstance(outer[-1], int):
                outer = outer[:-1]
            raise self.fail(node, outer, f"document nests more than {MAX_DEPTH} levels deep", "yaml-too-deep")
        if self.record:
            mark = node.start_mark
            self.positions[path] = (mark.line + 1, mark.column + 1)
        kind = type(node)
        if kind is yaml.ScalarNode:
            if self.check_text:
                self.refuse_control(node, path)
            return node.value if node.tag == _STR else self.scalar(node, path)
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
            return self.mapping(node, path)
        if kind is yaml.SequenceNode and node.tag == _SEQ:
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        raise self.fail(node, path, f"tag {node.tag} is not allowed", "yaml-tag")

    def refuse_control(self, node: yaml.Node, path: PathKey) -> None:
        problem = control_character_problem(node.value)
        if problem:
            raise self.fail(node, path, problem, "control-character")

    def mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if self.check_text and type(key_node) is yaml.ScalarNode:
                self.refuse_control(key_node, path)
            if key_node.tag == _STR and type(key_node) is yaml.ScalarNode:
                key = key_node.value
            else:
                key = self._key(key_node, path)
            child = (*path, key)
            if key in result:
                raise self.fail(key_node, child, f"duplicate key {key!r}", "yaml-duplicate-key")
            result[key] = self.build(value_node, child)
            if self.record and type(value_node) is not yaml.ScalarNode:
                # a block collection starts on the next line: point at its key instead
                mark = key_node.start_mark
                self.positions[child] = (mark.line + 1, mark.column + 1)
        return result

    def _key(self, key_node: yaml.Node, path: PathKey) -> str:
        if key_node.tag == _MERGE:
            raise self.fail(key_node, path, "merge keys (<<) are not supported; write the keys out", "yaml-merge-key")
        if type(key_node) is not yaml.ScalarNode:
            raise self.fail(key_node, path, "mapping keys must be plain scalars", "yaml-key-type")
        key = self.scalar(key_node, path)
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise self.fail(key_node, path, f"mapping key {key!r} must be a string", "yaml-key-type")
        return str(key)

    def scalar(self, node: yaml.Node, path: PathKey) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise self.fail(node, path, f"tag {node.tag} is not allowed (safe YAML only)", "yaml-tag")
        try:
            value = _constructor.yaml_constructors[node.tag](_constructor, node)
        except (ValueError, yaml.constructor.ConstructorError) as err:
            raise self.fail(node, path, f"invalid {node.tag.removeprefix(_TAG)} {node.value!r}: {err}",
                            "yaml-value") from None
        if isinstance(value, dt.datetime):
            raise self.fail(node, path, "timestamps are not allowed; write a date YYYY-MM-DD", "yaml-timestamp")
        return value
