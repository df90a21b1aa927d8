"""Run operations on several stacks at once, each in its own process.

Why processes: an inline Pulumi program runs inside the Python process that drives the engine, and the Pulumi
runtime keeps global state there, so two stacks cannot run in one process at the same time. Each job gets a fresh
process (no state leaks from one tenant's program to the next, and a crash — even a killed worker — fails that job
only). Jobs on the same stack are never run at the same time: they run in the order given.

Why forks of pre-warmed parents: starting Python and importing the engine SDK and the program costs a worker
about 0.4 CPU-s, and the dynamic-provider process the engine starts for each stack about 1.2 CPU-s more; on a
small machine that, not the clouds, bounds how many tenants an apply gets through. Workers are forked by
multiprocessing's `forkserver` (which imported the SDK and the program modules once and never runs a job), and
providers by a `gcloud.engine.provider_host.ProviderHost` kept for the run.

Interface::

    from gcloud.engine.runner import StackJob, run_stacks

    jobs = [
        StackJob(stack="dept-finance", operation="up",
                 program="gcloud.stacks.tenant:program",      # importable "module:factory" (or "module.factory")
                 args={"spec": {...}},                         # JSON-able keyword arguments for the factory
                 config={"region": "gov-east"},                # plain stack config (None: leave config as it is)
                 secrets={"adminPassword": "..."}),            # secret stack config, stored encrypted, never shown
        StackJob(stack="dept-health", operation="preview", program="gcloud.stacks.tenant:program", args={...}),
        StackJob(stack="dept-old", operation="destroy", remove=True),  # no program needed to destroy/refresh
    ]
    results = run_stacks(jobs, parallel=4, on_event=lambda event: print(event))   # settings: from the environment

* The factory is called in the worker as `factory(**args)` and must return the inline program (a callable with no
  arguments that registers resources). Only the dotted path and JSON-able args cross the process boundary.
* `config`/`secrets`: when either is given, the stack's config becomes exactly their union (other keys are removed);
  the program reads them with `pulumi.Config()`. Secret values are masked out of every event and error.
* Operations: `preview`, `up`, `refresh` (`preview_only=True` by default: drift is reported, state not changed),
  `destroy` (with `remove=True` the emptied stack is removed too).
* `on_event` receives `StackEvent`s (stack, kind, message; `str(event)` is one line) in the calling process, on the
  calling thread, while the jobs run.
* The result is one `JobResult` per job, in the order of `jobs`: `ok`, `result` (a `StackResult`: per-resource
  changes, outputs with secrets masked, duration) or `error` (a typed `gcloud.engine.errors.EngineError`, e.g.
  `ConcurrentUpdate`, `ProviderFailure`). One job failing never stops the others; `run_stacks` itself raises only
  for problems common to all jobs (engine or passphrase missing), before any job starts.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import multiprocessing
import os
import queue as queue_module
import select
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from gcloud.errors import GovcloudError

from .errors import EngineFailure, ProgramFailure
from .events import EventKind, EventSink, StackEvent
from .provider_host import ProviderHost
from .settings import EngineSettings
from .stack import Operation, ProgramFn, StackResult, TenantStack

WORKER_GRACE_S = 2.0
"""How long a worker that has exited may still deliver its result through the queue before it counts as lost."""
CANCEL_GRACE_S = 10.0
"""How long a worker whose runner died lets its engine cancel (finish the calls in flight, save the state, unlock)
before it kills it."""


@dataclass(frozen=True)
class StackJob:
    """One operation on one stack, described with plain values so it pickles to a worker process."""

    stack: str
    operation: Operation | str
    program: str = ""
    args: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, str] | None = None
    secrets: Mapping[str, str] | None = field(default=None, repr=False)
    preview_only: bool = True
    remove: bool = False
    refresh: bool = False
    """preview/up: read every resource back from its cloud first, so drift is repaired (`apply --refresh`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "operation", Operation(self.operation))
        if self.operation in (Operation.PREVIEW, Operation.UP) and not self.program:
            raise ValueError(f"{self.stack}: {self.operation} needs a program factory ('module:factory')")
        try:
            json.dumps(self.args)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{self.stack}: program args must be JSON-able ({err})") from None

    @property
    def op(self) -> Operation:
        return Operation(self.operation)


