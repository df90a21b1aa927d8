"""One Pulumi stack per tenant, driven through the Automation API with an inline program.

`TenantStack(name, program, settings)` wraps the project `govcloud`'s stack `name` (the tenant id): `preview`,
`up`, `refresh` (preview-only by default: drift detection), `destroy`, `remove`, `outputs` and config. Each
operation returns a `StackResult` (per-resource changes, outputs with secrets masked, duration) or raises one of
the typed errors of `gcloud.engine.errors`. Inline programs share the Pulumi runtime's global state: run one
operation at a time per process, and several stacks at once through `gcloud.engine.runner`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from pulumi.automation import (
    CommandError,
    ConfigValue,
    LocalWorkspace,
    OutputMap,
    OutputValue,
    Stack,
    UpdateSummary,
)

from .errors import MASK, EngineError, EngineFailure, StackNotFound, classify_failure
from .events import ChangeOp, EventKind, EventSink, Recorder, ResourceChange
from .recovery import recover, repair_files
from .sdk import SECRET_KEY, SECRET_SIGNATURE, StackInitMode, check_sdk, pulumi_command
from .settings import PROJECT, EngineSettings

ProgramFn = Callable[[], None]
"""An inline Pulumi program: registers resources when called inside the engine's run."""

T = TypeVar("T")


class Operation(StrEnum):
    PREVIEW = "preview"
    UP = "up"
    REFRESH = "refresh"
    DESTROY = "destroy"


@dataclass(frozen=True)
class StackResult:
    """What one operation did (or, for previews, would do) to one stack."""

    stack: str
    operation: Operation
    changes: tuple[ResourceChange, ...]
    outputs: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    preview: bool = False

    @property
    def counts(self) -> dict[str, int]:
        """Resources per operation, e.g. {"create": 2, "same": 5}."""
        return dict(Counter(change.op.value for change in self.changes))

    @property
    def changed(self) -> tuple[ResourceChange, ...]:
        """The resources that are (or would be) created, updated, replaced or deleted."""
        return tuple(c for c in self.changes if c.op not in (ChangeOp.SAME, ChangeOp.READ))

    @property
    def has_changes(self) -> bool:
        return bool(self.changed)

    def summary(self) -> str:
        """`3 create, 1 update (4.2s)` or `no changes (1.0s)`."""
        counts = Counter(change.op.value for change in self.changed)
        text = ", ".join(f"{n} {op}" for op, n in sorted(counts.items())) or "no changes"
        return f"{text} ({self.duration_s:.1f}s)"


def _noop_program() -> None:
    """The program handed to operations that do not run one (destroy, refresh, remove)."""


class _EventFedStack(Stack):
    """A Stack that answers the Automation API's after-run look-ups from the run's own events.

    After every operation the SDK runs `pulumi stack output` twice and `pulumi stack history` once, each a fresh
    engine process that decrypts the state (about 0.5 CPU-s per stack in all): the outputs are already in the
    engine's event stream, and the summary is unused here.
    """

    recorder: Recorder | None = None

    def outputs(self) -> OutputMap:
        reported = self.recorder.stack_outputs if self.recorder is not None else None
        if reported is None:
            return super().outputs()
        return {key: _output_value(value) for key, value in reported.items()}

    def info(self, show_secrets: bool = True) -> UpdateSummary | None:
        if self.recorder is None:
            return super().info(show_secrets)
        now = datetime.now(UTC)
        return UpdateSummary(kind=self.recorder.operation, start_time=now, end_time=now, message="", environment={},
                             config={}, result="succeeded")


