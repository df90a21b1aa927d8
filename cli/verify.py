"""`govcloud verify`: live isolation checks against the clouds, one row per check."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import typer
from rich.markup import escape

from gcloud.model import load_fleet
from gcloud.verify import CheckResult, group_owners, verify_tenant

from . import output
from .common import DEFAULT_PLATFORM, Format, OutputFormat, Paths, PlatformFile, tenant_paths


def verify(paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
           parallel: Annotated[int, typer.Option("--parallel", "-p", min=1, max=16, help="Tenants at once.")] = 4,
           output_format: OutputFormat = Format.table) -> None:
    """Check isolation live: with a tenant member's own token it sees only its project and networks; its
    groups cannot read other tenants' namespaces (SubjectAccessReview); default-deny policies exist; no
    foreign group holds a role on its project. Exit 1 when any check fails.

    Example: govcloud verify tenants/ --output json
    """
    fleet = load_fleet(tenant_paths(paths), platform)
    owners = group_owners(doc.effective for doc in fleet.tenants)
    with ThreadPoolExecutor(parallel) as pool:
        per_tenant = list(pool.map(lambda doc: verify_tenant(doc.effective, fleet.platform_data, owners=owners),
                                   fleet.tenants))
    results: list[CheckResult] = [result for results in per_tenant for result in results]
    failed = [r for r in results if not r.passed]
    if output_format is Format.json:
        output.emit_json({"passed": not failed, "checks": [dataclasses.asdict(r) for r in results]})
    else:
        table = output.table("tenant", "check", "result", "detail")
        for r in results:
            mark = "[green]pass[/green]" if r.passed else "[red]FAIL[/red]"
            table.add_row(r.tenant, r.check, mark, escape(r.detail))
        output.stdout.print(table)
        output.stdout.print(f"{len(results) - len(failed)} of {len(results)} checks passed "
                            f"for {len(fleet.tenants)} tenants")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
