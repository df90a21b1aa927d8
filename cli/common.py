"""Options every command shares, declared once."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Format(StrEnum):
    table = "table"
    json = "json"


Paths = Annotated[
    list[Path] | None,
    typer.Argument(help="Tenant files or folders (default: tenants/).", show_default=False),
]
PlatformFile = Annotated[Path, typer.Option("--platform", help="The platform file.")]
OutputFormat = Annotated[Format, typer.Option("--output", "-o", help="table for people, json for scripts.")]

Actor = Annotated[str | None, typer.Option(
    "--actor", show_default=False, help="Who runs this, for the audit trail (default: $GOVCLOUD_ACTOR, else the OS "
                                        "user).")]
Ticket = Annotated[str | None, typer.Option("--ticket", show_default=False,
                                            help="The change ticket this run serves, kept in the audit trail.")]

ShardOption = Annotated[str | None, typer.Option(
    "--shard", show_default=False, help="Only this shard of the named tenants, I/N (1-based), for parallel CI jobs; "
                                        "the split is stable as tenants are added (see `tenant list --shard`).")]

DEFAULT_PLATFORM = Path("platform.yaml")


def tenant_paths(paths: list[Path] | None) -> list[Path]:
    """The tenant paths given, or the default folder."""
    return paths or [Path("tenants")]
