"""plan / apply / destroy over a tenant set: gate on policy, pick the tenants, run their stacks, record.

The order is the product's promise: files are validated and every mandatory policy passes *before* any engine
or cloud call; then only tenants whose effective spec changed since their last successful apply are touched
(unless asked for all); each tenant's stack runs in its own process so one failure never stops or corrupts the
others; a success is recorded (digest + pinned CIDRs) only after the engine says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from gcloud.engine.errors import StackNotFound
from gcloud.engine.events import EventSink, ResourceChange
from gcloud.engine.runner import JobResult, StackJob, run_stacks
from gcloud.engine.settings import EngineSettings
from gcloud.errors import GovcloudError, InputError, Problem, SourceLocation
from gcloud.model import Fleet, TenantDocument, load_fleet
from gcloud.policy.check import check_fleet
from gcloud.policy.finding import CheckResult
from gcloud.policy.loader import load_policies

from .record import read_record, update_record
from .select import Change, Selected, applied_entry, changes_since, orphans

PROGRAM = "gcloud.stacks.program:build"


class PolicyBlocked(GovcloudError):
    """A mandatory policy failed: nothing was previewed or changed."""

    def __init__(self, check: CheckResult) -> None:
        self.check = check
        blocking = [f for f in check.findings if f.blocking]
        super().__init__(f"{len(blocking)} mandatory policy violation(s); nothing was changed")


class RunStatus(StrEnum):
    """How one tenant's part of a run ended."""

    OK = "ok"
    FAILED = "failed"
    FROZEN = "frozen"
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
    def held_back(self) -> bool:
        """A frozen tenant's file changed but the cloud was left as it was: a script must not read that as done."""
        return any(outcome.status is RunStatus.FROZEN and outcome.change is not Change.UNCHANGED
                   for outcome in self.outcomes)


@dataclass(frozen=True)
class Prepared:
    """A fleet that passed validation and policy, with each tenant's change since its last apply."""

    fleet: Fleet
    selection: tuple[Selected, ...]
    orphans: tuple[str, ...]
    policy: CheckResult

    def targets(self, everything: bool) -> list[Selected]:
        """The tenants a run previews or applies: the changed ones, or all named ones with `everything`."""
        return [s for s in self.selection if everything or s.change is not Change.UNCHANGED]

    def to_apply(self, everything: bool) -> list[Selected]:
        """The targets apply really changes: frozen tenants are previewed, never applied."""
        return [s for s in self.targets(everything) if not s.doc.tenant.spec.lifecycle.frozen]


def prepare(paths: Sequence[Path], platform: Path, policies: Path, settings: EngineSettings,
            today: dt.date | None = None) -> Prepared:
    """Validate, check policy (raising PolicyBlocked on a mandatory violation), classify changes."""
    record = read_record(settings.state_dir)
    fleet = load_fleet(paths, platform, record.pinned_cidrs())
    check = check_fleet(fleet, load_policies(policies), today or dt.date.today())
    if check.failed:
        raise PolicyBlocked(check)
    return Prepared(fleet, tuple(changes_since(fleet, record)), tuple(orphans(fleet, record)), check)


def _job(doc: TenantDocument, fleet: Fleet, operation: str) -> StackJob:
    return StackJob(stack=doc.name, operation=operation, program=PROGRAM,
                    args={"effective": doc.effective, "platform": fleet.platform_data})


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
         on_event: EventSink | None = None) -> RunReport:
    """A Pulumi preview per changed tenant (all with `everything`); frozen tenants are previewed too."""
    targets = prepared.targets(everything)
    results = run_stacks([_job(s.doc, prepared.fleet, "preview") for s in targets], parallel=parallel,
                         on_event=on_event, settings=settings)
    outcomes = {s.name: _outcome(s, r) for s, r in zip(targets, results, strict=True)}
    return _report("plan", prepared, outcomes)


def apply(prepared: Prepared, settings: EngineSettings, *, everything: bool = False, parallel: int = 2,
          on_event: EventSink | None = None, clock: type[dt.datetime] = dt.datetime) -> RunReport:
    """Update the changed tenants' stacks concurrently; frozen tenants are refused; successes recorded.

    Refused (InputError) while a file of the tenant set cannot be loaded: its CIDRs and interconnects are unknown,
    so a new network could be given an address it holds, or a flow it opens could be closed.
    """
    if prepared.fleet.unread:
        fleet = prepared.fleet
        raise InputError([p for p in fleet.elsewhere if p.location.file in fleet.unread] or [
            Problem(SourceLocation(label), "", "cannot be loaded", "unreadable-tenant") for label in fleet.unread])
    targets = prepared.targets(everything)
    runnable = prepared.to_apply(everything)
    frozen = {s.name for s in targets} - {s.name for s in runnable}
    results = run_stacks([_job(s.doc, prepared.fleet, "up") for s in runnable], parallel=parallel,
                         on_event=on_event, settings=settings)
    outcomes = {s.name: _outcome(s, r) for s, r in zip(runnable, results, strict=True)}
    for selected in targets:
        if selected.name in frozen:
            outcomes[selected.name] = _unchanged(selected, RunStatus.FROZEN, "lifecycle.frozen is true: not applied")
    now = clock.now(dt.UTC).isoformat(timespec="seconds")
    succeeded = {s.name: applied_entry(s.doc, now) for s in runnable if outcomes[s.name].status is RunStatus.OK}
    if succeeded:  # a run that applied nothing leaves the state folder untouched
        update_record(settings.state_dir, succeeded)
    return _report("apply", prepared, outcomes)


def _report(operation: str, prepared: Prepared, outcomes: dict[str, TenantOutcome]) -> RunReport:
    ordered = [outcomes.get(s.name) or _unchanged(s) for s in prepared.selection]
    return RunReport(operation, tuple(ordered), prepared.orphans, prepared.policy)


def destroy(tenant: str, confirm: str, paths: Sequence[Path], platform: Path, settings: EngineSettings,
            on_event: EventSink | None = None) -> RunReport:
    """Destroy one tenant's stack and remove it; refused while the tenant file says preventDeletion."""
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
        counts = stack.counts if stack else {}
        outcome = TenantOutcome(tenant, display, None, RunStatus.OK, counts, duration_s=result.duration_s)
    else:
        outcome = TenantOutcome(tenant, display, None, RunStatus.FAILED, duration_s=result.duration_s,
                                error=str(result.error).splitlines()[0][:500])
    return RunReport("destroy", (outcome,))

