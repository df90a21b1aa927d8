"""plan / apply / destroy over a tenant set: gate on policy, pick the tenants, run their stacks, record.

The order is the product's promise: files are validated and every mandatory policy passes *before* any engine
or cloud call; then only tenants whose effective spec changed since their last successful apply are touched
(unless asked for all); each tenant's stack runs in its own process so one failure never stops or corrupts the
others; a success is recorded (digest + pinned CIDRs) only after the engine says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from gcloud.audit import AuditEvent, AuditLog, resolve_actor
from gcloud.engine.errors import StackNotFound
from gcloud.engine.events import EventSink, ResourceChange
from gcloud.engine.runner import JobResult, StackJob, run_stacks
from gcloud.engine.settings import EngineSettings
from gcloud.errors import GovcloudError, InputError, Problem, SourceLocation
from gcloud.live.adopt import Adopted
from gcloud.live.residue import clear_residue
from gcloud.model import Fleet, TenantDocument, load_fleet
from gcloud.policy.check import check_fleet
from gcloud.policy.finding import FLEET, CheckResult
from gcloud.policy.loader import load_policies
from gcloud.providers.base import KEEP_FOREIGN_ENV

from . import freeze
from .record import read_record, update_record
from .select import Change, Selected, applied_entry, changes_since, orphans
from .shard import Shard, restrict

PROGRAM = "gcloud.stacks.program:build"


class PolicyBlocked(GovcloudError):
    """A mandatory fleet-wide policy failed (capacity, say): nothing was previewed or changed."""

    def __init__(self, check: CheckResult) -> None:
        self.check = check
        blocking = [f for f in check.findings if f.blocking]
        super().__init__(f"{len(blocking)} mandatory policy violation(s) of the whole fleet; nothing was changed")


class RunStatus(StrEnum):
    """How one tenant's part of a run ended."""

    OK = "ok"
    FAILED = "failed"
    FROZEN = "frozen"
    BLOCKED = "blocked"
    """A mandatory policy fails for this tenant: held back before any engine call, the others go on."""
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class TenantOutcome:
    """What happened to one tenant in a run; typed until the CLI renders it."""

    tenant: str
    display_name: str
    change: Change | None
    """Why the tenant was in the run (None for destroy, which acts on a stack, not on a change of the file)."""
    status: RunStatus
    counts: dict[str, int] = field(default_factory=dict)
    resources: tuple[ResourceChange, ...] = ()
    """Every resource that is (or would be) created, updated, replaced or deleted."""
    duration_s: float = 0.0
    error: str = ""
    hint: str = ""


@dataclass(frozen=True)
class RunReport:
    operation: str
    outcomes: tuple[TenantOutcome, ...]
    orphans: tuple[str, ...] = ()
    policy: CheckResult | None = None

    @property
    def failed(self) -> bool:
        return any(outcome.status is RunStatus.FAILED for outcome in self.outcomes)

    @property
    def blocked(self) -> bool:
        """A mandatory policy held a tenant back."""
        return any(outcome.status is RunStatus.BLOCKED for outcome in self.outcomes)

    @property
    def held_back(self) -> bool:
        """A tenant's changes were held back (policy, or a frozen tenant whose file changed): the cloud was left as
        it was, and a script must not read that as done."""
        return any(outcome.status is RunStatus.BLOCKED or (
            outcome.status is RunStatus.FROZEN and outcome.change is not Change.UNCHANGED) for outcome in self.outcomes)


@dataclass(frozen=True)
class Prepared:
    """A fleet that passed validation and policy, with each tenant's change since its last apply."""

    fleet: Fleet
    selection: tuple[Selected, ...]
    orphans: tuple[str, ...]
    policy: CheckResult
    blocked: frozenset[str] = frozenset()
    """Tenants with a mandatory policy violation: never previewed or applied."""

    def targets(self, everything: bool) -> list[Selected]:
        """The tenants a run looks at: the changed ones, or all named ones with `everything`."""
        return [s for s in self.selection if everything or s.change is not Change.UNCHANGED]

    def to_preview(self, everything: bool) -> list[Selected]:
        """The targets the engine previews: all but those a mandatory policy holds back."""
        return [s for s in self.targets(everything) if s.name not in self.blocked]

    def to_apply(self, everything: bool) -> list[Selected]:
        """The targets apply really changes: frozen tenants are previewed, never applied."""
        return [s for s in self.to_preview(everything) if not s.doc.tenant.spec.lifecycle.frozen]