class TenantStack:
    """One tenant's stack; `secrets` are values masked from every message (config secrets are added)."""

    def __init__(self, name: str, program: ProgramFn | None, settings: EngineSettings, *,
                 on_event: EventSink | None = None, secrets: Iterable[str] = ()) -> None:
        self.name = name
        self.settings = settings
        self._program = program or _noop_program
        self._on_event = on_event
        self._secrets = [s for s in secrets if s]
        self._stack: _EventFedStack | None = None

    # --- operations -------------------------------------------------------------------------------------------

    def preview(self, *, refresh: bool = False) -> StackResult:
        """What `up` would change; nothing is touched. `refresh`: against what the clouds hold now, not the state."""
        return self._operate(Operation.PREVIEW, True,
                             lambda s, r: s.preview(on_event=r, color="never", refresh=refresh or None))

    def up(self, *, refresh: bool = False) -> StackResult:
        """Create, update or delete resources so the stack matches the program; `refresh` first reads every resource
        back, so what was changed or deleted by hand is repaired too."""
        return self._operate(Operation.UP, False,
                             lambda s, r: s.up(on_event=r, color="never", show_secrets=False, suppress_outputs=True,
                                               refresh=refresh or None))

    def refresh(self, *, preview_only: bool = True) -> StackResult:
        """Read every resource back from its cloud; preview_only (the default) reports drift without saving it.

        StackNotFound when the stack does not exist (nothing was ever applied).
        """
        if preview_only:
            return self._operate(Operation.REFRESH, True, lambda s, r: s.preview_refresh(on_event=r, color="never"),
                                 create=False)
        return self._operate(Operation.REFRESH, False,
                             lambda s, r: s.refresh(on_event=r, color="never", show_secrets=False), create=False)

    def destroy(self) -> StackResult:
        """Delete every resource of the stack (the stack itself stays; see `remove`); StackNotFound if absent."""
        return self._operate(Operation.DESTROY, False,
                             lambda s, r: s.destroy(on_event=r, color="never", show_secrets=False), create=False)

    def remove(self) -> None:
        """Remove the (emptied) stack and its config from the backend and the workspace; absent is fine."""
        try:
            workspace = self._select(create=False).workspace
        except StackNotFound:
            return
        self._call("remove", lambda: workspace.remove_stack(self.name))
        self._stack = None

    def exists(self) -> bool:
        """Whether the backend has this stack (never creates it)."""
        try:
            self._select(create=False)
        except StackNotFound:
            return False
        return True

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs, secret ones masked; StackNotFound when there is no such stack."""
        return self._call("outputs", lambda: _masked(self._select(create=False).outputs()))

    # --- config -----------------------------------------------------------------------------------------------

    def apply_config(self, plain: Mapping[str, str], secret: Mapping[str, str] | None = None) -> None:
        """Make the stack's config exactly `plain` + `secret` (keys absent from both are removed)."""
        secret = secret or {}
        self._secrets.extend(v for v in secret.values() if v)
        wanted = {k: ConfigValue(v) for k, v in plain.items()} | {k: ConfigValue(v, True) for k, v in secret.items()}

        def apply() -> None:
            stack = self._select()
            prefix = f"{PROJECT}:"
            stale = [k.removeprefix(prefix) for k in stack.get_all_config()
                     if k.startswith(prefix) and k.removeprefix(prefix) not in wanted]
            if stale:
                stack.remove_all_config(stale)
            if wanted:
                stack.set_all_config(wanted)

        self._call("config", apply)

    # --- plumbing ---------------------------------------------------------------------------------------------

    def _operate(self, operation: Operation, preview: bool, run: Callable[[Stack, Recorder], Any], *,
                 create: bool = True) -> StackResult:
        """Run one engine operation with a fresh Recorder; `create`: a missing stack is created (preview, up)."""
        recorder = Recorder(self.name, operation.value, self._on_event, self._secrets, preview=preview)
        what = f"{operation.value} (preview)" if preview and operation is not Operation.PREVIEW else operation.value
        recorder.emit(EventKind.START, f"{what} started")
        started = time.monotonic()
        stack: _EventFedStack | None = None
        try:
            repair_files(self.settings, self.name, lambda line: recorder.emit(EventKind.DIAGNOSTIC, line))
            stack = self._select(create=create)
            stack.recorder = recorder
            if not preview:  # what a killed run left (its lock, pending steps): cleared, or refused saying why
                recover(stack, self.settings, lambda line: recorder.emit(EventKind.DIAGNOSTIC, line), operation=what)
            outcome = run(stack, recorder)
        except (CommandError, EngineError) as err:
            error = err if isinstance(err, EngineError) else self._classify(operation.value, str(err), recorder)
            recorder.emit(EventKind.FAILED, f"{what} failed: {error.message}")
            raise error from None
        finally:
            if stack is not None:
                stack.recorder = None  # later look-ups (outputs()) ask the engine again
        outputs = _masked(getattr(outcome, "outputs", None) or {})
        result = StackResult(self.name, operation, recorder.changes(), outputs, time.monotonic() - started, preview)
        recorder.emit(EventKind.DONE, f"{what}: {result.summary()}")
        return result

    def _call(self, what: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except CommandError as err:
            raise self._classify(what, str(err), None) from None

    def _classify(self, operation: str, text: str, recorder: Recorder | None) -> EngineError:
        stdout, _, stderr = text.partition("\n stderr: ")
        return classify_failure(stdout, stderr, stack=self.name, operation=operation,
                        diagnostics=recorder.diagnostics if recorder else (), secrets=self._secrets)

    def _select(self, *, create: bool = True) -> _EventFedStack:
        if self._stack is None:
            mode = StackInitMode.CREATE_OR_SELECT if create else StackInitMode.SELECT
            try:
                self._stack = _EventFedStack(self.name, workspace(self.settings, self._program), mode)
            except CommandError as err:
                raise self._classify("select", str(err), None) from None
            except (OSError, ValueError) as err:
                raise EngineFailure(f"cannot start the engine: {err}", stack=self.name, operation="select") from None
        return self._stack


def workspace(settings: EngineSettings, program: ProgramFn | None = None) -> LocalWorkspace:
    """The project's workspace under the state folder, running the pinned engine with govcloud's environment."""
    check_sdk()
    settings.prepare()
    command = pulumi_command(str(settings.toolchain.pulumi), settings.toolchain.version)
    return LocalWorkspace(work_dir=str(settings.work_dir), pulumi_home=str(settings.pulumi_home), program=program,
                          env_vars=settings.env(), pulumi_command=command)


def list_stacks(settings: EngineSettings) -> list[str]:
    """Names of the project's stacks in the backend (tenant ids)."""
    try:
        return sorted(summary.name for summary in workspace(settings).list_stacks())
    except CommandError as err:
        stdout, _, stderr = str(err).partition("\n stderr: ")
        raise classify_failure(stdout, stderr, operation="list") from None


def _output_value(value: Any) -> OutputValue:
    """An output as the events carry it: secret when it, or anything inside it, is marked secret (then masked)."""
    return OutputValue(*_unmarked(value))


def _unmarked(value: Any) -> tuple[Any, bool]:
    """(value with every secret replaced by MASK, whether there was one); events mark secrets as the wire does."""
    if isinstance(value, dict):
        if value.get(SECRET_KEY) == SECRET_SIGNATURE:
            return MASK, True
        inner = {key: _unmarked(item) for key, item in value.items()}
        return {key: item for key, (item, _) in inner.items()}, any(secret for _, secret in inner.values())
    if isinstance(value, list):
        items = [_unmarked(item) for item in value]
        return [item for item, _ in items], any(secret for _, secret in items)
    return value, False


def _masked(outputs: OutputMap | Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in outputs.items():
        secret = getattr(value, "secret", False)
        result[key] = MASK if secret else getattr(value, "value", value)
    return result