@dataclass(frozen=True)
class JobResult:
    """How one job ended: a StackResult, or the typed error that stopped it."""

    stack: str
    operation: Operation
    result: StackResult | None = None
    error: GovcloudError | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def load_program(path: str, args: Mapping[str, Any]) -> ProgramFn:
    """Import `module:factory` (or `module.factory`) and call it with args; the result is the inline program."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ProgramFailure(f"program factory {path!r} is not 'module:factory'")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
        program = target(**args)
    except (ImportError, AttributeError, TypeError) as err:
        raise ProgramFailure(f"cannot build the program from {path!r}: {err}") from None
    if not callable(program):
        raise ProgramFailure(f"{path!r} returned {type(program).__name__}, not a program")
    return program  # type: ignore[no-any-return]


def run_job(job: StackJob, settings: EngineSettings, on_event: EventSink | None = None) -> JobResult:
    """Run one job in this process (workers call this); never raises for the job's own failure."""
    started = time.monotonic()
    try:
        program = load_program(job.program, job.args) if job.program else None
        secrets = list((job.secrets or {}).values())
        stack = TenantStack(job.stack, program, settings, on_event=on_event, secrets=secrets)
        if job.config is not None or job.secrets is not None:
            stack.apply_config(job.config or {}, job.secrets or {})
        result = _dispatch(stack, job)
        error: GovcloudError | None = None
    except GovcloudError as err:
        result, error = None, err
    except Exception as err:  # a bug in a program or provider: report it for this job, keep the others going
        result, error = None, EngineFailure(f"internal error: {type(err).__name__}: {err}", stack=job.stack,
                                            operation=job.op.value)
    return JobResult(job.stack, job.op, result, error, time.monotonic() - started)


def _dispatch(stack: TenantStack, job: StackJob) -> StackResult:
    match job.op:
        case Operation.PREVIEW:
            return stack.preview(refresh=job.refresh)
        case Operation.UP:
            return stack.up(refresh=job.refresh)
        case Operation.REFRESH:
            return stack.refresh(preview_only=job.preview_only)
        case Operation.DESTROY:
            result = stack.destroy()
            if job.remove:
                stack.remove()
            return result


def _worker(index: int, job: StackJob, settings: EngineSettings, channel: Any, environ: dict[str, str],
            cwd: str, runner: int) -> None:
    """Entry point of a worker process: events and the result go back through the channel.

    The fork server was started by the first run of this process: the worker takes the caller's environment and
    folder of now, as a freshly started process would. It never outlives the `runner` process (see
    `_end_with_runner`).
    """
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    threading.Thread(target=_end_with_runner, args=(runner,), name="govcloud-runner-watch", daemon=True).start()

    def send(event: StackEvent) -> None:
        channel.put(("event", index, event))

    result = run_job(job, settings, send)
    try:
        channel.put(("result", index, result))
    except Exception as err:  # e.g. an error that does not pickle: send its text instead
        channel.put(("result", index, JobResult(job.stack, job.op, None, EngineFailure(str(err), stack=job.stack),
                                                result.duration_s)))


def _end_with_runner(runner: int) -> None:
    """Wait for the runner process to end (a pidfd, no polling); if it does first, stop the engine and exit.

    A worker's parent is the fork server, not the runner, so the kernel's parent-death signal would come from the
    wrong process. Its engine is interrupted as Ctrl-C would (it finishes the calls in flight, saves the state and
    releases the stack's lock), and killed after CANCEL_GRACE_S.
    """
    try:
        watch = os.pidfd_open(runner)
    except ProcessLookupError:
        watch = -1
    except (OSError, AttributeError):
        return  # no pidfd here (old kernel): the process-group kill a cancelled job gets still reaches workers
    if watch >= 0:
        select.select([watch], [], [])
    _stop_children(signal.SIGINT, CANCEL_GRACE_S)
    _stop_children(signal.SIGKILL, 0.0)
    os._exit(1)


