"""One file -> one validated model, with pydantic's errors turned into file:line:col problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gcloud.errors import InputError, Problem, SourceLocation

from .yamlsrc import PathKey, YamlDocument, format_path, load_yaml

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "extra_forbidden": "unknown key (a typo would silently drop a setting)",
    "missing": "required key is missing",
}


def located(doc: YamlDocument, label: str, path: PathKey, message: str, code: str = "invalid-value",
            hint: str = "") -> Problem:
    """A problem at a field of a loaded file (at its nearest ancestor when the field is absent)."""
    line, column = doc.position(path)
    return Problem(SourceLocation(label, line, column), format_path(path), message, code, hint)


def validation_problems(doc: YamlDocument, label: str, error: ValidationError) -> list[Problem]:
    """pydantic errors as problems; union branches collapse to the most specific message."""
    problems: dict[str, Problem] = {}
    for item in error.errors(include_url=False):
        path = _clean_loc(item["loc"])
        message = _message(item)
        if item["type"] == "literal_error":
            message = f"{message}; got {item['input']!r}"
        key = format_path(path)
        if key not in problems:
            problems[key] = located(doc, label, path, message, code=item["type"].replace("_", "-"))
    return sorted(problems.values())


def _message(item: Any) -> str:
    kind, ctx = item["type"], item.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    for bound, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in ctx and kind.startswith(("greater", "less")):
            return f"must be {symbol} {ctx[bound]}; got {item['input']!r}"
    return _strip(str(item["msg"]))


def _clean_loc(loc: tuple[int | str, ...]) -> PathKey:
    """Drop pydantic's union/validator markers (`int`, `function-after[...]`) from a location."""
    return tuple(part for part in loc if isinstance(part, int) or not _is_marker(part))


def _is_marker(part: str) -> bool:
    return "[" in part or part in {"int", "str", "float", "bool", "list", "dict", "constrained-int",
                                   "constrained-str", "none", "tagged-union"}


def _strip(message: str) -> str:
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def parse_file(path: Path, model: type[M], label: str | None = None) -> tuple[M, YamlDocument]:
    """Load YAML and validate it as `model`; raise InputError naming file, line, field."""
    doc = load_yaml(path, label or str(path))
    return validate_document(doc, model), doc


def validate_document(doc: YamlDocument, model: type[M]) -> M:
    """Validate loaded data as `model`; InputError with positions on failure."""
    name = doc.label or str(doc.path)
    if not isinstance(doc.data, dict):
        raise InputError([located(doc, name, (), "the document must be a mapping (apiVersion, kind, ...)",
                                  code="not-a-mapping")])
    try:
        return model.model_validate(doc.data)
    except ValidationError as err:
        raise InputError(validation_problems(doc, name, err)) from None
