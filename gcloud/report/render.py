"""ReportData -> one self-contained page (HTML with inline CSS and SVG, or Markdown). Pure.

Jinja2 runs sandboxed, with autoescape for HTML and StrictUndefined; tenant text is only ever data passed to
a template, never a template itself, so a display name such as `{{ 7*7 }}` or `<script>` is shown as typed.
For Markdown every value printed is escaped by `finalize` (pipes, angle brackets, line breaks), so a value can
neither break a table nor smuggle HTML into the ticket it is pasted into.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from .data import ReportData

FORMATS = ("html", "md")
_MD_SPECIAL = re.compile(r"([\\|`*_\[\]])")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def md_escape(value: Any) -> str:
    """A value safe inside a Markdown table cell or line."""
    if value is None:
        return ""
    if isinstance(value, Markup):  # a macro's output: its values are escaped already
        return str(value)
    text = _LINE_BREAKS.sub(" ", str(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def percent(value: float | None, cap: float = 1.0) -> float:
    """A share as a chart width in percent, clamped to [0, cap × 100]."""
    if value is None or value != value:  # None or NaN
        return 0.0
    return round(max(0.0, min(value, cap)) * 100, 2)


def share_text(value: float | None) -> str:
    if value is None:
        return "—"
    if value and value * 100 < 0.1:
        return "<0.1 %"
    return f"{value * 100:.1f} %"


@cache
def environment(kind: str) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=PackageLoader("gcloud.report", "templates"),
        autoescape=kind == "html",
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=md_escape if kind == "md" else None,
    )
    env.filters["percent"] = percent
    env.filters["share"] = share_text
    return env


def render(data: ReportData, kind: str = "html") -> str:
    """The page in the given format ("html" or "md")."""
    if kind not in FORMATS:
        raise ValueError(f"unknown report format {kind!r}; expected one of {', '.join(FORMATS)}")
    return environment(kind).get_template(f"report.{kind}.j2").render(r=data)