def _children() -> list[int]:
    """This process's child pids (the engine and anything else the SDK started), from /proc."""
    found: list[int] = []
    for task in Path("/proc/self/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found.extend(int(pid) for pid in task.read_text().split())
    return found


def _stop_children(sig: int, grace_s: float) -> None:
    """Send sig to every child, then wait up to grace_s for them all to end (through pidfds, not sleeps)."""
    watched: list[int] = []
    for pid in _children():
        with contextlib.suppress(OSError):
            watched.append(os.pidfd_open(pid))
            os.kill(pid, sig)
    deadline = time.monotonic() + grace_s
    while watched and time.monotonic() < deadline:
        ready, _, _ = select.select(watched, [], [], max(0.0, deadline - time.monotonic()))
        for fd in ready:
            os.close(fd)
            watched.remove(fd)
    for fd in watched:
        os.close(fd)


@dataclass
class _Running:
    job: StackJob
    process: BaseProcess
    started: float
    exited_at: float | None = None


def run_stacks(jobs: Sequence[StackJob], *, parallel: int = 2, on_event: EventSink | None = None,
               settings: EngineSettings | None = None) -> list[JobResult]:
    """Run jobs, at most `parallel` at once, each in a fresh process; one JobResult per job, in order."""
    if not jobs:
        return []
    settings = settings or EngineSettings.from_environment()
    settings.prepare()
    context = _worker_context(jobs)
    channel = context.Queue()
    waiting = list(enumerate(jobs))
    running: dict[int, _Running] = {}
    results: dict[int, JobResult] = {}
    host = ProviderHost.start()
    settings = replace(settings, extra_env={**settings.extra_env, **host.env})
    try:
        while waiting or running:
            _start_ready(waiting, running, max(1, parallel), context, settings, channel)
            _receive(channel, running, results, on_event)
            _reap_lost(running, results, on_event)
    except BaseException:
        _stop(running)
        raise
    finally:
        channel.close()
        host.stop()
    return [results[i] for i in range(len(jobs))]


def _worker_context(jobs: Sequence[StackJob]) -> Any:
    """Workers forked from a server that imports the engine SDK and the program modules; multiprocessing starts it
    with the first run of this process (with that run's preload) and keeps it for later runs."""
    context = multiprocessing.get_context("forkserver")
    programs = {job.program.partition(":")[0] for job in jobs if ":" in job.program}
    context.set_forkserver_preload([__name__, "pulumi.automation", *sorted(programs)])
    return context


def _start_ready(waiting: list[tuple[int, StackJob]], running: dict[int, _Running], parallel: int,
                 context: Any, settings: EngineSettings, channel: Any) -> None:
    busy = {r.job.stack for r in running.values()}
    for item in list(waiting):
        if len(running) >= parallel:
            return
        index, job = item
        if job.stack in busy:
            continue  # one stack, one run at a time, in the order given
        process = context.Process(target=_worker, args=(index, job, settings, channel, dict(os.environ),
                                                        str(Path.cwd()), os.getpid()),
                                  name=f"govcloud-{job.stack}", daemon=True)
        process.start()
        running[index] = _Running(job, process, time.monotonic())
        busy.add(job.stack)
        waiting.remove(item)


def _receive(channel: Any, running: dict[int, _Running], results: dict[int, JobResult],
             on_event: EventSink | None) -> None:
    """Handle what the workers sent: wait a little for the first message, then drain without waiting."""
    timeout: float | None = 0.2
    while True:
        try:
            kind, index, payload = channel.get(timeout=timeout) if timeout else channel.get_nowait()
        except queue_module.Empty:
            return
        timeout = None
        if kind == "event" and on_event is not None:
            on_event(payload)
        elif kind == "result" and index in running:
            results[index] = payload
            running.pop(index).process.join()


def _reap_lost(running: dict[int, _Running], results: dict[int, JobResult], on_event: EventSink | None) -> None:
    """A worker that exited without a result (killed, crashed) fails its own job only."""
    now = time.monotonic()
    for index, item in list(running.items()):
        if item.process.is_alive():
            continue
        if item.exited_at is None:
            item.exited_at = now
            continue
        if now - item.exited_at < WORKER_GRACE_S:
            continue
        code = item.process.exitcode
        error = EngineFailure(f"the worker process exited with code {code} before reporting a result",
                              stack=item.job.stack, operation=item.job.op.value)
        results[index] = JobResult(item.job.stack, item.job.op, None, error, now - item.started)
        running.pop(index)
        if on_event is not None:
            on_event(StackEvent(item.job.stack, EventKind.FAILED, str(error.message)))


def _stop(running: dict[int, _Running]) -> None:
    """Interrupted: give workers a moment to let the engine release its locks, then end them (by process)."""
    deadline = time.monotonic() + 10
    for item in running.values():
        item.process.join(max(0.0, deadline - time.monotonic()))
        if item.process.is_alive():
            item.process.terminate()
    for item in running.values():
        with contextlib.suppress(Exception):
            item.process.join(2)
