"""`govcloud validate` and `govcloud schema`."""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from . import output
from .common import DEFAULT_PLATFORM, Format, OutputFormat, Paths, PlatformFile, tenant_paths


def validate(paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
             output_format: OutputFormat = Format.table) -> None:
    """Load tenant files and check them: schema, references into platform.yaml, cross-tenant rules.

    Named files are checked against the whole tenant set of their folder (references, CIDRs, namespaces), and
    only their problems count. Every problem is printed as `file:line:col field: message`; exit 0 when all is
    well, 2 on bad input.

    Example: govcloud validate tenants/czj.yaml --platform platform.yaml
    """
    from gcloud.model import load_fleet

    fleet = load_fleet(tenant_paths(paths), platform)
    output.elsewhere(fleet.elsewhere)
    if output_format is Format.json:
        output.emit_json({"valid": True, "platform": fleet.platform.metadata.name,
                          "tenants": [{"name": d.name, "file": d.label, "displayName": d.tenant.metadata.display_name,
                                       "digest": d.digest} for d in fleet.targets]})
        return
    table = output.table("tenant", "display name", "level", "file")
    for doc in fleet.targets:
        table.add_row(doc.name, escape(doc.tenant.metadata.display_name), str(doc.tenant.spec.mlps_level),
                      escape(doc.label))  # tenant text is data, never rich markup
    output.stdout.print(table)
    output.stdout.print(f"[green]ok[/green] {len(fleet.targets)} tenants valid against {fleet.platform_path}")


def schema() -> None:
    """Print the JSON Schema of the tenant file, for editors (e.g. yaml-language-server).

    Example: govcloud schema > tenant.schema.json
    """
    from gcloud.model.schema import tenant_json_schema

    typer.echo(json.dumps(tenant_json_schema(), ensure_ascii=False, indent=2))


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("schema")(schema)
