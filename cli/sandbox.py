"""`govcloud sandbox up | down | status | env | logs`: the local real cloud on loopback.

The sandbox library (openstacksdk, cryptography) is imported inside each command, so other commands do not
pay for it at start-up.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from . import output
from .common import Format, OutputFormat

if TYPE_CHECKING:
    from gcloud.sandbox.sandbox import Sandbox

sandbox_app = typer.Typer(
    help="The local sandbox cloud: real OpenStack and Kubernetes APIs on 127.0.0.1 for demos and tests.",
    no_args_is_help=True,
)

Dir = Annotated[
    Path | None,
    typer.Option("--dir", help="State directory (default: $GOVCLOUD_SANDBOX_DIR, else ./.govcloud/sandbox).",
                 show_default=False),
]


def _sandbox(directory: Path | None, *, full: bool | None = None, port_offset: int | None = None) -> Sandbox:
    from gcloud.sandbox.sandbox import Sandbox, default_root

    root = directory.expanduser().resolve() if directory is not None else default_root()
    return Sandbox(root, full=full, port_offset=port_offset)


@sandbox_app.command("up")
def up(
    full: Annotated[bool | None, typer.Option(
        "--full/--api-only",
        help="--full adds RabbitMQ and nova/cinder's RPC services (fake drivers) so servers and volumes can be "
             "created. Default: the mode recorded by the last `up`, else API-only.",
        show_default=False)] = None,
    directory: Dir = None,
    port_offset: Annotated[int | None, typer.Option(
        "--port-offset", min=0, max=30000,
        help="Shift every port (Keystone 5000+N, kube-apiserver 6443+N, ...) to run beside another sandbox.",
        show_default=False)] = None,
) -> None:
    """Start the sandbox: install/build what is missing, start what is not running, print the timings.

    Idempotent: returns at once when everything runs. Installs and builds are cached per version.

    Example: govcloud sandbox up && eval "$(govcloud sandbox env)"
    """
    sandbox = _sandbox(directory, full=full, port_offset=port_offset)
    started = time.monotonic()
    lock = threading.Lock()

    def progress(line: str) -> None:
        with lock:
            output.stderr.print(f"[dim]{time.monotonic() - started:6.1f}s[/dim] {escape(line)}")

    output.stderr.print(f"sandbox in {sandbox.root}")
    report = sandbox.up(progress)
    table = output.table("phase", "seconds")
    for phase, seconds in report.timings:
        table.add_row(phase, f"{seconds:.1f}")
    output.stderr.print(table)
    output.stderr.print(f"[green]up[/green] in {report.total:.1f} s; for a shell: "
                        f"eval \"$(govcloud sandbox env{_dir_flag(directory)})\"")


@sandbox_app.command("down")
def down(directory: Dir = None) -> None:
    """Stop every process the sandbox started (by recorded PID, never by name); state is kept for the next `up`.

    Example: govcloud sandbox down
    """
    stopped = _sandbox(directory).down()
    output.stdout.print(f"stopped {len(stopped)} services" + (f": {', '.join(stopped)}" if stopped else ""))


@sandbox_app.command("status")
def status(directory: Dir = None, output_format: OutputFormat = Format.table) -> None:
    """Show each service: running or not, PID, endpoint, memory. Exit 1 unless every service runs.

    Example: govcloud sandbox status --output json
    """
    sandbox = _sandbox(directory)
    halves = sandbox.status()
    rows = [(half, svc) for half, services in halves.items() for svc in services]
    if output_format is Format.json:
        output.emit_json({
            "root": str(sandbox.root),
            "services": [{"half": half, "name": s.name, "running": s.running, "pid": s.pid,
                          "endpoint": s.endpoint, "memoryMB": s.memory_mb} for half, s in rows],
            "memoryMB": _total_mb(s.memory_mb for _, s in rows),
        })
    else:
        table = output.table("service", "state", "pid", "endpoint", "MB")  # one section per half
        for number, services in enumerate(halves.values()):
            if number:
                table.add_section()
            for s in services:
                state = "[green]running[/green]" if s.running else "[red]stopped[/red]"
                memory = f"{s.memory_mb:.0f}" if s.memory_mb is not None else "-"
                table.add_row(s.name, state, str(s.pid or "-"), s.endpoint, memory)
        # Piped output gets 100 columns (rich assumes 80): names and endpoints are copied from here, never cut.
        console = output.stdout if output.stdout.is_terminal else Console(highlight=False, width=100)
        console.print(table)
        output.stdout.print(f"total memory {_total_mb(s.memory_mb for _, s in rows):.0f} MB ({sandbox.root})")
    if not all(s.running for _, s in rows):
        raise typer.Exit(1)


@sandbox_app.command("env")
def env(directory: Dir = None) -> None:
    """Print `export` lines for a shell: OS_CLIENT_CONFIG_FILE, OS_CLOUD, KUBECONFIG.

    Example: eval "$(govcloud sandbox env)"
    """
    for key, value in _sandbox(directory).env().items():
        typer.echo(f"export {key}={shlex.quote(value)}")


@sandbox_app.command("logs")
def logs(
    service: Annotated[str, typer.Argument(help="A service (keystone, nova-api, kube-apiserver, ...) or an "
                                                "init step (init-nova).")],
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many lines from the end.")] = 50,
    directory: Dir = None,
) -> None:
    """Print the last lines of one service's log.

    Example: govcloud sandbox logs neutron -n 100
    """
    typer.echo(_sandbox(directory).logs(service, lines))


def _total_mb(values: Iterable[float | None]) -> float:
    return round(sum(v for v in values if v is not None), 1)


def _dir_flag(directory: Path | None) -> str:
    return f" --dir {shlex.quote(str(directory))}" if directory is not None else ""


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
