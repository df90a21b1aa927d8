"""The real Pulumi engine (found the way the product finds it), offline, with a Python dynamic resource.

Every test gets its own file backend under tmp_path and an explicit test passphrase. The resource is a text file
(`engine_resources.py`), so each step can be checked against the disk as well as against the engine's report.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gcloud.engine.errors import (
    MASK,
    ConcurrentUpdate,
    ProgramFailure,
    ProviderFailure,
    StackNotFound,
    WrongPassphrase,
)
from gcloud.engine.events import ChangeOp, EventKind, StackEvent
from gcloud.engine.runner import StackJob, run_stacks
from gcloud.engine.settings import EngineSettings, Passphrase
from gcloud.engine.stack import TenantStack, list_stacks
from tests.integration.engine_resources import files_program

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FACTORY = "tests.integration.engine_resources:files_program"
PASSPHRASE = "engine-tests-only-passphrase"
SECRET = "s3cr3t-Token-7f1d9"


@pytest.fixture
def settings(tmp_path: Path) -> EngineSettings:
    """Engine settings as the product builds them, with a private state folder and the test passphrase."""
    environ = {k: v for k, v in os.environ.items() if k not in ("PULUMI_BACKEND_URL", "GOVCLOUD_STATE_DIR")}
    environ["PULUMI_CONFIG_PASSPHRASE"] = PASSPHRASE
    # The provider process imports this test package back by name (the provider is pickled by reference).
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return EngineSettings.from_environment(tmp_path, environ=environ, state_dir=tmp_path / "state",
                                           extra_env={"PYTHONPATH": python_path})


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    return folder


def _stack_file(settings: EngineSettings, name: str) -> Path:
    return settings.state_dir / ".pulumi" / "stacks" / "govcloud" / f"{name}.json"


def test_up_preview_update_drift_destroy_remove(settings: EngineSettings, files: Path) -> None:
    lines: list[StackEvent] = []

    def stack(b_content: str) -> TenantStack:
        program = files_program(str(files), {"a": "alpha", "b": b_content})
        return TenantStack("dept-a", program, settings, on_event=lines.append)

    created = stack("beta").up()
    assert created.counts == {"create": 2}
    assert (files / "a.txt").read_text() == "alpha" and (files / "b.txt").read_text() == "beta"
    assert created.outputs == {"a_path": str(files / "a.txt"), "b_path": str(files / "b.txt"), "count": 2}
    assert _stack_file(settings, "dept-a").exists()

    unchanged = stack("beta").preview()
    assert not unchanged.has_changes and unchanged.counts == {"same": 2}

    planned = stack("BETA").preview()
    assert [(c.name, c.op, c.keys) for c in planned.changed] == [("b", ChangeOp.UPDATE, ("content",))]
    assert (files / "b.txt").read_text() == "beta"  # a preview touches nothing

    updated = stack("BETA").up()
    assert updated.counts == {"update": 1, "same": 1}
    assert [(c.name, c.op) for c in updated.changed] == [("b", ChangeOp.UPDATE)]
    assert (files / "b.txt").read_text() == "BETA"
    assert updated.duration_s > 0

    (files / "a.txt").write_text("changed behind our back")
    drift = stack("BETA").refresh()
    assert [(c.name, c.op, c.keys) for c in drift.changed] == [("a", ChangeOp.UPDATE, ("content",))]
    assert not stack("BETA").preview().has_changes  # refresh in preview mode saved nothing

    destroyed = stack("BETA").destroy()
    assert destroyed.counts == {"delete": 2}
    assert list(files.iterdir()) == []
    owner = stack("BETA")
    owner.remove()
    assert not owner.exists()
    assert "dept-a" not in list_stacks(settings)
    assert not _stack_file(settings, "dept-a").exists()
    assert not (settings.config_dir / "Pulumi.dept-a.yaml").exists()
    with pytest.raises(StackNotFound):
        owner.destroy()  # never silently re-created
    assert "dept-a" not in list_stacks(settings)

    text = [str(line) for line in lines]
    assert "dept-a: update b (pulumi-python:dynamic:Resource) [content]" in text
    assert "dept-a: would update b (pulumi-python:dynamic:Resource) [content]" in text
    assert any(line.kind is EventKind.DONE and "2 delete" in line.message for line in lines)


def test_secret_config_never_appears_in_plain_text(settings: EngineSettings, files: Path, tmp_path: Path) -> None:
    lines: list[StackEvent] = []
    stack = TenantStack("dept-s", files_program(str(files), {"x": "data"}, secret_key="apiToken"), settings,
                        on_event=lines.append)
    stack.apply_config({}, {"apiToken": SECRET})
    result = stack.up()
    assert result.outputs["token"] == MASK
    assert stack.outputs()["token"] == MASK
    state = json.loads(_stack_file(settings, "dept-s").read_text())
    assert "ciphertext" in json.dumps(state)  # the value is there, encrypted

    failing = TenantStack("dept-s", files_program(str(files), {"x": "data2"}, fail="quota exceeded",
                                                  secret_key="apiToken"), settings, on_event=lines.append)
    with pytest.raises(ProviderFailure) as caught:
        failing.up()  # the provider puts the token into its error message
    error = caught.value
    assert error.resource.endswith("::x") and error.resource_type == "pulumi-python:dynamic:Resource"
    assert "quota exceeded" in error.message
    assert error.stack == "dept-s" and error.operation == "up"

    wrong = dataclasses.replace(settings, passphrase=Passphrase("test", {"PULUMI_CONFIG_PASSPHRASE": "not-it"}))
    with pytest.raises(WrongPassphrase):
        TenantStack("dept-s", files_program(str(files), {"x": "data"}, secret_key="apiToken"), wrong).preview()

    seen = "\n".join([*(str(line) for line in lines), str(error), error.detail, repr(result), repr(stack.outputs())])
    assert SECRET not in seen
    leaks = [p for p in tmp_path.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []  # state, backups, history, stack config, PULUMI_HOME, the files themselves

    stack.destroy()
    stack.remove()


def test_a_second_concurrent_update_is_refused(settings: EngineSettings, files: Path) -> None:
    created = threading.Event()
    events: list[StackEvent] = []

    def sink(event: StackEvent) -> None:
        events.append(event)
        if event.kind is EventKind.STEP and event.message.startswith("create slow"):
            created.set()

    job = StackJob("dept-l", "up", program=FACTORY, args={"directory": str(files), "files": {"slow": "v1"},
                                                          "delay": 8})
    results: list[Any] = []
    first = threading.Thread(target=lambda: results.extend(run_stacks([job], on_event=sink, settings=settings)))
    first.start()
    try:
        assert created.wait(90), [str(e) for e in events]
        second = TenantStack("dept-l", files_program(str(files), {"slow": "v2"}), settings)
        started = time.monotonic()
        with pytest.raises(ConcurrentUpdate) as caught:
            second.up()
        assert time.monotonic() - started < 8  # refused at once, not queued behind the lock
        assert "being updated by another run" in caught.value.message and "pid" in caught.value.message
    finally:
        first.join(180)
    (outcome,) = results
    assert outcome.ok, outcome.error
    assert (files / "slow.txt").read_text() == "v1"  # the refused run changed nothing

    assert second.up().counts == {"update": 1}  # the lock went with the first run
    assert (files / "slow.txt").read_text() == "v2"
    second.destroy()
    second.remove()


def test_runner_runs_stacks_in_parallel_and_one_failure_stops_no_other(settings: EngineSettings,
                                                                       files: Path) -> None:
    def job(stack: str, **args: Any) -> StackJob:
        return StackJob(stack, "up", program=FACTORY, args={"directory": str(files), **args})

    jobs = [job("dept-p1", files={"p1": "one"}, delay=4), job("dept-p2", files={"p2": "two"}, delay=4),
            job("dept-bad", files={"bad": "x"}, fail="no capacity"),
            StackJob("dept-noprog", "up", program="tests.integration.engine_resources:no_such_factory")]
    events: list[StackEvent] = []
    results = run_stacks(jobs, parallel=4, on_event=events.append, settings=settings)

    assert [r.stack for r in results] == ["dept-p1", "dept-p2", "dept-bad", "dept-noprog"]
    ok1, ok2, bad, noprog = results
    assert ok1.ok and ok2.ok, (ok1.error, ok2.error)
    assert ok1.result is not None and ok1.result.counts == {"create": 1}
    assert (files / "p1.txt").read_text() == "one" and (files / "p2.txt").read_text() == "two"
    assert isinstance(bad.error, ProviderFailure) and "no capacity" in bad.error.message
    assert isinstance(noprog.error, ProgramFailure) and "no_such_factory" in noprog.error.message

    def position(stack: str, kind: EventKind) -> int:
        return next(i for i, e in enumerate(events) if e.stack == stack and e.kind is kind)

    # Both 4-second creates were under way at the same time: each started before the other finished.
    assert position("dept-p2", EventKind.START) < position("dept-p1", EventKind.DONE)
    assert position("dept-p1", EventKind.START) < position("dept-p2", EventKind.DONE)

    cleanup = run_stacks([StackJob(s, "destroy", remove=True) for s in ("dept-p1", "dept-p2", "dept-bad")],
                         parallel=3, settings=settings)
    assert all(r.ok for r in cleanup), [r.error for r in cleanup]
    assert list_stacks(settings) == []
    assert list(files.iterdir()) == []


def test_doctor_finds_the_engine_and_the_sandbox_clouds_answer(run_cli: Any, sandbox: Any, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in sandbox.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    shutil.copy(REPO / "platform.yaml", tmp_path / "platform.yaml")  # names gov-east and gov-k8s
    result = run_cli("doctor", "--output", "json", cwd=tmp_path)
    assert result.code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["engineVersion"] == report["sdkVersion"]
    answered = {(p["kind"], p["name"]): p["answered"] for p in report["clouds"]}
    assert answered[("openstack", "gov-east")] and answered[("kubernetes", "gov-k8s")], report["clouds"]
    assert PASSPHRASE not in result.stdout + result.stderr
