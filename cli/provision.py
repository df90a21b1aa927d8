"""`govcloud plan`, `govcloud apply`, `govcloud destroy`: the tenants' stacks, with live progress.

The engine and the plan runner are imported inside each command: `--help` and the offline commands never load
pulumi or grpc.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from . import output
from .common import (
    DEFAULT_PLATFORM,
    Actor,
    Format,
    OutputFormat,
    Paths,
    PlatformFile,
    ShardOption,
    Ticket,
    tenant_paths,
)
from .progress import FleetProgress

if TYPE_CHECKING:
    from gcloud.engine.settings import EngineSettings
    from gcloud.plan.run import Prepared, RunReport, TenantOutcome
    from gcloud.policy.finding import CheckResult

PoliciesDir = Annotated[Path, typer.Option("--policies", help="The folder of policy files.")]
Parallel = Annotated[int, typer.Option("--parallel", "-p", min=1, max=32, help="Tenants run at once.")]
Everything = Annotated[bool, typer.Option("--all", help="Include tenants unchanged since their last apply.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show every resource step, also in a terminal.")]

_STATUS_STYLE = {"ok": "green", "failed": "red", "frozen": "yellow", "blocked": "red", "unchanged": "dim"}
Refresh = Annotated[bool, typer.Option("--refresh", help=(
    "Read every named tenant's resources back from the clouds first: changes made by hand are shown (plan) or "
    "repaired (apply), even where the tenant file did not change."))]
KeepForeign = Annotated[bool, typer.Option("--keep-foreign", help=(
    "With --refresh: report objects someone else added to govcloud's containers, but leave them in place."))]


def _settings() -> EngineSettings:
    from gcloud.engine.settings import EngineSettings

    return EngineSettings.from_environment()


def _prepare(paths: list[Path] | None, platform: Path, policies: Path, settings: EngineSettings,
             shard: str | None = None) -> Prepared:
    from gcloud.plan import run
    from gcloud.plan.shard import shard_option

    try:
        prepared = run.prepare(tenant_paths(paths), platform, policies, settings, shard=shard_option(shard))
    except run.PolicyBlocked as blocked:
        _blocking(blocked.check)
        raise
    output.elsewhere(prepared.fleet.elsewhere)
    _blocking(prepared.policy)
    for tenant in sorted(prepared.blocked):
        output.stderr.print(f"[red]held back[/red] {escape(tenant)}: mandatory policy violation; the other tenants "
                            "go on")
    return prepared


def _blocking(check: CheckResult) -> None:
    for finding in check.findings:
        if finding.blocking:
            output.stderr.print(f"[red]{escape(finding.policy_id)}[/red] {escape(str(finding.location))} "
                                f"{escape(finding.tenant or '(fleet)')}: {escape(finding.message)}")


def _outcome_json(outcome: TenantOutcome) -> dict[str, Any]:
    document = dataclasses.asdict(outcome)
    document["resources"] = [{"op": r.op.value, "type": r.type, "name": r.name, "keys": list(r.keys)}
                             for r in outcome.resources]
    return document


def _render(report: RunReport, output_format: Format) -> None:
    if output_format is Format.json:
        output.emit_json({"operation": report.operation, "failed": report.failed, "orphans": list(report.orphans),
                          "tenants": [_outcome_json(o) for o in report.outcomes]})
        return
    if report.operation == "plan":
        for outcome in report.outcomes:
            for change in outcome.resources:
                detail = f" ({', '.join(change.keys)})" if change.keys else ""
                short = change.type.rpartition(":")[2]  # pulumi-python:dynamic/govcloud-openstack:Quota -> Quota
                output.stdout.print(f"  {escape(outcome.tenant)}: [bold]{change.op.value}[/bold] {escape(short)} "
                                    f"{escape(change.name)}{escape(detail)}")
    table = output.table("tenant", "name", "change", "status", "resources", "seconds", "detail")
    for o in report.outcomes:
        counts = ", ".join(f"{n} {op}" for op, n in sorted(o.counts.items()) if op != "same") or "no changes"
        if o.status.value == "unchanged":
            counts = "-"
        style = _STATUS_STYLE[o.status.value]
        table.add_row(o.tenant, o.display_name, o.change.value if o.change else report.operation,
                      f"[{style}]{o.status.value}[/{style}]", counts,
                      f"{o.duration_s:.1f}" if o.duration_s else "", escape(o.error or o.hint))
    output.stdout.print(table)
    for name in report.orphans:
        output.stdout.print(f"[yellow]orphan[/yellow] stack {name} has no tenant file; "
                            f"`govcloud destroy {name} --confirm {name}` removes it")


def plan(paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
         policies: PoliciesDir = Path("policies"), everything: Everything = False, parallel: Parallel = 2,
         refresh: Refresh = False, verbose: Verbose = False, shard: ShardOption = None,
         output_format: OutputFormat = Format.table) -> None:
    """Validate, check policy, then preview each changed tenant's stack with a per-resource diff.

    Nothing is changed. A mandatory policy violation stops before any engine or cloud call (exit 1). Named files
    are checked against the whole tenant set of their folder; only they are previewed.

    Example: govcloud plan tenants/czj.yaml --all
    """
    from gcloud.plan import run

    settings = _settings()
    prepared = _prepare(paths, platform, policies, settings, shard)
    with FleetProgress("plan", len(prepared.to_preview(everything or refresh)), verbose=verbose) as progress:
        report = run.plan(prepared, settings, everything=everything, parallel=parallel, on_event=progress,
                          refresh=refresh)
    _render(report, output_format)
    if report.failed or report.blocked:
        raise typer.Exit(1)


def apply(paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
          policies: PoliciesDir = Path("policies"), everything: Everything = False, parallel: Parallel = 2,
          yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
          refresh: Refresh = False, keep_foreign: KeepForeign = False, verbose: Verbose = False, actor: Actor = None,
          ticket: Ticket = None, emergency: Annotated[bool, typer.Option(
              "--emergency", help="Apply inside a platform freeze window (needs --ticket; audited).")] = False,
          shard: ShardOption = None, output_format: OutputFormat = Format.table) -> None:
    """Provision the changed tenants: several at once, live progress, a summary table at the end.

    One tenant's failure never stops the others; exit 1 if any failed, or if a frozen tenant's changes were
    held back (frozen tenants are never applied; inside a platform freeze window nothing is, unless
    --emergency --ticket T).

    Example: govcloud apply tenants/ --parallel 4 --yes
    """
    from gcloud.plan import run

    settings = _settings()
    prepared = _prepare(paths, platform, policies, settings, shard)
    pending = [s.name for s in prepared.to_apply(everything or refresh)]
    if not pending:
        output.stderr.print("no tenant to apply: none changed since its last apply (use --all to re-apply all)")
    elif not yes:
        if not sys.stdin.isatty():
            raise typer.BadParameter("not a terminal: pass --yes to apply without confirmation")
        typer.confirm(f"Apply {len(pending)} tenant(s): {', '.join(pending)}?", abort=True)
    with FleetProgress("apply", len(pending), verbose=verbose) as progress:
        report = run.apply(prepared, settings, everything=everything, parallel=parallel, on_event=progress,
                           actor=actor, ticket=ticket, refresh=refresh, keep_foreign=keep_foreign,
                           emergency=emergency)
    _render(report, output_format)
    if report.failed or report.held_back:
        raise typer.Exit(1)


def destroy(tenant: Annotated[str, typer.Argument(help="The tenant id whose stack is destroyed.")],
            confirm: Annotated[str, typer.Option("--confirm", help="Repeat the tenant id to confirm.")],
            paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
            verbose: Verbose = False, actor: Actor = None, ticket: Ticket = None,
            purge: Annotated[bool, typer.Option("--purge", help=(
                "First delete what the department made itself (servers, volumes, snapshots, backups, images, "
                "ports, floating IPs; workloads and claims in its namespaces), each deletion audited."))] = False,
            output_format: OutputFormat = Format.table) -> None:
    """Delete every resource of one tenant and remove its stack (refused while preventDeletion is true, and
    while the department's own servers, volumes or workloads remain, unless --purge).

    Example: govcloud destroy jyj --confirm jyj --purge
    """
    from gcloud.plan import run

    settings = _settings()
    with FleetProgress("destroy", 1, verbose=verbose) as progress:
        report = run.destroy(tenant, confirm, tenant_paths(paths), platform, settings, on_event=progress,
                             actor=actor, ticket=ticket, purge=purge)
    _render(report, output_format)
    if report.failed:
        raise typer.Exit(1)


def import_(tenant: Annotated[str, typer.Argument(help="The tenant id (its file must exist) to adopt into.")],
            project: Annotated[str | None, typer.Option("--project", help=(
                "The existing Keystone project (name or id) to adopt, with its networks, subnets, router and "
                "security groups."), show_default=False)] = None,
            namespaces: Annotated[list[str] | None, typer.Option("--namespace", help=(
                "An existing namespace to adopt (declared in the tenant file); repeat for several."))] = None,
            paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
            policies: PoliciesDir = Path("policies"), verbose: Verbose = False, actor: Actor = None,
            ticket: Ticket = None, output_format: OutputFormat = Format.table) -> None:
    """Adopt a project and namespaces made before govcloud into a tenant's stack without recreating them, then
    show what was changed to match the file. Objects another tenant owns are refused; the next apply changes
    nothing.

    Example: govcloud import czj --project legacy-finance --namespace czj-prod
    """
    from gcloud.plan import run

    settings = _settings()
    with FleetProgress("import", 1, verbose=verbose) as progress:
        done = run.import_tenant(tenant, tenant_paths(paths), platform, policies, settings, project=project,
                                 namespaces=namespaces or [], actor=actor, ticket=ticket, on_event=progress)
    if output_format is Format.json:
        output.emit_json({"adopted": [dataclasses.asdict(a) for a in done.adopted],
                          "tenants": [_outcome_json(o) for o in done.run.outcomes], "failed": done.run.failed})
    else:
        table = output.table("adopted", "id", "was", "now")
        for item in done.adopted:
            table.add_row(item.kind, item.id, escape(item.was), escape(item.now))
        output.stdout.print(table)
        _render(done.run, Format.table)
    if done.run.failed or done.run.held_back:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("apply")(apply)
    app.command("destroy")(destroy)
    app.command("import")(import_)