def prepare(paths: Sequence[Path], platform: Path, policies: Path, settings: EngineSettings,
            today: dt.date | None = None, shard: Shard | None = None) -> Prepared:
    """Validate, check policy, classify changes; a tenant's mandatory violation holds back that tenant only, a
    fleet-wide one (PolicyBlocked) the whole run."""
    day = today or dt.date.today()
    record = read_record(settings.state_dir)
    fleet = restrict(load_fleet(paths, platform, record.pinned_cidrs(), day), shard)
    check = check_fleet(fleet, load_policies(policies), day)
    if any(finding.blocking and finding.tenant == FLEET for finding in check.findings):
        raise PolicyBlocked(check)
    blocked = frozenset(finding.tenant for finding in check.findings if finding.blocking)
    return Prepared(fleet, tuple(changes_since(fleet, record)), tuple(orphans(fleet, record)), check, blocked)


def _job(doc: TenantDocument, fleet: Fleet, operation: str, refresh: bool = False) -> StackJob:
    return StackJob(stack=doc.name, operation=operation, program=PROGRAM,
                    args={"effective": doc.effective, "platform": fleet.platform_data}, refresh=refresh)


def _held_back(prepared: Prepared, targets: Sequence[Selected]) -> dict[str, TenantOutcome]:
    """Outcomes of the targets a mandatory policy holds back, naming the first failing policy."""
    first: dict[str, str] = {}
    for finding in prepared.policy.findings:
        if finding.blocking:
            first.setdefault(finding.tenant, f"{finding.policy_id} at {finding.location}: {finding.message}")
    return {s.name: _unchanged(s, RunStatus.BLOCKED, f"held back by mandatory policy {first[s.name]}")
            for s in targets if s.name in prepared.blocked}


def _outcome(selected: Selected, result: JobResult) -> TenantOutcome:
    meta = selected.doc.tenant.metadata
    if result.error is not None:
        return TenantOutcome(meta.name, meta.display_name, selected.change, RunStatus.FAILED,
                             duration_s=result.duration_s, error=str(result.error).splitlines()[0][:500],
                             hint=getattr(result.error, "hint", ""))
    stack = result.result
    assert stack is not None
    return TenantOutcome(meta.name, meta.display_name, selected.change, RunStatus.OK, stack.counts, stack.changed,
                         result.duration_s)


def _unchanged(selected: Selected, status: RunStatus = RunStatus.UNCHANGED, error: str = "") -> TenantOutcome:
    meta = selected.doc.tenant.metadata
    return TenantOutcome(meta.name, meta.display_name, selected.change, status, error=error)


def plan(prepared: Prepared, settings: EngineSettings, *, everything: bool = False, parallel: int = 2,
         on_event: EventSink | None = None, refresh: bool = False) -> RunReport:
    """A Pulumi preview per changed tenant (all with `everything` or `refresh`); frozen tenants are previewed too.

    `refresh` previews against what the clouds hold now: what `apply --refresh` would repair.
    """
    everything = everything or refresh
    previewed = prepared.to_preview(everything)
    results = run_stacks([_job(s.doc, prepared.fleet, "preview", refresh) for s in previewed], parallel=parallel,
                         on_event=on_event, settings=settings)
    outcomes = {s.name: _outcome(s, r) for s, r in zip(previewed, results, strict=True)}
    outcomes.update(_held_back(prepared, prepared.targets(everything)))
    return _report("plan", prepared, outcomes)


