"""`govcloud plan`, `govcloud apply`, `govcloud destroy`: the tenants' stacks, with live progress."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gcloud.engine.events import StackEvent
from gcloud.engine.settings import EngineSettings
from gcloud.plan import run
from gcloud.plan.run import PolicyBlocked, RunReport, Status
from gcloud.plan.select import Change

from . import output
from .common import DEFAULT_PLATFORM, Format, OutputFormat, Paths, PlatformFile, tenant_paths

PoliciesDir = Annotated[Path, typer.Option("--policies", help="The folder of policy files.")]
Parallel = Annotated[int, typer.Option("--parallel", "-p", min=1, max=32, help="Tenants run at once.")]
Everything = Annotated[bool, typer.Option("--all", help="Include tenants unchanged since their last apply.")]

_STATUS_STYLE = {Status.OK: "green", Status.FAILED: "red", Status.FROZEN: "yellow", Status.UNCHANGED: "dim"}


def _progress(event: StackEvent) -> None:
    """One line per engine event on stderr, prefixed with the tenant, while stacks run."""
    output.stderr.print(f"[cyan]{escape(event.stack):>10}[/cyan] {escape(event.message)}")


def _settings() -> EngineSettings:
    return EngineSettings.from_environment(Path.cwd())


def _prepare(paths: list[Path] | None, platform: Path, policies: Path, settings: EngineSettings) -> run.Prepared:
    try:
        return run.prepare(tenant_paths(paths), platform, policies, settings)
    except PolicyBlocked as blocked:
        for finding in blocked.check.findings:
            if finding.blocking:
                output.stderr.print(f"[red]{escape(finding.policy_id)}[/red] {escape(finding.file)}:{finding.line}:"
                                    f"{finding.column} {escape(finding.tenant)}: {escape(finding.message)}")
        raise


def _render(report: RunReport, output_format: Format) -> None:
    if output_format is Format.json:
        output.emit_json({"operation": report.operation, "failed": report.failed, "orphans": list(report.orphans),
                          "tenants": [dataclasses.asdict(o) for o in report.outcomes]})
        return
    if report.operation == "plan":
        for outcome in report.outcomes:
            for op, kind, name, keys in outcome.resources:
                detail = f" ({', '.join(keys)})" if keys else ""
                short = kind.rpartition(":")[2]  # pulumi-python:dynamic/govcloud-openstack:Quota -> Quota
                output.stdout.print(f"  {escape(outcome.tenant)}: [bold]{op}[/bold] {escape(short)} "
                                    f"{escape(name)}{escape(detail)}")
    table = output.table("tenant", "name", "change", "status", "resources", "seconds", "detail")
    for o in report.outcomes:
        counts = ", ".join(f"{n} {op}" for op, n in sorted(o.counts.items()) if op != "same") or "no changes"
        if o.status is Status.UNCHANGED:
            counts = "-"
        style = _STATUS_STYLE[o.status]
        table.add_row(o.tenant, o.display_name, o.change, f"[{style}]{o.status.value}[/{style}]", counts,
                      f"{o.duration_s:.1f}" if o.duration_s else "", escape(o.error or o.hint))
    output.stdout.print(table)
    for name in report.orphans:
        output.stdout.print(f"[yellow]orphan[/yellow] stack {name} has no tenant file; "
                            f"`govcloud destroy {name} --confirm {name}` removes it")


def plan(paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
         policies: PoliciesDir = Path("policies"), everything: Everything = False, parallel: Parallel = 2,
         output_format: OutputFormat = Format.table) -> None:
    """Validate, check policy, then preview each changed tenant's stack with a per-resource diff.

    Nothing is changed. A mandatory policy violation stops before any engine or cloud call (exit 1).

    Example: govcloud plan tenants/ --all
    """
    settings = _settings()
    prepared = _prepare(paths, platform, policies, settings)
    report = run.plan(prepared, settings, everything=everything, parallel=parallel, on_event=_progress)
    _render(report, output_format)
    if report.failed:
        raise typer.Exit(1)


def apply(paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
          policies: PoliciesDir = Path("policies"), everything: Everything = False, parallel: Parallel = 2,
          yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
          output_format: OutputFormat = Format.table) -> None:
    """Provision the changed tenants: several at once, live progress, a summary table at the end.

    One tenant's failure never stops the others; exit 1 if any failed, or if a frozen tenant's changes were
    held back (frozen tenants are never applied).

    Example: govcloud apply tenants/ --parallel 4 --yes
    """
    settings = _settings()
    prepared = _prepare(paths, platform, policies, settings)
    pending = [s.name for s in prepared.selection if everything or s.change is not Change.UNCHANGED]
    if not pending:
        output.stderr.print("no tenant changed since its last apply (use --all to re-apply all)")
    elif not yes:
        if not sys.stdin.isatty():
            raise typer.BadParameter("not a terminal: pass --yes to apply without confirmation")
        typer.confirm(f"Apply {len(pending)} tenant(s): {', '.join(pending)}?", abort=True)
    report = run.apply(prepared, settings, everything=everything, parallel=parallel, on_event=_progress)
    _render(report, output_format)
    if report.failed or report.held_back:
        raise typer.Exit(1)


def destroy(tenant: Annotated[str, typer.Argument(help="The tenant id whose stack is destroyed.")],
            confirm: Annotated[str, typer.Option("--confirm", help="Repeat the tenant id to confirm.")],
            paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
            output_format: OutputFormat = Format.table) -> None:
    """Delete every resource of one tenant and remove its stack (refused while preventDeletion is true).

    Example: govcloud destroy jyj --confirm jyj
    """
    settings = _settings()
    report = run.destroy(tenant, confirm, tenant_paths(paths), platform, settings, on_event=_progress)
    _render(report, output_format)
    if report.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("apply")(apply)
    app.command("destroy")(destroy)
