"""`govcloud tenant list [PATHS] [--shard I/N]`: the tenants of the fleet, or of one CI runner's shard."""

from __future__ import annotations

from typing import Annotated

import typer

from . import output
from .common import DEFAULT_PLATFORM, Format, OutputFormat, Paths, PlatformFile, tenant_paths

ShardOption = Annotated[str | None, typer.Option(
    "--shard", metavar="I/N", show_default=False,
    help="Only shard I of N (1-based; consistent hashing: adding a tenant moves no other).")]


def list_tenants(paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM, shard: ShardOption = None,
                 output_format: OutputFormat = Format.table) -> None:
    """List the tenants (validated as a set), or the ones of one shard of the fleet, for one CI runner.

    Example: govcloud tenant list --shard $CI_NODE_INDEX/$CI_NODE_TOTAL --output json
    """
    from gcloud.model import load_fleet
    from gcloud.plan.shard import restrict, shard_option

    chosen = shard_option(shard)  # a bad --shard is refused before any file is read
    fleet = restrict(load_fleet(tenant_paths(paths), platform), chosen)
    output.elsewhere(fleet.elsewhere)
    rows = [{"name": doc.name, "displayName": doc.tenant.metadata.display_name, "file": doc.label}
            for doc in fleet.targets]
    if output_format is Format.json:
        output.emit_json({"shard": str(chosen) if chosen else None, "count": len(rows),
                          "fleet": len(fleet.tenants), "tenants": rows})
        return
    table = output.table("TENANT", "DISPLAY NAME", "FILE")
    for row in rows:
        table.add_row(row["name"], row["displayName"], row["file"])
    output.stdout.print(table)
    where = f" in shard {chosen}" if chosen else ""
    output.stderr.print(f"{len(rows)} of {len(fleet.tenants)} tenant(s){where}")


def register(tenant_app: typer.Typer) -> None:
    """Add `list` to the `tenant` sub-app."""
    tenant_app.command("list")(list_tenants)
