"""What a killed run leaves in a stack's state, found and cleared by govcloud before the next operation.

A run killed with SIGKILL (a cancelled CI job, an OOM kill, a reboot) leaves two things in the file backend:
- the stack's **lock**, `<state>/.pulumi/locks/organization/govcloud/<stack>/<id>.json` (`{"pid", "username",
  "hostname", "timestamp"}` of the engine process that held it), which refuses every later update;
- **pending operations** in the stack's checkpoint: the resource steps the engine had begun and not finished.
  The engine only warns about them and leaves them in the state for a person to judge.

A user should never need `pulumi cancel` or `pulumi stack export` for either (which backend, which folder,
which passphrase). So before a changing operation (`recover`):
- a lock whose engine process is gone *from this host* is removed, with a message naming it. A live one, or
  one of another host (whose processes cannot be seen from here), is never touched: the operation is refused
  as `ConcurrentUpdate` naming its holder (user@host, pid, since when) and, for another host, the one command
  that removes it once that run is known to be over;
- pending operations are decided one by one and dropped from the state (exported and imported through the
  Automation API): a pending create of a govcloud resource is safe to drop because the providers' create is
  find-or-create (`gcloud.providers.openstack.ensure`, server-side apply for Kubernetes), so the next `up`
  adopts an object that was made but not recorded instead of duplicating it; an update is re-done, a delete
  re-tried (a missing object counts as deleted). Any other resource type cannot be decided here: the operation
  is refused with the one command that clears it after a look.

Both checks read the backend's files first (no engine process, a few stat calls), so a healthy stack pays
nothing. Buckets (`PULUMI_BACKEND_URL=s3://...`) are left to the engine's own messages.

One more thing a kill can leave, found by the kill soak: the file backend (gocloud's fileblob) writes a blob's
`.attrs` sidecar in place (not through a rename, as it does the data), so a kill in that instant leaves it empty
and every later command on the stack fails at `select` with "failed to load checkpoint: EOF". `repair_files`,
run before the stack is selected, removes such a sidecar (fileblob reads a missing one as "no attributes") and
the half-written `*.tmp` data files next to it, only while no live run holds the stack.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import shlex
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.automation import Deployment, Stack

from gcloud.state.backend import is_postgres
from gcloud.state.locks import pid_running_pulumi

from .errors import ConcurrentUpdate, EngineFailure
from .settings import PASSPHRASE_FILE, PROJECT, EngineSettings

Notify = Callable[[str], None]
"""Where recovery says what it did (the operation's event stream)."""

BOOKKEEPING = ".pulumi"
OUR_TYPES = ("pulumi-python:dynamic/govcloud-", "pulumi:providers:", "govcloud:tenant:", "pulumi:pulumi:Stack")
"""Resource types whose pending steps govcloud can decide: its dynamic providers (find-or-create), provider
resources (their "create" only checks configuration), and the logical ones that make nothing in a cloud: the
stack itself and the program's component resources (`govcloud:tenant:OpenStackTenant`, found by the kill soak)."""
_ACTIONS = {
    "creating": "adopted by the next create if the object exists, created otherwise",
    "updating": "updated again by the next apply",
    "deleting": "deleted again (an object already gone counts as deleted)",
    "reading": "read again",
    "importing": "imported again",
}


@dataclass(frozen=True)
class StackLock:
    """One lock file of the file backend and the engine process it names."""

    path: Path
    pid: int
    user: str
    host: str
    since: str

    @property
    def holder(self) -> str:
        """`root@vm, pid 12907, since 2026-11-25T10:02:11Z`: who to ask, or what to look for."""
        return f"{self.user}@{self.host}, pid {self.pid}, since {self.since}"

    @property
    def here(self) -> bool:
        return self.host == socket.gethostname()

    def owner_alive(self) -> bool:
        """Whether the engine process that took the lock still runs (on this host; another host's: assumed)."""
        return not self.here or pid_running_pulumi(self.pid)


@dataclass(frozen=True)
class PendingStep:
    """A resource step a killed engine had begun, and what the next apply does about it."""

    urn: str
    type: str
    operation: str

    @property
    def decidable(self) -> bool:
        return self.type.startswith(OUR_TYPES) and self.operation in _ACTIONS

    @property
    def action(self) -> str:
        return _ACTIONS.get(self.operation, "unknown")

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def stack_locks(settings: EngineSettings, stack: str) -> list[StackLock]:
    """The lock files of a stack in the file backend (none for a bucket backend)."""
    root = settings.backend_dir
    if root is None:
        return []
    locks: list[StackLock] = []
    for path in sorted((root / BOOKKEEPING / "locks").glob(f"*/{PROJECT}/{stack}/*.json")):
        try:
            data: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        locks.append(StackLock(path, int(data.get("pid") or 0), str(data.get("username") or "?"),
                               str(data.get("hostname") or "?"), str(data.get("timestamp") or "?")))
    return locks


def pending_steps(settings: EngineSettings, stack: str) -> list[PendingStep]:
    """Pending operations recorded in the stack's checkpoint file (read directly: no engine process)."""
    root = settings.backend_dir
    if root is None:
        return []
    folder = root / BOOKKEEPING / "stacks" / PROJECT
    for path in (folder / f"{stack}.json", folder / f"{stack}.json.gz"):
        if not path.is_file():
            continue
        try:
            raw = path.read_bytes()
            document = json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)
        except (OSError, ValueError):
            return []  # unreadable: the engine's own error will say so
        latest = (document.get("checkpoint") or {}).get("latest") or {}
        return _steps(latest.get("pending_operations") or [])
    return []