def apply(prepared: Prepared, settings: EngineSettings, *, everything: bool = False, parallel: int = 2,
          on_event: EventSink | None = None, clock: type[dt.datetime] = dt.datetime, actor: str | None = None,
          ticket: str | None = None, refresh: bool = False, keep_foreign: bool = False,
          action: str = "apply", emergency: bool = False) -> RunReport:
    """Update the changed tenants' stacks concurrently; frozen tenants are refused; successes recorded; every
    tenant applied, failed or held back gets an entry in the audit trail.

    Inside a platform freeze window (platform.yaml `freezeWindows`) every change is refused, unless `emergency`
    with a `ticket` (audited as `apply.emergency`).

    `refresh` reads every resource back first, so what was changed, deleted or added by hand is repaired;
    `keep_foreign` leaves what others added to govcloud's containers (and reports it).

    Refused (InputError) while a file of the tenant set cannot be loaded: its CIDRs and interconnects are unknown,
    so a new network could be given an address it holds, or a flow it opens could be closed.
    """
    if prepared.fleet.unread:
        fleet = prepared.fleet
        raise InputError([p for p in fleet.elsewhere if p.location.file in fleet.unread] or [
            Problem(SourceLocation(label), "", "cannot be loaded", "unreadable-tenant") for label in fleet.unread])
    everything = everything or refresh
    if keep_foreign:
        settings = dataclasses.replace(settings, extra_env={**settings.extra_env, KEEP_FOREIGN_ENV: "1"})
    targets = prepared.targets(everything)
    runnable = prepared.to_apply(everything)
    frozen = {s.name for s in prepared.to_preview(everything)} - {s.name for s in runnable}
    window = freeze.decide(prepared.fleet.platform.spec.freeze_windows, clock.now(dt.UTC), emergency=emergency,
                           ticket=ticket)
    windowed, runnable = (runnable, []) if window.frozen else ([], runnable)
    action = f"{action}.emergency" if window.window is not None and window.emergency else action
    results = run_stacks([_job(s.doc, prepared.fleet, "up", refresh) for s in runnable], parallel=parallel,
                         on_event=on_event, settings=settings)
    outcomes = {s.name: _outcome(s, r) for s, r in zip(runnable, results, strict=True)}
    for selected in targets:
        if selected.name in frozen:
            outcomes[selected.name] = _unchanged(selected, RunStatus.FROZEN, "lifecycle.frozen is true: not applied")
    outcomes.update({s.name: _unchanged(s, RunStatus.FROZEN, window.reason) for s in windowed})
    outcomes.update(_held_back(prepared, targets))
    now = clock.now(dt.UTC).isoformat(timespec="seconds")
    succeeded = {s.name: applied_entry(s.doc, now) for s in runnable if outcomes[s.name].status is RunStatus.OK}
    if succeeded:  # a run that applied nothing leaves the state folder untouched
        update_record(settings.state_dir, succeeded)
    _audit(settings, [_audit_event(f"{action}.refresh" if refresh else action, selected, outcomes[selected.name],
                                   actor, ticket) for selected in targets if outcomes[selected.name].status in
                      _AUDIT_OUTCOME and (selected.change is not Change.UNCHANGED or outcomes[selected.name].resources
                                          or action != "apply")])
    return _report("apply", prepared, outcomes)


_AUDIT_OUTCOME = {RunStatus.OK: "success", RunStatus.FAILED: "failure", RunStatus.FROZEN: "refused",
                  RunStatus.BLOCKED: "refused"}


def _audit_event(action: str, selected: Selected, outcome: TenantOutcome, actor: str | None,
                 ticket: str | None) -> AuditEvent:
    """What the trail keeps of one tenant's part of a run: digests, result, resources touched (never values)."""
    doc = selected.doc
    before = selected.applied.digest if selected.applied else None
    waivers = [f"{w.get('policy')} until {w.get('expires')} ({w.get('ticket')}, {w.get('approvedBy')})"
               for w in doc.effective["spec"].get("exceptions") or []]
    detail = {"change": selected.change.value, "file": doc.label}
    if waivers:
        detail["waivers"] = "; ".join(waivers)
    if outcome.error:
        detail["error"] = outcome.error
    return AuditEvent(resolve_actor(actor), action, doc.name, _AUDIT_OUTCOME[outcome.status], before,
                      doc.digest if outcome.status is RunStatus.OK else before, ticket, _audited(outcome), detail)


def _audited(outcome: TenantOutcome) -> tuple[tuple[str, str, str], ...]:
    """(op, kind, name) of each resource changed: `Quota`, not the engine's full type token."""
    return tuple((c.op.value, c.type.rpartition(":")[2], c.name) for c in outcome.resources)


def _audit(settings: EngineSettings, events: Sequence[AuditEvent]) -> None:
    if events:
        AuditLog.at(settings.state_dir).append_many(events)


@dataclass(frozen=True)
class ImportReport:
    """What `import` made findable for the tenant's stack, and the apply that adopted it."""

    adopted: tuple[Adopted, ...]
    run: RunReport


