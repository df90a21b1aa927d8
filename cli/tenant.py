"""`govcloud tenant show` and `govcloud tenant new`."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Annotated

import typer
import yaml

from gcloud.errors import InputError
from gcloud.model import load_fleet, tenant_files
from gcloud.model.templates import render_template

from . import output
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
    variables: dict[str, str] = {"name": name, "displayName": display_name}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError.single("--set", f"expected key=value, got {item!r}", code="bad-option")
        variables[key] = value
    text = render_template(tenants / "_templates", template, variables)
    target = tenants / f"{name}.yaml"
    if target.exists() and not stdout:
        raise InputError.single(str(target), "already exists; refusing to overwrite", code="file-exists")
    _validate_with_others(text, target, tenants, platform)
    if stdout:
        typer.echo(text, nl=False)
        return
    target.write_text(text, encoding="utf-8")
    output.stdout.print(f"[green]created[/green] {target} from template {template}")


def _validate_with_others(text: str, target: Path, tenants: Path, platform: Path) -> None:
    """Load the rendered file beside the existing tenants, reporting problems against the target path."""
    with tempfile.TemporaryDirectory() as scratch:
        candidate = Path(scratch) / target.name
        candidate.write_text(text, encoding="utf-8")
        others = [path for path in tenant_files([tenants]) if path.name != target.name]
        try:
            load_fleet([*others, candidate], platform)
        except InputError as err:
            shown = str(candidate)
            raise InputError([
                dataclasses.replace(p, location=dataclasses.replace(p.location, file=str(target)))
                if p.location.file == shown else p for p in err.problems
            ]) from None


def register(app: typer.Typer) -> None:
    app.add_typer(tenant_app, name="tenant")