def _steps(pending: Sequence[Mapping[str, Any]]) -> list[PendingStep]:
    return [PendingStep(str(item.get("resource", {}).get("urn", "")), str(item.get("resource", {}).get("type", "")),
                        str(item.get("type", ""))) for item in pending]


def repair_files(settings: EngineSettings, stack: str, notify: Notify) -> None:
    """Before the stack is selected: remove the empty or unreadable `.attrs` sidecars and the `*.tmp` files a
    killed write left beside the stack's checkpoint (never while a live run holds the stack: it may be writing)."""
    root = settings.backend_dir
    if root is None or any(lock.owner_alive() for lock in stack_locks(settings, stack)):
        return
    folder = root / BOOKKEEPING / "stacks" / PROJECT
    for path in sorted(folder.glob(f"{stack}.json*")):
        if path.name.endswith(".tmp"):
            broken = True
        elif path.name.endswith(".attrs"):
            try:
                json.loads(path.read_bytes())
                broken = False
            except (OSError, ValueError):
                broken = True
        else:
            continue
        if broken:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            notify(f"removed {path.name}: a killed run left it half-written beside the state (the state is whole)")


def recover(stack: Stack, settings: EngineSettings, notify: Notify, *, operation: str) -> None:
    """Before a changing operation: clear what a dead run left (locks, pending steps), or refuse saying why."""
    name = stack.name
    if is_postgres(settings.backend_url):
        _clear_shared_locks(settings.backend_url, name, notify, operation)
    held: list[StackLock] = []
    for lock in stack_locks(settings, name):
        if lock.owner_alive():
            held.append(lock)
            continue
        with contextlib.suppress(FileNotFoundError):
            lock.path.unlink()
        with contextlib.suppress(FileNotFoundError):
            lock.path.with_name(lock.path.name + ".attrs").unlink()
        notify(f"removed the lock a dead run left ({lock.holder}: that process is gone from this host)")
    if held:
        raise lock_refusal(name, operation, held)
    steps = pending_steps(settings, name)
    if not steps:
        return
    undecided = [step for step in steps if not step.decidable]
    if undecided:
        listed = ", ".join(f"{s.operation} {s.name} ({s.type})" for s in undecided)
        raise EngineFailure(
            f"a killed run left steps govcloud cannot judge: {listed}",
            hint=f"check those objects in the cloud, then run: {clear_pending_command(settings, name)}",
            stack=name, operation=operation)
    _drop_pending(stack)
    for step in steps:
        notify(f"a killed run left {step.operation} {step.name}: cleared from the state; {step.action}")


def _clear_shared_locks(url: str, stack: str, notify: Notify, operation: str) -> None:
    """The shared PostgreSQL backend's lock rows of the stack: a dead run's (same host, engine gone) removed and
    said; a live one, or another host's, refused with the one command that clears it once that run is over."""
    from gcloud.state.locks import clear_stale

    report = clear_stale(url, [stack])
    for lock in report.cleared:
        notify(f"removed the lock a dead run left ({lock.holder}: that process is gone from this host)")
    if report.kept:
        lock = report.kept[0]
        raise ConcurrentUpdate(f"stack {stack} is being updated by another run (locked by {lock.holder})",
                               hint=f"once that run is over (another host's cannot be seen from here): "
                                    f"{lock.clear_command}", stack=stack, operation=operation)


def _drop_pending(stack: Stack) -> None:
    """Export the state, empty its pending operations, import it back (the engine checks it on import)."""
    exported = stack.export_stack()
    deployment = dict(exported.deployment or {})
    deployment["pending_operations"] = []
    stack.import_stack(Deployment(version=exported.version, deployment=deployment))


def lock_refusal(stack: str, operation: str, held: Sequence[StackLock]) -> ConcurrentUpdate:
    """The refusal for a stack another live run holds: who, since when, and what to do."""
    lock = held[0]
    if lock.here:
        hint = f"another govcloud run on this host holds {stack} (process {lock.pid} is running): let it finish"
    else:
        hint = (f"a run on {lock.host} holds it; once that run is over (it cannot be seen from here), remove its "
                f"lock: rm {shlex.quote(str(lock.path))}")
    return ConcurrentUpdate(f"stack {stack} is being updated by another run (locked by {lock.holder})",
                            hint=hint, stack=stack, operation=operation)


def clear_pending_command(settings: EngineSettings, stack: str) -> str:
    """The one engine command that drops a stack's pending creates, with govcloud's backend and passphrase."""
    env = [f"PULUMI_BACKEND_URL={shlex.quote(settings.backend_url)}",
           f"PULUMI_HOME={shlex.quote(str(settings.pulumi_home))}"]
    source = settings.passphrase.source
    if source.startswith(PASSPHRASE_FILE):
        env.append(shlex.quote(source))
    pulumi = shlex.quote(str(settings.toolchain.pulumi))
    return (f"cd {shlex.quote(str(settings.work_dir))} && {' '.join(env)} {pulumi} refresh --yes "
            f"--clear-pending-creates --stack {shlex.quote(stack)}")