def import_tenant(tenant: str, paths: Sequence[Path], platform: Path, policies: Path, settings: EngineSettings, *,
                  project: str | None = None, namespaces: Sequence[str] = (), actor: str | None = None,
                  ticket: str | None = None, on_event: EventSink | None = None) -> ImportReport:
    """Adopt a project and namespaces made before govcloud into `tenant`'s stack (see gcloud.live.adopt), then
    apply the tenant: what was live is updated to the file, nothing is recreated, and a second apply is a no-op."""
    from gcloud.live.adopt import prepare_namespaces, prepare_openstack  # cloud clients: only when importing

    prepared = prepare(paths, platform, policies, settings)
    selected = next((s for s in prepared.selection if s.name == tenant), None)
    if selected is None:
        raise InputError.single(tenant, f"no tenant {tenant!r} among the named tenant files", code="unknown-tenant")
    if tenant in prepared.blocked:
        raise InputError.single(selected.doc.label, "a mandatory policy fails: fix the tenant file before importing",
                                code="policy-blocked")
    adopted = prepare_openstack(selected.doc, prepared.fleet.platform_data, project) if project else []
    adopted += prepare_namespaces(selected.doc, namespaces)
    only = dataclasses.replace(prepared, selection=(selected,), orphans=())
    report = apply(only, settings, everything=True, on_event=on_event, actor=actor, ticket=ticket, action="import")
    return ImportReport(tuple(adopted), report)


def _report(operation: str, prepared: Prepared, outcomes: dict[str, TenantOutcome]) -> RunReport:
    ordered = [outcomes.get(s.name) or _unchanged(s) for s in prepared.selection]
    return RunReport(operation, tuple(ordered), prepared.orphans, prepared.policy)


def destroy(tenant: str, confirm: str, paths: Sequence[Path], platform: Path, settings: EngineSettings,
            on_event: EventSink | None = None, actor: str | None = None, ticket: str | None = None,
            purge: bool = False) -> RunReport:
    """Destroy one tenant's stack and remove it; refused while the tenant file says preventDeletion, or while
    the department's own servers, volumes, workloads... remain (deleted first with `purge`)."""
    if confirm != tenant:
        raise InputError.single("--confirm", f"must repeat the tenant id {tenant!r} exactly", code="confirm")
    record = read_record(settings.state_dir)
    fleet = load_fleet(paths, platform, record.pinned_cidrs())
    display = tenant
    try:
        doc = fleet.get(tenant)
        display = doc.tenant.metadata.display_name
        if doc.tenant.spec.lifecycle.prevent_deletion:
            raise InputError([Problem(doc.locate("spec.lifecycle.preventDeletion"), "spec.lifecycle.preventDeletion",
                                      "is true: destroy refused", "prevent-deletion",
                                      "set it to false in the tenant file (a reviewed change), then destroy")])
        clear_residue(doc.effective, fleet.platform_data, settings, purge=purge, actor=resolve_actor(actor),
                      ticket=ticket)
    except KeyError:
        if tenant not in record.tenants:
            raise InputError.single(tenant, f"no tenant file and no applied stack named {tenant!r}",
                                    code="unknown-tenant") from None
    [result] = run_stacks([StackJob(stack=tenant, operation="destroy", remove=True)], parallel=1,
                          on_event=on_event, settings=settings)
    if isinstance(result.error, StackNotFound):  # never applied, or destroyed before: nothing to do
        if tenant in record.tenants:
            update_record(settings.state_dir, {tenant: None})
        outcome = TenantOutcome(tenant, display, None, RunStatus.OK, duration_s=result.duration_s,
                                hint="no stack: nothing was provisioned")
    elif result.ok:
        update_record(settings.state_dir, {tenant: None})
        stack = result.result
        outcome = TenantOutcome(tenant, display, None, RunStatus.OK, stack.counts if stack else {},
                                stack.changed if stack else (), duration_s=result.duration_s)
    else:
        outcome = TenantOutcome(tenant, display, None, RunStatus.FAILED, duration_s=result.duration_s,
                                error=str(result.error).splitlines()[0][:500])
    previous = record.tenants.get(tenant)
    _audit(settings, [AuditEvent(
        resolve_actor(actor), "destroy", tenant, _AUDIT_OUTCOME[outcome.status], previous.digest if previous else None,
        None if outcome.status is RunStatus.OK else (previous.digest if previous else None), ticket,
        _audited(outcome), {"error": outcome.error} if outcome.error else {})])
    return RunReport("destroy", (outcome,))

