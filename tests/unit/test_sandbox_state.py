"""The sandbox's recorded state, its guards, memory accounting and the CLI's read-only commands."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from gcloud.errors import EnvironmentProblem, InputError
from gcloud.localfs import cache_root
from gcloud.sandbox.openstack import STATE_FILE, OpenStackSandbox, SandboxState, session_rss_mb
from gcloud.sandbox.openstack_venv import OpenStackVenv
from gcloud.sandbox.process import SandboxDirs
from gcloud.sandbox.sandbox import SANDBOX_DIR_ENV, Sandbox, default_root


def never(_: str) -> None:
    raise AssertionError("nothing should be reported")


def test_state_round_trips_and_a_corrupt_file_is_a_clear_problem(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    assert SandboxState.load(path) is None
    SandboxState(10000, True, initialized=True).save(path)
    assert SandboxState.load(path) == SandboxState(10000, True, True)
    path.write_text("{not json")
    with pytest.raises(EnvironmentProblem, match="not a sandbox state file"):
        SandboxState.load(path)


def test_recorded_mode_and_offset_are_the_defaults(tmp_path: Path) -> None:
    SandboxState(10000, True, initialized=True).save(tmp_path / STATE_FILE)
    recorded = OpenStackSandbox(SandboxDirs(tmp_path))
    assert (recorded.full, recorded.port_offset, recorded.ports.keystone) == (True, 10000, 15000)
    explicit = OpenStackSandbox(SandboxDirs(tmp_path), full=False, port_offset=0)
    assert (explicit.full, explicit.port_offset) == (False, 0)
    fresh = OpenStackSandbox(SandboxDirs(tmp_path / "none"))
    assert (fresh.full, fresh.port_offset) == (False, 0)


def test_up_refuses_another_port_offset_than_the_catalog_holds(tmp_path: Path) -> None:
    SandboxState(10000, False, initialized=True).save(tmp_path / STATE_FILE)
    venv = OpenStackVenv(tmp_path / "no-venv", tmp_path)
    with pytest.raises(EnvironmentProblem, match="port offset 10000, not 0"):
        OpenStackSandbox(SandboxDirs(tmp_path), port_offset=0, venv=venv).up(never)


def test_status_of_a_stopped_sandbox_lists_every_service_as_stopped(tmp_path: Path) -> None:
    statuses = OpenStackSandbox(SandboxDirs(tmp_path), full=True).status()
    assert [s.name for s in statuses][:2] == ["rabbitmq", "keystone"]
    assert not any(s.running or s.pid or s.memory_mb for s in statuses)


def test_down_with_nothing_running_stops_nothing_and_clears_stale_pid_files(tmp_path: Path) -> None:
    dirs = SandboxDirs(tmp_path)
    dirs.ensure()
    dirs.pidfile("keystone").write_text("999999999\n")
    assert OpenStackSandbox(dirs).down() == []
    assert not dirs.pidfile("keystone").exists()


def test_env_points_at_the_generated_clouds_yaml(tmp_path: Path) -> None:
    env = OpenStackSandbox(SandboxDirs(tmp_path)).env()
    assert env == {"OS_CLIENT_CONFIG_FILE": str(tmp_path / "etc" / "openstack" / "clouds.yaml"),
                   "OS_CLOUD": "gov-east"}


def test_session_rss_sums_every_process_of_a_session(tmp_path: Path) -> None:
    def proc(pid: int, session: int, pages: int, comm: str = "gunicorn: worker") -> None:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({comm}) S 1 {session} {session} 0 -1 4194560\n")
        (tmp_path / str(pid) / "statm").write_text(f"1000 {pages} 10 1 0 50 0\n")

    proc(100, 100, 1000)
    proc(101, 100, 3000, comm="odd) name (x")
    proc(200, 200, 500)
    (tmp_path / "self").mkdir()
    rss = session_rss_mb(tmp_path)
    page = os.sysconf("SC_PAGE_SIZE")
    assert rss[100] == round(4000 * page / 1e6, 1)
    assert rss[200] == round(500 * page / 1e6, 1)


def test_cache_root_honours_govcloud_cache_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOVCLOUD_CACHE", str(tmp_path / "gc"))
    assert cache_root() == tmp_path / "gc"
    monkeypatch.delenv("GOVCLOUD_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "govcloud"


def test_default_root_is_under_the_project_unless_overridden(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.delenv(SANDBOX_DIR_ENV, raising=False)
    assert default_root(tmp_path) == tmp_path.resolve() / ".govcloud" / "sandbox"
    monkeypatch.setenv(SANDBOX_DIR_ENV, str(tmp_path / "elsewhere"))
    assert default_root(tmp_path) == (tmp_path / "elsewhere").resolve()


def test_sandbox_composes_both_halves_under_one_root(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, port_offset=10000)
    assert sandbox.openstack.dirs.root == tmp_path / "openstack"
    assert sandbox.kubernetes.dirs.root == tmp_path / "kubernetes"
    env = sandbox.env()
    assert set(env) == {"OS_CLIENT_CONFIG_FILE", "OS_CLOUD", "KUBECONFIG"}
    assert "keystone" in sandbox.services() and "kube-apiserver" in sandbox.services()


def test_logs_of_an_unknown_service_is_bad_input_naming_the_known_ones(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path)
    logs = tmp_path / "openstack" / "logs"
    logs.mkdir(parents=True)
    (logs / "keystone.log").write_text("one\ntwo\nthree\n")
    assert sandbox.logs("keystone", 2) == "two\nthree"
    with pytest.raises(InputError) as bad:
        sandbox.logs("nope")
    assert "nope" in str(bad.value) and "keystone" in str(bad.value)


def test_cli_env_prints_shell_exports(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("sandbox", "env", "--dir", str(tmp_path / "sb"))
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert f"export OS_CLIENT_CONFIG_FILE={tmp_path}/sb/openstack/etc/openstack/clouds.yaml" in lines
    assert "export OS_CLOUD=gov-east" in lines
    assert f"export KUBECONFIG={tmp_path}/sb/kubernetes/etc/kubeconfig" in lines


def test_cli_status_of_a_stopped_sandbox_exits_1_with_json(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("sandbox", "status", "--dir", str(tmp_path), "--output", "json")
    assert result.code == 1
    document = json.loads(result.stdout)
    assert document["root"] == str(tmp_path)
    assert {s["half"] for s in document["services"]} == {"openstack", "kubernetes"}
    assert not any(s["running"] for s in document["services"])


def test_cli_logs_of_an_unknown_service_exits_2(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("sandbox", "logs", "nope", "--dir", str(tmp_path))
    assert result.code == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr


def test_cli_help_has_examples(run_cli) -> None:  # type: ignore[no-untyped-def]
    for command in ("up", "down", "status", "env", "logs"):
        result = run_cli("sandbox", command, "--help")
        assert result.code == 0 and "Example" in result.stdout, command


def test_up_refuses_a_port_another_process_holds_before_touching_state(tmp_path: Path) -> None:
    venv = OpenStackVenv(tmp_path / "venv", tmp_path)
    venv.path.mkdir()
    (venv.path / ".govcloud-complete").write_text("complete\n")  # pretend the venv is built: never used here
    with socket.socket() as holder:
        for offset in range(25000, 25100):
            try:
                holder.bind(("127.0.0.1", 5000 + offset))
                break
            except OSError:
                continue
        holder.listen()
        box = OpenStackSandbox(SandboxDirs(tmp_path / "sb"), port_offset=offset, venv=venv)
        with pytest.raises(EnvironmentProblem, match=f"127.0.0.1:{5000 + offset} needed by keystone"):
            box.up(lambda _: None)
    assert not (tmp_path / "sb" / "etc").exists()
