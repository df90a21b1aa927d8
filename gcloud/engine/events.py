"""Engine events -> per-resource changes and short progress lines.

The Automation API streams the engine's events (one per step, diagnostic and summary) to a callback. `Recorder`
is that callback: it keeps what each resource did (the strongest step seen: a replacement is reported once, as
`replace`) and turns events into `StackEvent`s, one short line each, for whoever shows progress. Engine
bookkeeping (the root `pulumi:pulumi:Stack`, default providers) is left out of the changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pulumi.automation import EngineEvent, StepEventMetadata

from .errors import STACK_TYPE, Diagnostic, mask, urn_parts


class ChangeOp(StrEnum):
    """What happened (or would happen, in a preview) to one resource."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    REPLACE = "replace"
    SAME = "same"
    READ = "read"


_OPS: Mapping[str, ChangeOp] = {
    "same": ChangeOp.SAME, "refresh": ChangeOp.SAME, "create": ChangeOp.CREATE, "import": ChangeOp.CREATE,
    "update": ChangeOp.UPDATE, "delete": ChangeOp.DELETE, "discard": ChangeOp.DELETE,
    "remove-pending-replace": ChangeOp.DELETE, "replace": ChangeOp.REPLACE, "create-replacement": ChangeOp.REPLACE,
    "delete-replaced": ChangeOp.REPLACE, "discard-replaced": ChangeOp.REPLACE, "import-replacement": ChangeOp.REPLACE,
    "read": ChangeOp.READ, "read-replacement": ChangeOp.READ,
}
_RANK: Mapping[ChangeOp, int] = {ChangeOp.SAME: 0, ChangeOp.READ: 1, ChangeOp.UPDATE: 2, ChangeOp.CREATE: 2,
                                 ChangeOp.DELETE: 2, ChangeOp.REPLACE: 3}


@dataclass(frozen=True)
class FieldChange:
    """One leaf value a refresh found changed: what the state holds (`want`, as last applied) and what is live."""

    path: str
    want: Any
    live: Any


@dataclass(frozen=True)
class ResourceChange:
    """One resource's step: `keys` are the changed top-level properties when the engine (or the inputs) say.

    A refresh also gives `fields` (each changed leaf, want and live) and `foreign` (the members of a container
    resource that govcloud did not create, as its provider's read reports them).
    """

    urn: str
    type: str
    name: str
    op: ChangeOp
    keys: tuple[str, ...] = ()
    fields: tuple[FieldChange, ...] = ()
    foreign: tuple[Mapping[str, Any], ...] = ()


class EventKind(StrEnum):
    START = "start"
    STEP = "step"
    DIAGNOSTIC = "diagnostic"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class StackEvent:
    """One progress line of one stack (picklable: the runner sends these from worker processes)."""

    stack: str
    kind: EventKind
    message: str
    urn: str = ""
    op: str = ""

    def __str__(self) -> str:
        return f"{self.stack}: {self.message}"


EventSink = Callable[[StackEvent], None]
"""Receives progress events; called from the engine's event thread, so keep it quick."""


def is_bookkeeping(resource_type: str) -> bool:
    """The stack root and provider instances: engine plumbing, not something a tenant owns."""
    return resource_type == STACK_TYPE or resource_type.startswith("pulumi:providers:")


