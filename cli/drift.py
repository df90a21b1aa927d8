"""`govcloud drift`: what changed in the clouds behind govcloud's back, per tenant; exit 1 when anything did."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from . import output
from .common import DEFAULT_PLATFORM, Format, OutputFormat, Paths, PlatformFile, ShardOption, tenant_paths
from .progress import FleetProgress


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def drift(paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
          parallel: Annotated[int, typer.Option("--parallel", "-p", min=1, max=32, help="Tenants at once.")] = 4,
          verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Every resource step, in a terminal too.")]
          = False,
          shard: ShardOption = None, output_format: OutputFormat = Format.table) -> None:
    """Read every named tenant's resources back from the clouds (a preview-only refresh: the state is left as it
    is) and report fields changed by hand (want / live), resources deleted by hand, foreign objects in
    govcloud's containers, and interconnects or waivers past their expiry still in effect.

    Exit 0 when nothing drifted, 1 when something did (or a tenant could not be read). `apply --refresh` repairs
    it. The last result per tenant is kept for `govcloud report`.

    Example: govcloud drift tenants/ --parallel 8 --output json
    """
    from gcloud.engine.settings import EngineSettings
    from gcloud.live.drift import drift_document, run_drift
    from gcloud.model import load_fleet
    from gcloud.plan.record import read_record
    from gcloud.plan.shard import restrict, shard_option

    settings = EngineSettings.from_environment()
    fleet = load_fleet(tenant_paths(paths), platform, read_record(settings.state_dir).pinned_cidrs())
    output.elsewhere(fleet.elsewhere)
    fleet = restrict(fleet, shard_option(shard))
    with FleetProgress("drift", len(fleet.targets), verbose=verbose) as progress:
        report = run_drift(fleet, settings, parallel=parallel, on_event=progress)
    if output_format is Format.json:
        output.emit_json({"drifted": report.drifted, "tenants": [drift_document(t) for t in report.tenants]})
    else:
        table = output.table("tenant", "kind", "resource", "detail")
        for t in report.tenants:
            for change in t.changed:
                table.add_row(t.tenant, "[yellow]changed[/yellow]", escape(change.resource), escape(
                    f"{change.field}: want {_value(change.want)}, live {_value(change.live)}"))
            for name in t.deleted:
                table.add_row(t.tenant, "[red]deleted[/red]", escape(name), "deleted by hand")
            for item in t.foreign:
                table.add_row(t.tenant, "[red]foreign[/red]", escape(item.container), escape(item.summary))
            for expiry in t.expired:
                table.add_row(t.tenant, "[red]expired[/red]", escape(expiry.kind), escape(
                    f"{expiry.name} expired {expiry.expires.isoformat()}, still in effect ({expiry.field})"))
            if t.error:
                table.add_row(t.tenant, "[red]error[/red]", "", escape(t.error))
            if t.never_applied:
                table.add_row(t.tenant, "[dim]not applied[/dim]", "", "no stack yet: nothing to compare")
        if table.row_count:
            output.stdout.print(table)
        drifted = [t.tenant for t in report.tenants if t.drifted]
        output.stdout.print(f"[red]drift[/red] in {len(drifted)} of {len(report.tenants)} tenants: "
                            f"{', '.join(drifted)} (`govcloud apply --refresh` repairs it)" if drifted else
                            f"[green]no drift[/green] in {len(report.tenants)} tenants")
    if report.drifted or report.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)
