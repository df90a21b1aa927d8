"""`govcloud doctor`: what is installed, where state lives, which clouds answer; exit 1 when something required
is missing. `--mlps`: the platform's own level-3 settings instead; exit 1 when one fails."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from . import output
from .common import DEFAULT_PLATFORM, Format, OutputFormat, PlatformFile

if TYPE_CHECKING:
    from gcloud.doctor import DoctorReport
    from gcloud.mlps import MlpsReport

_MARK = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "missing": "[red]missing[/red]"}


def doctor(platform: PlatformFile = DEFAULT_PLATFORM, output_format: OutputFormat = Format.table,
           timeout: Annotated[float, typer.Option(help="Seconds to wait for each cloud.", min=0.1)] = 3.0,
           mlps: Annotated[bool, typer.Option(
               "--mlps", help="Check the platform's own level-3 (等保三级) settings instead: API server audit policy "
               "and log retention, Secrets encrypted at rest, Keystone lockout and password expiry, Cinder volume "
               "wiping; read from the files platform.yaml's spec.deployment names.")] = False) -> None:
    """Check the Pulumi engine and SDK, the state location, the passphrase, and which clouds answer.

    Clouds of clouds.yaml and contexts of the kubeconfig are probed (a token, the version endpoint); those named
    in the platform file (when it exists) are expected. Exit 1 when something required is missing.

    With --mlps: each setting of each cluster and cloud, ok or fail, where it was read, what level 3 needs and
    the GB/T 22239-2019 clause; exit 1 when one fails.

    Example: govcloud doctor --output json

    Example: govcloud doctor --mlps --platform platform.yaml
    """
    from gcloud.doctor import diagnose
    from gcloud.model import load_platform

    if mlps:
        _mlps(platform, output_format, timeout)
        return

    clouds: list[str] = []
    contexts: list[str] = []
    if platform.exists():
        spec = load_platform(platform).spec
        clouds = [cloud.name for cloud in spec.openstack.clouds]
        contexts = [cluster.name for cluster in spec.kubernetes.clusters]
    report = diagnose(expected_clouds=clouds, expected_contexts=contexts, timeout=timeout)
    _show(output_format, report.ok, lambda: _document(report), lambda: _render(report))


def _show(output_format: Format, ok: bool, document: Callable[[], dict[str, object]],
          render: Callable[[], None]) -> None:
    """JSON for scripts or the table for people; exit 1 unless everything required is in place."""
    if output_format is Format.json:
        output.emit_json(document())
    else:
        render()
    if not ok:
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


def _mlps(platform: Path, output_format: Format, timeout: float) -> None:
    from gcloud.doctor import diagnose_mlps

    report = diagnose_mlps(platform, timeout=timeout)
    _show(output_format, report.ok, lambda: _mlps_document(report), lambda: _render_mlps(report))


def _clauses(keys: tuple[str, ...]) -> list[dict[str, str]]:
    from gcloud.policy.clauses import STANDARD, clause_table

    table = clause_table()
    return [{"standard": STANDARD, "clause": key, "title": clause.title if (clause := table.get(key)) else ""}
            for key in keys]


def _mlps_document(report: MlpsReport) -> dict[str, object]:
    return {"ok": report.ok, "checks": [
        {"target": c.target, "setting": c.setting.value, "ok": c.ok, "found": c.found, "source": c.source,
         "needed": c.needed, "clauses": _clauses(c.clauses)} for c in report.checks]}


def _render_mlps(report: MlpsReport) -> None:
    """A small table per check: what was found, where it was read, and (failing) what level 3 needs."""
    for check in report.checks:
        mark = "[green]ok  [/green]" if check.ok else "[red]fail[/red]"
        output.stdout.print(f"{mark}  [bold]{escape(check.target)}[/bold] {check.setting.value}")
        rows = Table(box=None, show_header=False, padding=(0, 1, 0, 5))
        rows.add_column(style="dim", no_wrap=True)
        rows.add_column(overflow="fold")
        rows.add_row("found", escape(check.found))
        rows.add_row("read from", escape(check.source))
        if not check.ok:
            rows.add_row("level 3 needs", escape(check.needed))
        cited = _clauses(check.clauses)
        rows.add_row("clause", escape(f"{cited[0]['standard']} " + "; ".join(f"{c['clause']} {c['title']}"
                                                                         for c in cited)))
        output.stdout.print(rows)
    failed = len(report.failed)
    output.stdout.print("[green]every setting holds[/green]" if report.ok else
                        f"[red]{failed} of {len(report.checks)} settings fall short of level 3[/red]")


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
