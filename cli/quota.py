"""`govcloud quota request | list | show | approve | reject | withdraw`: a department's quota change, reviewed.

Heavy clients (openstacksdk, kubernetes) are reached only inside `request` / `approve`, through
gcloud.requests.usage, which imports them in the functions that call a cloud; the requests library itself (the
model and the policies it runs) is imported inside each command, so `govcloud --help` does not load it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import output
from .common import DEFAULT_PLATFORM, Format, OutputFormat, PlatformFile

quota_app = typer.Typer(
    help="Quota change requests (requests/<id>.yaml): ask, approve, reject, withdraw; rules in platform.yaml.",
    no_args_is_help=True,
)

TenantsDir = Annotated[Path, typer.Option("--tenants", help="The tenant folder.")]
PoliciesDir = Annotated[Path, typer.Option("--policies", help="Policy folder, run on the tenant as it would be.")]
RequestsDir = Annotated[Path, typer.Option("--requests", help="Folder of request files (kept in the repository).")]
RequestId = Annotated[str, typer.Argument(help="A request id, e.g. czj-20260301-1 (govcloud quota list).")]


if TYPE_CHECKING:
    from gcloud.requests import Effects, QuotaRequest, Workspace


class RequestState(StrEnum):
    """The states of gcloud.requests.State, spelled here so `--help` needs no import of the library."""

    open = "open"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"
    refused = "refused"


class ApproverRole(StrEnum):
    ops = "ops"
    security = "security"
    parent = "parent"


def _workspace(tenants: Path, platform: Path, policies: Path, requests: Path) -> Workspace:
    from gcloud.requests import Workspace

    return Workspace(tenants=[tenants], platform=platform, policies=policies, requests=requests)


def _effects(with_usage: bool = True) -> Effects:
    from gcloud.audit import AuditLog
    from gcloud.requests import Effects
    from gcloud.requests.usage import live_usage

    return Effects(audit=AuditLog.at(), usage=live_usage if with_usage else None)


def _document(request: QuotaRequest) -> dict[str, Any]:
    data: dict[str, Any] = request.model_dump(by_alias=True, mode="json", exclude_none=True)
    return data


def _summary(request: QuotaRequest) -> None:
    status = request.status
    asked = ", ".join(f"{c.key} {c.current} -> {c.requested}" for c in request.spec.changes)
    output.stdout.print(f"{request.id}  {request.tenant}  [bold]{status.state.value}[/bold]  ({status.kind.value}: "
                        f"{status.note})", markup=True)
    output.stdout.print(f"  asked: {asked}", markup=False)
    if status.usage.unknown:
        where = ", ".join(f"{cloud} ({why})" for cloud, why in status.usage.unknown.items())
        output.stdout.print(f"  usage unknown: {where}", markup=False)
    for need in status.parent_needs:
        output.stdout.print(f"  parent would need: {need.key} {need.current} -> {need.requested}", markup=False)
    for problem in status.problems:
        output.stdout.print(f"  refused: {problem}", markup=False)
    if request.is_open:
        given = {a.role for a in status.approvals}
        waiting = ", ".join(r.value for r in status.required if r not in given)
        output.stdout.print(f"  waiting for: {waiting}", markup=False)
    elif status.decision and status.decision.digest_after:
        output.stdout.print(f"  written to the tenant file (digest {status.decision.digest_after[:12]}); run "
                            f"`govcloud apply tenants/{request.tenant}.yaml` to provision it", markup=False)


def _render(request: QuotaRequest, output_format: Format) -> None:
    if output_format is Format.json:
        output.emit_json(_document(request))
    else:
        _summary(request)
    if request.status.state.value == RequestState.refused.value:
        raise typer.Exit(1)


def request(tenant: Annotated[str, typer.Argument(help="The tenant id, e.g. czj.")],
            set_: Annotated[list[str], typer.Option("--set", help=(
                "KEY=VALUE, repeatable: compute.cores=128, network.floatingIps=2, kubernetes.quota.pods=300, "
                "kubernetes.namespaces.czj-prod.requests.cpu=24."))],
            reason: Annotated[str, typer.Option("--reason", help="Why the department needs it.")],
            requester: Annotated[str, typer.Option("--requester", help="Who asks (cannot approve it).")],
            ticket: Annotated[str | None, typer.Option("--ticket", help="Change ticket, e.g. CHG-2026-0107.")] = None,
            tenants: TenantsDir = Path("tenants"), platform: PlatformFile = DEFAULT_PLATFORM,
            policies: PoliciesDir = Path("policies"), requests: RequestsDir = Path("requests"),
            output_format: OutputFormat = Format.table) -> None:
    """Ask for a quota change; it is checked (schema, policies, capacity, usage, parent) and written as a request.

    A decrease, or one tier step up with no approved change in 30 days, is approved at once and written into the
    tenant file. Exit 0 when recorded, 1 when recorded as refused, 2 on bad input (nothing written).

    Example: govcloud quota request czj --set compute.cores=128 --reason "年底决算" --requester 李四 --ticket CHG-1
    """
    from gcloud.requests import request_quota

    ws = _workspace(tenants, platform, policies, requests)
    _render(request_quota(ws, _effects(), tenant, set_, reason=reason, requester=requester, ticket=ticket),
            output_format)


def list_(tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's requests.")] = None,
          status: Annotated[RequestState | None, typer.Option("--status", help="Only requests in this state.")]
          = None,
          requests: RequestsDir = Path("requests"), output_format: OutputFormat = Format.table) -> None:
    """List requests, oldest first.

    Example: govcloud quota list --status open --output json
    """
    from gcloud.requests import State, Workspace, list_requests

    found = list_requests(Workspace(tenants=[], requests=requests), tenant=tenant,
                          state=State(status.value) if status else None)
    if output_format is Format.json:
        output.emit_json([_document(item) for item in found])
        return
    table = output.table("id", "tenant", "state", "kind", "asked", "requester", "created")
    for item in found:
        table.add_row(item.id, item.tenant, item.status.state.value, item.status.kind.value,
                      ", ".join(f"{c.key}={c.requested}" for c in item.spec.changes), item.spec.requester,
                      f"{item.metadata.created:%Y-%m-%d %H:%M}")
    output.stdout.print(table)


def show(request_id: RequestId, tenants: TenantsDir = Path("tenants"), platform: PlatformFile = DEFAULT_PLATFORM,
         requests: RequestsDir = Path("requests"), output_format: OutputFormat = Format.table) -> None:
    """One request: each key's tier value and value now, in plain units, beside what is asked; then its state.

    Example: govcloud quota show czj-20260301-1
    """
    from gcloud.requests import show_request

    shown = show_request(_workspace(tenants, platform, Path("policies"), requests), request_id)
    if output_format is Format.json:
        output.emit_json({**_document(shown.request), "tier": shown.tier_name,
                          "plain": [vars(change) for change in shown.changes]})
        return
    table = output.table("key", f"tier ({shown.tier_name or 'none'})", "now", "asked")
    for change in shown.changes:
        table.add_row(change.key, change.tier, change.current, change.requested)
    output.stdout.print(table)
    output.stdout.print(f"requester {shown.request.spec.requester}; reason: {shown.request.spec.reason}"
                        + (f"; ticket {shown.request.spec.ticket}" if shown.request.spec.ticket else ""), markup=False)
    _summary(shown.request)


def approve(request_id: RequestId, approver: Annotated[str, typer.Option("--approver", help="Who approves.")],
            role: Annotated[ApproverRole, typer.Option("--role", help=(
                "ops, security, or parent (the parent tenant's owner, for a sub-unit)."))],
            tenants: TenantsDir = Path("tenants"), platform: PlatformFile = DEFAULT_PLATFORM,
            policies: PoliciesDir = Path("policies"), requests: RequestsDir = Path("requests"),
            output_format: OutputFormat = Format.table) -> None:
    """Approve in one role; the last approval needed re-runs the checks and writes the tenant file.

    Example: govcloud quota approve czj-20260301-1 --approver 刘洋 --role ops
    """
    from gcloud.requests import Role, approve_request

    ws = _workspace(tenants, platform, policies, requests)
    _render(approve_request(ws, _effects(), request_id, approver=approver, role=Role(role.value)), output_format)


def reject(request_id: RequestId, approver: Annotated[str, typer.Option("--approver", help="Who rejects.")],
           reason: Annotated[str, typer.Option("--reason", help="Why; kept in the request file.")],
           requests: RequestsDir = Path("requests"), output_format: OutputFormat = Format.table) -> None:
    """Reject an open request, with the reason.

    Example: govcloud quota reject czj-20260301-1 --approver 孙立 --reason "先清理闲置云主机"
    """
    from gcloud.requests import Workspace, reject_request

    ws = Workspace(tenants=[], requests=requests)
    _render(reject_request(ws, _effects(False), request_id, approver=approver, reason=reason), output_format)


def withdraw(request_id: RequestId,
             actor: Annotated[str | None, typer.Option("--actor", help=(
                 "Who withdraws (default: GOVCLOUD_ACTOR, else the OS user)."))] = None,
             requests: RequestsDir = Path("requests"), output_format: OutputFormat = Format.table) -> None:
    """Withdraw an open request (the tenant may then ask again).

    Example: govcloud quota withdraw czj-20260301-1
    """
    from gcloud.audit import resolve_actor
    from gcloud.requests import Workspace, withdraw_request

    ws = Workspace(tenants=[], requests=requests)
    _render(withdraw_request(ws, _effects(False), request_id, actor=resolve_actor(actor)), output_format)


def register(app: typer.Typer) -> None:
    quota_app.command("request")(request)
    quota_app.command("list")(list_)
    quota_app.command("show")(show)
    quota_app.command("approve")(approve)
    quota_app.command("reject")(reject)
    quota_app.command("withdraw")(withdraw)
    app.add_typer(quota_app, name="quota")
