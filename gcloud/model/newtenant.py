"""`tenant new` as one library call: render a template, check the result beside the tenant set, write it."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gcloud.errors import InputError

from .fleet import load_fleet, tenant_files
from .templates import render_template


@dataclass(frozen=True)
class NewTenant:
    """A rendered tenant file that passed validation with the others, and where it goes."""

    path: Path
    text: str
    template: str
    written: bool


def parse_assignments(items: list[str], option: str = "--set") -> dict[str, str]:
    """`key=value` pairs from repeated options; a malformed one is an InputError naming the option."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError.single(option, f"expected key=value, got {item!r}", code="bad-option")
        values[key] = value
    return values


def new_tenant(name: str, template: str, variables: Mapping[str, str], tenants: Path, platform: Path, *,
               write: bool = True) -> NewTenant:
    """Render `template` from `tenants/_templates/`, validate it with the existing tenants, then write it.

    Nothing is written when the result would not validate, or when the file exists (never overwritten).
    """
    text = render_template(tenants / "_templates", template, {"name": name, **variables})
    target = tenants / f"{name}.yaml"
    if target.exists() and write:
        raise InputError.single(str(target), "already exists; refusing to overwrite", code="file-exists")
    _validate_with_others(text, target, tenants, platform)
    if write:
        target.write_text(text, encoding="utf-8")
    return NewTenant(target, text, template, write)


def _validate_with_others(text: str, target: Path, tenants: Path, platform: Path) -> None:
    """Load the rendered file beside the existing tenants, reporting problems against the target path."""
    with tempfile.TemporaryDirectory() as scratch:
        candidate = Path(scratch) / target.name
        candidate.write_text(text, encoding="utf-8")
        others = [path for path in tenant_files([tenants]) if path.name != target.name]
        try:
            load_fleet([*others, candidate], platform)
        except InputError as err:
            shown = str(candidate)
            raise InputError([
                dataclasses.replace(p, location=dataclasses.replace(p.location, file=str(target)))
                if p.location.file == shown else p for p in err.problems
            ]) from None
