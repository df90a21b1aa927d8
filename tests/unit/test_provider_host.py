"""The provider host: a launcher hands its provider to the pre-warmed host, which forks it; without a host the
launcher runs the provider itself. Real processes, real `pulumi.dynamic` gRPC servers on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gcloud.engine.provider_host import HOST_ENV, ProviderHost


@pytest.fixture
def host() -> Iterator[ProviderHost]:
    started = ProviderHost.start()
    yield started
    started.stop()


def launch(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start the launcher as the engine does; the provider's first stdout line is its gRPC port."""
    launcher = subprocess.Popen([sys.executable, "-u", "-m", "gcloud.engine.provider_host"], cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert launcher.stdout is not None
    line = launcher.stdout.readline()
    assert line.strip().isdigit(), (line, launcher.poll())
    return launcher, int(line)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def listener_pid(port: int) -> int:
    """The process that owns the socket listening on 127.0.0.1:port (from /proc)."""
    hex_port = f":{port:04X}"
    rows = [line.split() for table in ("tcp", "tcp6")  # gRPC listens on a v4-mapped IPv6 socket
            for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]]
    inodes = {row[9] for row in rows if row[1].endswith(hex_port) and row[3] == "0A"}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = [str(fd.readlink()) for fd in (proc / "fd").iterdir()]
        except OSError:
            continue
        if any(link == f"socket:[{inode}]" for link in links for inode in inodes):
            return int(proc.name)
    raise AssertionError(f"nobody listens on {port}")


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def wait_until(check: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_the_host_forks_the_provider_in_the_launchers_folder_and_it_dies_with_the_launcher(
        host: ProviderHost, tmp_path: Path) -> None:
    launcher, port = launch({**os.environ, **host.env}, tmp_path)
    try:
        assert listening(port)
        provider = listener_pid(port)
        assert provider != launcher.pid
        assert parent_of(provider) == host.process.pid  # forked by the host, not started by the launcher
        assert Path(f"/proc/{provider}/cwd").readlink() == tmp_path
    finally:
        launcher.send_signal(signal.SIGKILL)  # what the engine does with a provider it is done with
        launcher.wait()
    assert wait_until(lambda: not listening(port)), "the forked provider outlived its launcher"


def test_without_a_reachable_host_the_launcher_runs_the_provider_itself(tmp_path: Path) -> None:
    env = {**os.environ, HOST_ENV: str(tmp_path / "no-such.sock")}
    launcher, port = launch(env, tmp_path)
    try:
        assert listener_pid(port) == launcher.pid
    finally:
        launcher.kill()
        launcher.wait()


def test_stopping_the_host_removes_its_socket_and_ends_it(tmp_path: Path) -> None:
    started = ProviderHost.start()
    assert started.socket_path.exists()
    started.stop()
    assert started.process.returncode is not None
    assert not started.socket_path.exists() and not started.folder.exists()
