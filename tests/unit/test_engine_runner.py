"""The runner's job description and program loading: what crosses the process boundary must be plain values."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from gcloud.engine.errors import ConcurrentUpdate, ProgramFailure
from gcloud.engine.events import ChangeOp, EventKind, ResourceChange, StackEvent
from gcloud.engine.runner import JobResult, StackJob, load_program, run_stacks
from gcloud.engine.settings import EngineSettings
from gcloud.engine.stack import Operation, StackResult
from gcloud.engine.toolchain import LAUNCHER, Toolchain


def make_program(greeting: str) -> object:
    """A program factory for load_program (the program itself is never run here)."""
    return lambda: greeting


def not_a_factory() -> int:
    return 42


def test_jobs_take_operation_names_and_hide_secrets_from_their_repr() -> None:
    job = StackJob("dept-a", "up", program="tests.unit.test_engine_runner:make_program", args={"greeting": "hi"},
                   secrets={"adminPassword": "pw-123"})
    assert job.operation is Operation.UP and job.op is Operation.UP
    assert "pw-123" not in repr(job)
    assert pickle.loads(pickle.dumps(job)) == job


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"operation": "up"}, "needs a program factory"),
    ({"operation": "preview", "program": "m:f", "args": {"when": object()}}, "JSON-able"),
    ({"operation": "apply"}, "'apply' is not a valid Operation"),
])
def test_bad_jobs_are_refused_when_described(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StackJob("dept-a", **kwargs)  # type: ignore[arg-type]


def test_destroy_and_refresh_need_no_program() -> None:
    assert StackJob("dept-a", "destroy", remove=True).program == ""
    assert StackJob("dept-a", Operation.REFRESH).preview_only


def test_load_program_accepts_both_spellings_and_calls_the_factory() -> None:
    for path in ("tests.unit.test_engine_runner:make_program", "tests.unit.test_engine_runner.make_program"):
        assert load_program(path, {"greeting": "hello"})() == "hello"  # type: ignore[func-returns-value]


@pytest.mark.parametrize(("path", "args", "message"), [
    ("nonexistent_module_xyz:factory", {}, "cannot build the program"),
    ("tests.unit.test_engine_runner:missing", {}, "cannot build the program"),
    ("tests.unit.test_engine_runner:make_program", {"wrong": 1}, "cannot build the program"),
    ("tests.unit.test_engine_runner:not_a_factory", {}, "returned int, not a program"),
    ("nodots", {}, "is not 'module:factory'"),
])
def test_load_program_failures_are_program_failures(path: str, args: dict[str, object], message: str) -> None:
    with pytest.raises(ProgramFailure, match=message):
        load_program(path, args)


def test_results_and_events_pickle_back_to_the_parent() -> None:
    change = ResourceChange("urn:x", "t", "x", ChangeOp.UPDATE, ("content",))
    ok = JobResult("dept-a", Operation.UP, StackResult("dept-a", Operation.UP, (change,), {"a": 1}, 1.5))
    failed = JobResult("dept-b", Operation.UP, None, ConcurrentUpdate("locked", stack="dept-b"))
    for item in (ok, failed, StackEvent("dept-a", EventKind.STEP, "update x")):
        assert repr(pickle.loads(pickle.dumps(item))) == repr(item)
    assert ok.ok and not failed.ok
    assert ok.result is not None and ok.result.counts == {"update": 1} and ok.result.summary() == "1 update (1.5s)"
    assert isinstance(pickle.loads(pickle.dumps(failed)).error, ConcurrentUpdate)  # the type survives the trip


def die_now() -> object:
    """A program factory whose worker dies at once, as one killed by the OOM killer or by hand would."""
    os._exit(3)


def test_a_worker_that_dies_fails_its_own_job_and_the_others_still_report(tmp_path: Path) -> None:
    toolchain = Toolchain(pulumi=tmp_path / "engine" / "bin" / "pulumi", version="3.259.0", source="cache",
                          launcher=tmp_path / "plugins" / LAUNCHER)
    settings = EngineSettings.from_environment(tmp_path, environ={"PULUMI_CONFIG_PASSPHRASE": "pw"},
                                               toolchain=toolchain)
    lines: list[StackEvent] = []
    dead, bad = run_stacks([StackJob("dept-a", "up", program=f"{__name__}:die_now"),
                            StackJob("dept-b", "up", program=f"{__name__}:not_a_factory")],
                           parallel=2, settings=settings, on_event=lines.append)
    assert not dead.ok and "worker process exited with code 3" in str(dead.error)
    assert not bad.ok and isinstance(bad.error, ProgramFailure) and "returned int" in str(bad.error)
    assert [(line.stack, line.kind) for line in lines] == [("dept-a", EventKind.FAILED)]
