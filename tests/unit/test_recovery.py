"""What a killed run leaves in the file backend, as `gcloud.engine.recovery` judges it (no engine, no cloud)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gcloud.engine import recovery
from gcloud.engine.errors import ConcurrentUpdate, EngineFailure
from gcloud.engine.settings import EngineSettings, Passphrase
from gcloud.engine.toolchain import Toolchain


class FakeStack:
    """The two Automation API calls recovery makes, on an in-memory deployment."""

    def __init__(self, name: str, deployment: dict[str, Any]) -> None:
        self.name = name
        self.deployment = deployment
        self.imported: Any = None

    def export_stack(self) -> Any:
        from pulumi.automation import Deployment

        return Deployment(version=3, deployment=json.loads(json.dumps(self.deployment)))

    def import_stack(self, state: Any) -> None:
        self.imported = state


def settings(tmp_path: Path) -> EngineSettings:
    tools = Toolchain(Path("/opt/pulumi/bin/pulumi"), "3.259.0", "test", Path("/opt/pulumi/bin/launcher"))
    return EngineSettings(tools, tmp_path, tmp_path.as_uri(),
                          Passphrase(f"PULUMI_CONFIG_PASSPHRASE_FILE={tmp_path / 'pass'}", {}))


def write_lock(root: Path, stack: str, pid: int, host: str | None = None) -> Path:
    folder = root / ".pulumi" / "locks" / "organization" / "govcloud" / stack
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"lock-{pid}.json"
    path.write_text(json.dumps({"pid": pid, "username": "root", "hostname": host or socket.gethostname(),
                                "timestamp": "2026-11-25T10:02:11Z"}))
    (folder / f"lock-{pid}.json.attrs").write_text("{}")
    return path


def write_state(root: Path, stack: str, pending: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = {"manifest": {}, "resources": [], "pending_operations": pending}
    folder = root / ".pulumi" / "stacks" / "govcloud"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stack}.json").write_text(json.dumps({"version": 3, "checkpoint": {"stack": stack,
                                                                                   "latest": deployment}}))
    return deployment


def pending(op: str, kind: str, name: str) -> dict[str, Any]:
    return {"type": op, "resource": {"urn": f"urn:pulumi:t::govcloud::{kind}::{name}", "type": kind}}


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def live_engine(tmp_path: Path) -> Any:
    """A live process named `pulumi` (a copy of sleep), as an engine holding a lock would be."""
    binary = tmp_path / "pulumi"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
    process = subprocess.Popen([str(binary), "60"])
    yield process
    process.kill()
    process.wait()


def test_a_lock_whose_engine_is_gone_from_this_host_is_removed_and_said(tmp_path: Path) -> None:
    lock = write_lock(tmp_path, "czj", dead_pid())
    said: list[str] = []
    recovery.recover(FakeStack("czj", {}), settings(tmp_path), said.append, operation="up")  # type: ignore[arg-type]
    assert not lock.exists() and not lock.with_name(lock.name + ".attrs").exists()
    assert len(said) == 1 and "removed the lock a dead run left" in said[0] and "root@" in said[0]


def test_a_live_lock_is_never_touched_and_names_its_holder(tmp_path: Path, live_engine: Any) -> None:
    lock = write_lock(tmp_path, "czj", live_engine.pid)
    with pytest.raises(ConcurrentUpdate) as caught:
        recovery.recover(FakeStack("czj", {}), settings(tmp_path), print, operation="up")  # type: ignore[arg-type]
    assert lock.exists()
    assert f"pid {live_engine.pid}, since 2026-11-25T10:02:11Z" in caught.value.message
    assert "pulumi cancel" not in str(caught.value)


def test_a_lock_of_a_killed_engine_left_a_zombie_is_removed(tmp_path: Path, live_engine: Any) -> None:
    """A killed engine whose parent died too stays a zombie until init reaps it (some container inits never do):
    its pid still answers signal 0 and /proc still names it pulumi, yet it holds nothing (found in CI)."""
    lock = write_lock(tmp_path, "czj", live_engine.pid)
    live_engine.kill()
    os.waitid(os.P_PID, live_engine.pid, os.WEXITED | os.WNOWAIT)  # until it has died, without reaping it
    assert Path(f"/proc/{live_engine.pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    said: list[str] = []
    recovery.recover(FakeStack("czj", {}), settings(tmp_path), said.append, operation="up")  # type: ignore[arg-type]
    assert not lock.exists() and "removed the lock a dead run left" in said[0]


def test_another_hosts_lock_is_reported_with_the_one_command_that_removes_it(tmp_path: Path) -> None:
    lock = write_lock(tmp_path, "czj", 4242, host="ci-runner-7")
    with pytest.raises(ConcurrentUpdate) as caught:
        recovery.recover(FakeStack("czj", {}), settings(tmp_path), print, operation="up")  # type: ignore[arg-type]
    assert lock.exists()
    assert "root@ci-runner-7, pid 4242" in caught.value.message
    assert caught.value.hint.endswith(f"rm {lock}")


def test_pending_steps_of_govcloud_resources_are_dropped_and_each_one_said(tmp_path: Path) -> None:
    steps = [pending("creating", "pulumi-python:dynamic/govcloud-openstack:Network", "czj-app"),
             pending("deleting", "pulumi-python:dynamic/govcloud-kubernetes:Namespace", "czj-old")]
    deployment = write_state(tmp_path, "czj", steps)
    stack = FakeStack("czj", deployment)
    said: list[str] = []
    recovery.recover(stack, settings(tmp_path), said.append, operation="up")  # type: ignore[arg-type]
    assert stack.imported is not None and stack.imported.deployment["pending_operations"] == []
    assert stack.imported.deployment["resources"] == []  # everything else as it was
    assert [line.split(":")[0] for line in said] == ["a killed run left creating czj-app",
                                                     "a killed run left deleting czj-old"]
    assert "adopted by the next create" in said[0]


def test_pending_creates_of_the_programs_components_are_dropped(tmp_path: Path) -> None:
    """Component resources make nothing in a cloud: a kill while the engine registered them (found by CI's kill
    test) leaves pending creates that are safe to drop; the next up registers them again."""
    steps = [pending("creating", "govcloud:tenant:OpenStackTenant", "p0203"),
             pending("creating", "govcloud:tenant:KubernetesTenant", "p0203")]
    stack = FakeStack("p0203", write_state(tmp_path, "p0203", steps))
    said: list[str] = []
    recovery.recover(stack, settings(tmp_path), said.append, operation="up")  # type: ignore[arg-type]
    assert stack.imported is not None and stack.imported.deployment["pending_operations"] == []
    assert len(said) == 2 and all("a killed run left creating p0203" in line for line in said)


def test_a_pending_step_govcloud_cannot_judge_is_refused_with_the_one_command(tmp_path: Path) -> None:
    deployment = write_state(tmp_path, "czj", [pending("creating", "aws:s3/bucket:Bucket", "logs")])
    stack = FakeStack("czj", deployment)
    with pytest.raises(EngineFailure) as caught:
        recovery.recover(stack, settings(tmp_path), print, operation="up")  # type: ignore[arg-type]
    assert stack.imported is None
    assert "refresh --yes --clear-pending-creates --stack czj" in caught.value.hint
    assert "PULUMI_CONFIG_PASSPHRASE_FILE=" in caught.value.hint


def test_a_healthy_stack_costs_no_engine_call(tmp_path: Path) -> None:
    write_state(tmp_path, "czj", [])
    stack = FakeStack("czj", {})
    stack.export_stack = None  # type: ignore[assignment,method-assign]
    recovery.recover(stack, settings(tmp_path), print, operation="up")  # type: ignore[arg-type]


def test_a_half_written_sidecar_and_tmp_file_are_removed_before_select(tmp_path: Path) -> None:
    """What the kill soak met: an empty `.attrs` beside a whole checkpoint ("failed to load checkpoint: EOF")."""
    write_state(tmp_path, "dept-s", [])
    folder = tmp_path / ".pulumi" / "stacks" / "govcloud"
    (folder / "dept-s.json.attrs").write_text("")
    (folder / "dept-s.json.18ed1e93a20f27ca.tmp").write_text('{"version": 3, "checkp')
    (folder / "dept-s.json.bak.attrs").write_text('{"md5": "x"}')
    (folder / "dept-t.json.attrs").write_text("")  # another stack's: not this one's business
    said: list[str] = []
    recovery.repair_files(settings(tmp_path), "dept-s", said.append)
    assert sorted(p.name for p in folder.iterdir()) == ["dept-s.json", "dept-s.json.bak.attrs", "dept-t.json.attrs"]
    assert len(said) == 2 and all("half-written" in line for line in said)


def test_nothing_is_repaired_while_a_live_run_holds_the_stack(tmp_path: Path) -> None:
    write_state(tmp_path, "dept-s", [])
    folder = tmp_path / ".pulumi" / "stacks" / "govcloud"
    (folder / "dept-s.json.attrs").write_text("")
    write_lock(tmp_path, "dept-s", 4242, host="elsewhere")  # another host's lock: its run is assumed alive
    said: list[str] = []
    recovery.repair_files(settings(tmp_path), "dept-s", said.append)
    assert (folder / "dept-s.json.attrs").exists() and not said