class Recorder:
    """The Automation API's `on_event` callback for one operation on one stack."""

    def __init__(self, stack: str, operation: str, sink: EventSink | None, secrets: Iterable[str] = (),
                 *, preview: bool = False) -> None:
        self.stack = stack
        self.operation = operation
        self.preview = preview
        self._sink = sink
        self._secrets = tuple(secrets)
        self._lock = threading.Lock()
        self._changes: dict[str, ResourceChange] = {}
        self._announced: set[str] = set()
        self.diagnostics: list[Diagnostic] = []
        self.stack_outputs: dict[str, Any] | None = None
        """The stack's outputs as the engine reported them at the end of the run (secrets as "[secret]")."""

    def emit(self, kind: EventKind, message: str, urn: str = "", op: str = "") -> None:
        if self._sink is not None:
            self._sink(StackEvent(self.stack, kind, mask(message, self._secrets), urn, op))

    def __call__(self, event: EngineEvent) -> None:
        if event.resource_pre_event is not None:
            self._step(event.resource_pre_event.metadata)
        elif event.res_outputs_event is not None:
            self._step(event.res_outputs_event.metadata)
        elif event.res_op_failed_event is not None:
            meta = event.res_op_failed_event.metadata
            self.emit(EventKind.FAILED, f"{meta.op.value} {urn_parts(meta.urn)[1]} failed", meta.urn, meta.op.value)
        elif event.diagnostic_event is not None:
            self._diagnostic(event.diagnostic_event.severity, event.diagnostic_event.message,
                             event.diagnostic_event.urn or "")

    def changes(self) -> tuple[ResourceChange, ...]:
        with self._lock:
            return tuple(self._changes.values())

    def _step(self, meta: StepEventMetadata) -> None:
        kind, name = urn_parts(meta.urn)
        if (kind or meta.type) == STACK_TYPE and meta.new is not None and meta.new.outputs is not None:
            with self._lock:
                self.stack_outputs = dict(meta.new.outputs)
        if is_bookkeeping(kind or meta.type):
            return
        op = _OPS.get(meta.op.value, ChangeOp.UPDATE)
        refresh = self.operation == "refresh"
        keys = _changed_keys(meta, compare_outputs=refresh)
        fields, foreign = (_field_changes(meta, self._secrets), _foreign(meta)) if refresh else ((), ())
        with self._lock:
            known = self._changes.get(meta.urn)
            if known is not None and _RANK[known.op] > _RANK[op]:
                op = known.op
            if known is not None:
                keys = tuple(dict.fromkeys((*known.keys, *keys)))
                fields, foreign = fields or known.fields, foreign or known.foreign
            self._changes[meta.urn] = ResourceChange(meta.urn, meta.type, name, op, keys, fields, foreign)
            announce = op is not ChangeOp.SAME and meta.urn not in self._announced
            if announce:
                self._announced.add(meta.urn)
        if announce:
            verb = f"would {op.value}" if self.preview else op.value
            detail = f" [{', '.join(keys)}]" if keys else ""
            self.emit(EventKind.STEP, f"{verb} {name} ({meta.type}){detail}", meta.urn, op.value)

    def _diagnostic(self, severity: str, message: str, urn: str) -> None:
        if severity not in ("error", "warning"):
            return
        text = message.strip()
        if severity == "error":
            self.diagnostics.append(Diagnostic(urn, mask(text, self._secrets), severity))
        where = f"{urn_parts(urn)[1]}: " if urn else ""
        self.emit(EventKind.DIAGNOSTIC, f"{severity}: {where}{text}", urn)


def _changed_keys(meta: StepEventMetadata, *, compare_outputs: bool) -> tuple[str, ...]:
    """The engine's diff keys; failing those, the top-level inputs (for refresh: outputs) that differ."""
    said = meta.diffs or meta.keys
    if said:
        return tuple(said)
    if meta.old is None or meta.new is None or meta.op.value == "same":
        return ()
    old: Mapping[str, Any] = (meta.old.outputs if compare_outputs else meta.old.inputs) or {}
    new: Mapping[str, Any] = (meta.new.outputs if compare_outputs else meta.new.inputs) or {}
    return tuple(sorted(k for k in {*old, *new} if not k.startswith("__") and old.get(k) != new.get(k)))


FOREIGN_KEY = "foreign"
"""The output where container providers report members govcloud did not create (gcloud.providers.base.FOREIGN)."""


def _foreign(meta: StepEventMetadata) -> tuple[Mapping[str, Any], ...]:
    outputs = (meta.new.outputs if meta.new is not None else None) or {}
    found = outputs.get(FOREIGN_KEY) or []
    return tuple(item for item in found if isinstance(item, Mapping))


def _field_changes(meta: StepEventMetadata, secrets: Iterable[str]) -> tuple[FieldChange, ...]:
    """Every leaf that differs between the state (old outputs) and the refreshed object (new outputs)."""
    if meta.old is None or meta.new is None:
        return ()
    old = {k: v for k, v in (meta.old.outputs or {}).items() if not k.startswith("__") and k != FOREIGN_KEY}
    new = {k: v for k, v in (meta.new.outputs or {}).items() if not k.startswith("__") and k != FOREIGN_KEY}
    found: list[FieldChange] = []
    _walk("", old, new, found)
    hidden = tuple(secrets)
    return tuple(FieldChange(change.path, _masked(change.want, hidden), _masked(change.live, hidden))
                 for change in found)


MISSING = "(absent)"


def _walk(path: str, want: Any, live: Any, found: list[FieldChange]) -> None:
    if isinstance(want, Mapping) and isinstance(live, Mapping):
        for key in sorted({*want, *live}, key=str):
            _walk(f"{path}.{key}" if path else str(key), want.get(key, MISSING), live.get(key, MISSING), found)
    elif want != live:
        found.append(FieldChange(path, want, live))


def _masked(value: Any, secrets: tuple[str, ...]) -> Any:
    return mask(value, secrets) if isinstance(value, str) else value
