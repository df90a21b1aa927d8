"""Rendering helpers shared by commands: errors on stderr, JSON documents alone on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gcloud.errors import Problem

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def problems(items: Iterable[Problem]) -> None:
    """One `file:line:col field: message` line per problem, on stderr."""
    for problem in items:
        stderr.print(f"[red]error[/red] {escape(str(problem))}")


def elsewhere(items: Iterable[Problem]) -> None:
    """One line for the problems of tenant files the command did not name: worth knowing, not the user's."""
    found = list(items)
    if found:
        files = sorted({problem.location.file for problem in found})
        stderr.print(f"[yellow]note[/yellow] other tenant files of the set have {len(found)} problem(s): "
                     f"{escape(', '.join(files))} (`govcloud validate` on their folder lists them)")


def error(message: str) -> None:
    stderr.print(f"[red]error[/red] {escape(message)}")


def emit_json(document: Any) -> None:
    """A machine format writes only the document to stdout."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")


def table(*columns: str) -> Table:
    """A plain table with the given column headers; a cell too wide for the terminal folds, never loses text.

    (A Chinese display name has no spaces to wrap at: rich's default would cut it short with an ellipsis.)
    """
    result = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in columns:
        result.add_column(column, overflow="fold")
    return result
