"""`govcloud verify`: live isolation checks against the clouds, one row per check."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer
from rich.markup import escape

from . import output
from .common import DEFAULT_PLATFORM, Format, OutputFormat, Paths, PlatformFile, ShardOption, tenant_paths


def verify(paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
           parallel: Annotated[int, typer.Option("--parallel", "-p", min=1, max=16, help="Tenants at once.")] = 4,
           shard: ShardOption = None, output_format: OutputFormat = Format.table) -> None:
    """Check isolation live: with a tenant member's own token it sees only its project and networks; its
    groups cannot read other tenants' namespaces (SubjectAccessReview); default-deny policies exist; no
    foreign group holds a role on its project. Exit 1 when any check fails.

    Example: govcloud verify tenants/ --output json
    """
    from gcloud.model import load_fleet
    from gcloud.plan.shard import restrict, shard_option
    from gcloud.verify import verify_fleet

    fleet = load_fleet(tenant_paths(paths), platform)
    output.elsewhere(fleet.elsewhere)
    fleet = restrict(fleet, shard_option(shard))
    report = verify_fleet(fleet, parallel=parallel)
    if output_format is Format.json:
        output.emit_json({"passed": not report.failed, "checks": [dataclasses.asdict(c) for c in report.checks]})
    else:
        table = output.table("tenant", "check", "result", "detail")
        for check in report.checks:
            mark = "[green]pass[/green]" if check.passed else "[red]FAIL[/red]"
            table.add_row(check.tenant, check.check, mark, escape(check.detail))
        output.stdout.print(table)
        output.stdout.print(f"{len(report.checks) - len(report.failed)} of {len(report.checks)} checks passed "
                            f"for {report.tenants} tenants")
    if report.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
