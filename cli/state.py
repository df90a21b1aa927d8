"""`govcloud state backup | restore | locks | unlock`: the fleet's shared state, kept safe and unstuck.

The engine and psycopg are imported inside each command: `--help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gcloud.errors import InputError

from . import output
from .common import Format, OutputFormat

if TYPE_CHECKING:
    from gcloud.engine.settings import EngineSettings
    from gcloud.state.bundle import BundleReport
    from gcloud.state.locks import LockReport, StackLock

state_app = typer.Typer(help="The fleet's state: back it up, restore it, see and clear stack locks.",
                        no_args_is_help=True)


def _settings() -> EngineSettings:
    from gcloud.engine.settings import EngineSettings

    return EngineSettings.from_environment()


def _render_bundle(verb: str, report: BundleReport, output_format: Format) -> None:
    if output_format is Format.json:
        output.emit_json({"path": str(report.path), "backend": report.backend, "stacks": list(report.stacks),
                          "tenantsRecorded": report.tenants_recorded, "auditLines": report.audit_lines,
                          "results": report.results, "sizeBytes": report.size_bytes,
                          "durationS": round(report.duration_s, 2)})
        return
    output.stdout.print(f"[green]{verb}[/green] {len(report.stacks)} stack(s), {report.tenants_recorded} recorded "
                        f"tenant(s), {report.audit_lines} audit line(s), {report.results} result(s) "
                        f"{'to' if verb == 'backed up' else 'from'} {report.path} ({report.size_bytes} bytes, "
                        f"{report.duration_s:.1f}s); backend {report.backend}")


@state_app.command("backup")
def backup(out: Annotated[Path, typer.Option("--out", help="The bundle to write (tar.gz).")],
           output_format: OutputFormat = Format.table) -> None:
    """Write every stack (secrets stay encrypted), its config, the applied record, results and the audit log.

    The passphrase and the audit key are not in the bundle: keep them apart from it.

    Example: govcloud state backup --out backups/fleet-$(date +%F).tar.gz
    """
    from gcloud.state.bundle import backup as run_backup

    _render_bundle("backed up", run_backup(_settings(), out), output_format)


@state_app.command("restore")
def restore(bundle: Annotated[Path, typer.Argument(help="A bundle written by `govcloud state backup`.")],
            output_format: OutputFormat = Format.table) -> None:
    """Restore a bundle into an empty backend (it never overwrites stacks that exist).

    Example: PULUMI_BACKEND_URL=postgres://govcloud@db:5432/fleet2 govcloud state restore fleet.tar.gz
    """
    from gcloud.state.bundle import restore as run_restore

    if not bundle.is_file():
        raise InputError.single(str(bundle), "no such file", code="file-not-found")
    _render_bundle("restored", run_restore(_settings(), bundle), output_format)


def _postgres_url() -> str:
    from gcloud.state.backend import backend_url, is_postgres

    url = backend_url()
    if not is_postgres(url):
        raise InputError.single("PULUMI_BACKEND_URL", "stack locks are listed here for a postgres:// backend only",
                                code="not-postgres",
                                hint="a file backend's locks are files under <state>/.pulumi/locks")
    return url


def _lock_json(lock: StackLock, cleared: bool) -> dict[str, Any]:
    return {"stack": lock.stack, "pid": lock.pid, "user": lock.username, "host": lock.hostname,
            "since": lock.timestamp, "ownerGone": lock.owner_gone, "cleared": cleared,
            "clearCommand": None if cleared else lock.clear_command}


def _render_locks(report: LockReport, output_format: Format) -> None:
    if output_format is Format.json:
        output.emit_json({"locks": [_lock_json(lock, True) for lock in report.cleared]
                          + [_lock_json(lock, False) for lock in report.kept]})
        return
    if not report.cleared and not report.kept:
        output.stdout.print("no stack is locked")
        return
    table = output.table("STACK", "HOLDER", "OWNER", "DONE")
    for lock in report.cleared:
        table.add_row(lock.stack, lock.holder, "gone" if lock.owner_gone else "unknown", "cleared")
    for lock in report.kept:
        owner = "gone" if lock.owner_gone else "alive here" if lock.hostname == _host() else "another host"
        table.add_row(lock.stack, lock.holder, owner, f"kept: {lock.clear_command} once that run is dead")
    output.stdout.print(table)


def _host() -> str:
    import socket

    return socket.gethostname()


@state_app.command("locks")
def locks(output_format: OutputFormat = Format.table) -> None:
    """List the stack locks in the shared backend: who holds each, and whether its owner is gone.

    Example: govcloud state locks --output json
    """
    from gcloud.state.locks import LockReport, list_locks

    _render_locks(LockReport((), tuple(list_locks(_postgres_url()))), output_format)


@state_app.command("unlock")
def unlock(tenants: Annotated[list[str] | None, typer.Argument(help="Stacks (tenant ids) to unlock.",
                                                               show_default=False)] = None,
           stale: Annotated[bool, typer.Option("--stale", help="Every lock whose owner is gone.")] = False,
           force: Annotated[bool, typer.Option("--force", help="Also locks whose owner cannot be judged from "
                                               "here (another host): only once that run is known dead.")] = False,
           output_format: OutputFormat = Format.table) -> None:
    """Clear stack locks left by runs that were killed: safe ones (same host, engine gone) always, others with --force.

    Example: govcloud state unlock --stale
    """
    from gcloud.state.locks import clear_stale
    from gcloud.state.locks import unlock as run_unlock

    if not tenants and not stale:
        raise typer.BadParameter("name the tenants to unlock, or --stale for every lock whose owner is gone")
    if stale and force and not tenants:
        raise typer.BadParameter("--force needs the tenants named: it clears locks of live runs too")
    url = _postgres_url()
    report = run_unlock(url, tenants, force=force) if tenants else clear_stale(url)
    _render_locks(report, output_format)
    if tenants and report.kept:  # a named lock is still there: the next run on it would stop
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(state_app, name="state")
