"""`govcloud audit show | verify | key`: read, check and vouch for the hash-chained, signed audit trail."""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gcloud.localfs import display_path

from . import output
from .common import Format, OutputFormat

audit_app = typer.Typer(
    help="The audit trail of every change (beside the state; GOVCLOUD_AUDIT_LOG moves it): show, verify, key.",
    no_args_is_help=True,
)


class KeyFormat(StrEnum):
    text = "text"
    json = "json"


if TYPE_CHECKING:
    from gcloud.audit import AuditLog


def _where(log: AuditLog) -> str:
    return display_path(log.paths.log) if log.paths else "audit log"


def show(tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's entries.")] = None,
         since: Annotated[dt.datetime | None, typer.Option(
             "--since", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], show_default=False,
             help="Only entries from this day or time on (UTC).")] = None,
         output_format: OutputFormat = Format.table) -> None:
    """List the audit entries: when, who, what, which tenant, the outcome, the ticket and what changed.

    Example: govcloud audit show --tenant gov-tax --since 2025-01-01 --output json
    """
    from gcloud.audit import AuditLog
    from gcloud.audit.formats import changes_text, entries_document

    log = AuditLog.at()
    entries = log.entries(tenant=tenant, since=since)
    if output_format is Format.json:
        output.emit_json(entries_document(entries))
        return
    table = output.table("SEQ", "TIME (UTC)", "ACTOR", "ACTION", "TENANT", "OUTCOME", "TICKET", "CHANGES")
    for entry in entries:
        event = entry.event
        table.add_row(str(entry.seq), entry.time.strftime("%Y-%m-%d %H:%M:%S"), event.actor, event.action,
                      event.tenant, event.outcome, event.ticket or "-", changes_text(entry))
    output.stdout.print(table)
    output.stdout.print(f"{len(entries)} entries in {_where(log)}")


def verify(public_key: Annotated[Path | None, typer.Option(
               "--public-key", exists=True, dir_okay=False, show_default=False,
               help="Verify with this public key (`audit key` output) instead of the key file.")] = None,
           output_format: OutputFormat = Format.table) -> None:
    """Check the hash chain, every signed checkpoint and the signed head.

    Exit 0 when the log is intact, 1 naming the first broken entry (line and sequence) when one was edited,
    deleted, reordered or cut off, or the chain was re-written without the key.

    Example: govcloud audit verify --output json
    """
    from gcloud.audit import AuditLog
    from gcloud.audit.formats import verification_dict, verification_text

    log = AuditLog.at()
    pem = public_key.read_bytes() if public_key else None
    result = log.verify(pem, source=str(public_key)) if pem is not None else log.verify()
    where = _where(log)
    if output_format is Format.json:
        output.emit_json(verification_dict(result, where))
    else:
        sys.stdout.write(verification_text(result, where))
    if not result.ok:
        raise typer.Exit(1)


def key(output_format: Annotated[KeyFormat, typer.Option(
        "--output", "-o", help="text (PEM and fingerprint) for people, json for scripts.")] = KeyFormat.text) -> None:
    """Show the public half of the audit signing key (made on first use), to hand to auditors.

    Example: govcloud audit key > audit-public.pem
    """
    from gcloud.audit import AuditLog
    from gcloud.audit.formats import key_dict

    log = AuditLog.at()
    public = log.public_key()
    key_file = display_path(log.key_path)
    if output_format is KeyFormat.json:
        output.emit_json(key_dict(public, key_file))
    else:
        sys.stdout.write(public.pem)
        sys.stderr.write(f"fingerprint {public.fingerprint} (private key: {key_file})\n")


def register(app: typer.Typer) -> None:
    audit_app.command("show")(show)
    audit_app.command("verify")(verify)
    audit_app.command("key")(key)
    app.add_typer(audit_app, name="audit")
