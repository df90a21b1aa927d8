"""`govcloud doctor`: what is installed, where state lives, which clouds answer; exit 1 when something required
is missing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from . import output
from .common import DEFAULT_PLATFORM, Format, OutputFormat, PlatformFile

if TYPE_CHECKING:
    from gcloud.doctor import DoctorReport

_MARK = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "missing": "[red]missing[/red]"}


def doctor(platform: PlatformFile = DEFAULT_PLATFORM, output_format: OutputFormat = Format.table,
           timeout: Annotated[float, typer.Option(help="Seconds to wait for each cloud.", min=0.1)] = 3.0) -> None:
    """Check the Pulumi engine and SDK, the state location, the passphrase, and which clouds answer.

    Clouds of clouds.yaml and contexts of the kubeconfig are probed (a token, the version endpoint); those named
    in the platform file (when it exists) are expected. Exit 1 when something required is missing.

    Example: govcloud doctor --output json
    """
    from gcloud.doctor import diagnose
    from gcloud.model import load_platform

    clouds: list[str] = []
    contexts: list[str] = []
    if platform.exists():
        spec = load_platform(platform).spec
        clouds = [cloud.name for cloud in spec.openstack.clouds]
        contexts = [cluster.name for cluster in spec.kubernetes.clusters]
    report = diagnose(expected_clouds=clouds, expected_contexts=contexts, timeout=timeout)
    if output_format is Format.json:
        output.emit_json(_document(report))
    else:
        _render(report)
    if not report.ok:
        raise typer.Exit(1)


def _document(report: DoctorReport) -> dict[str, object]:
    return {
        "ok": report.ok,
        **report.facts,
        "checks": [{"name": c.name, "status": c.status.value, "required": c.required, "detail": c.detail,
                    "hint": c.hint} for c in report.checks],
        "clouds": [{"kind": p.kind, "name": p.name, "answered": p.answered, "expected": p.expected,
                    "detail": p.detail, "hint": p.hint} for p in report.clouds],
    }


def _render(report: DoctorReport) -> None:
    table = output.table("check", "status", "detail")
    table.columns[2].overflow = "fold"  # paths are worth more whole than on one line
    for check in report.checks:
        table.add_row(check.name, _MARK[check.status.value], escape(check.detail))
    for probe in report.clouds:
        mark = "[green]answers[/green]" if probe.answered else (
            "[red]no answer[/red]" if probe.expected else "[yellow]no answer[/yellow]")
        table.add_row(f"{probe.kind} {escape(probe.name)}", mark, escape(probe.detail))
    output.stdout.print(table)
    if not report.clouds:
        output.stdout.print("no clouds.yaml clouds or kubeconfig contexts found")
    hints = [(c.name, c.hint) for c in report.checks if c.status.value != "ok" and c.hint]
    hints += [(f"{p.kind} {p.name}", p.hint) for p in report.clouds if not p.answered and p.hint]
    for name, hint in hints:
        output.stdout.print(f"[bold]fix[/bold] {escape(name)}: {escape(hint)}")
    verdict = "[green]ready[/green]" if report.ok else "[red]something required is missing[/red]"
    output.stdout.print(verdict)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
