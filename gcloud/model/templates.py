"""New tenant files from Jinja2 templates in `tenants/_templates/`.

The environment is sandboxed and undefined variables are errors. Values a user types (display names, e-mails)
are data: they reach the output only through the `yaml` filter, which quotes them, so a value can never add
keys or template syntax to the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from gcloud.errors import InputError

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


def render_template(folder: Path, template: str, variables: dict[str, Any]) -> str:
    """Render one template with the given variables; InputError on an unknown template or variable."""
    names = available_templates(folder)
    if template not in names:
        raise InputError.single(str(folder / f"{template}{TEMPLATE_SUFFIX}"), f"unknown template {template!r}",
                                code="unknown-template", hint=f"available: {', '.join(names) or 'none'}")
    env = SandboxedEnvironment(loader=jinja2.FileSystemLoader(str(folder)), undefined=jinja2.StrictUndefined,
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
    except jinja2.exceptions.SecurityError as err:
        raise InputError.single(str(path), f"template refused by the sandbox: {err}", code="template-unsafe") from None
