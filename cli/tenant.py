"""`govcloud tenant show` and `govcloud tenant new`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gcloud.errors import InputError

from . import output, tenant_list
from .common import DEFAULT_PLATFORM, Format, OutputFormat, PlatformFile

tenant_app = typer.Typer(help="Look at tenants and create new ones from templates.", no_args_is_help=True)

TenantsDir = Annotated[Path, typer.Option("--tenants", help="The folder of tenant files.")]


@tenant_app.command("show")
def show(name: Annotated[str, typer.Argument(help="Tenant id, e.g. czj.")],
         tenants: TenantsDir = Path("tenants"), platform: PlatformFile = DEFAULT_PLATFORM,
         output_format: OutputFormat = Format.table) -> None:
    """Show a tenant's effective spec: tier quotas merged with its own keys, CIDRs allocated.

    Example: govcloud tenant show czj --output json
    """
    import yaml

    from gcloud.model import load_fleet

    fleet = load_fleet([tenants], platform)
    try:
        doc = fleet.get(name)
    except KeyError:
        raise InputError.single(str(tenants), f"no tenant named {name!r}", code="unknown-tenant",
                                hint="known: " + ", ".join(d.name for d in fleet.tenants)) from None
    if output_format is Format.json:
        output.emit_json(doc.effective)
    else:
        typer.echo(f"# {doc.name} {doc.tenant.metadata.display_name} ({doc.label}), digest {doc.digest[:12]}")
        typer.echo(yaml.safe_dump(doc.effective, allow_unicode=True, sort_keys=False), nl=False)


@tenant_app.command("new")
def new(name: Annotated[str, typer.Argument(help="The new tenant id (DNS label, 2-40 chars).")],
        template: Annotated[str, typer.Option("--template", "-t", help="A template in tenants/_templates/.")],
        display_name: Annotated[str, typer.Option("--display-name", help="Display name, e.g. 市审计局.")],
        values: Annotated[list[str] | None, typer.Option("--set", help="Template variable key=value.")] = None,
        tenants: TenantsDir = Path("tenants"), platform: PlatformFile = DEFAULT_PLATFORM,
        stdout: Annotated[bool, typer.Option("--stdout", help="Print instead of writing the file.")] = False,
        ) -> None:
    """Render a new tenant file from a template, validate it with the others, then write it.

    Example: govcloud tenant new sjt --template department --display-name 市审计局
             --set ownerName=王敏 --set ownerEmail=wangmin@sjt.hz.gov.cn
    """
    from gcloud.model.newtenant import new_tenant, parse_assignments

    variables = {"displayName": display_name, **parse_assignments(values or [])}
    made = new_tenant(name, template, variables, tenants, platform, write=not stdout)
    if not made.written:
        typer.echo(made.text, nl=False)
        return
    output.stdout.print(f"[green]created[/green] {made.path} from template {made.template}")


def register(app: typer.Typer) -> None:
    tenant_list.register(tenant_app)
    app.add_typer(tenant_app, name="tenant")
