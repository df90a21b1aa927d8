"""New tenant files from Jinja2 templates in `tenants/_templates/`.

The environment is sandboxed and undefined variables are errors. Values a user types (display names, e-mails)
are data: they reach the output only through the `yaml` filter, which quotes them, so a value can never add
keys or template syntax to the file. Templates, and whatever they include, are read only from inside the
templates folder: a name with `..` or a symlink pointing out of it is refused, so a template cannot read files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from gcloud.errors import InputError

from .yamlsrc import control_character_problem

TEMPLATE_SUFFIX = ".yaml.j2"


def available_templates(folder: Path) -> list[str]:
    """Template names (file names without `.yaml.j2`) in a folder."""
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(TEMPLATE_SUFFIX) for p in folder.glob(f"*{TEMPLATE_SUFFIX}"))


def _yaml_scalar(value: Any) -> str:
    """A value as a YAML flow scalar: JSON quoting is valid YAML and keeps Chinese text as it is."""
    if isinstance(value, jinja2.Undefined):
        str(value)  # a StrictUndefined raises UndefinedError naming the variable
    return json.dumps(value, ensure_ascii=False)


class _ConfinedLoader(jinja2.FileSystemLoader):
    """A FileSystemLoader that serves no file whose real path (symlinks resolved) lies outside its folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__(str(folder))
        self.root = folder.resolve()

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        source, filename, uptodate = super().get_source(environment, template)
        if not Path(filename).resolve().is_relative_to(self.root):
            raise jinja2.TemplateNotFound(template, f"{template} links out of the templates folder")
        return source, filename, uptodate


def _refuse_unshowable(variables: dict[str, Any]) -> None:
    """A value that no tenant file could hold (a control character, a lone surrogate) fails here, named."""
    for key, value in variables.items():
        if not isinstance(value, str):
            continue
        problem = control_character_problem(value)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            problem = "not valid Unicode text (a lone surrogate)"
        if problem:
            raise InputError.single("--set", f"{key}: {problem}", code="bad-option")


def render_template(folder: Path, template: str, variables: dict[str, Any]) -> str:
    """Render one template with the given variables; InputError on an unknown template or variable."""
    names = available_templates(folder)
    if template not in names:
        raise InputError.single(str(folder / f"{template}{TEMPLATE_SUFFIX}"), f"unknown template {template!r}",
                                code="unknown-template", hint=f"available: {', '.join(names) or 'none'}")
    _refuse_unshowable(variables)
    env = SandboxedEnvironment(loader=_ConfinedLoader(folder), undefined=jinja2.StrictUndefined,
                               autoescape=False, keep_trailing_newline=True)
    env.filters["yaml"] = _yaml_scalar
    path = folder / f"{template}{TEMPLATE_SUFFIX}"
    try:
        return env.get_template(path.name).render(**variables)
    except jinja2.UndefinedError as err:
        raise InputError.single(str(path), f"template needs a value: {err.message}", code="template-variable",
                                hint="pass it with --set key=value") from None
    except jinja2.TemplateSyntaxError as err:
        raise InputError.single(str(path), f"template syntax: {err.message}", line=err.lineno or 0,
                                code="template-syntax") from None
    except jinja2.TemplateNotFound as err:
        raise InputError.single(str(path), f"template refused: {err.message or err.name}",
                                code="template-outside", hint="templates are read only from their own folder") from None
    except jinja2.exceptions.SecurityError as err:
        raise InputError.single(str(path), f"template refused by the sandbox: {err}", code="template-unsafe") from None
