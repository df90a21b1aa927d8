"""Processes the sandbox starts and stops: by recorded PID, never by name.

Each service runs in its own session (`setsid`) with stdout/stderr in `logs/<name>.log` and its PID in
`run/<name>.pid`, so `down` stops exactly what `up` started, and a second `up` can tell what is running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gcloud.errors import EnvironmentProblem

LOOPBACK = "127.0.0.1"


Progress = Callable[[str], None]
"""Receives one human line per step of long work (the CLI shows it; tests may collect it)."""


@dataclass(frozen=True)
class ServiceStatus:
    """One sandbox service as `status` reports it."""

    name: str
    running: bool
    pid: int | None
    endpoint: str
    memory_mb: float | None = None


class ServiceFailed(EnvironmentProblem):
    """A sandbox service did not come up; the message carries the last lines of its log."""


@dataclass(frozen=True)
class SandboxDirs:
    """The one directory that holds all sandbox state, and its fixed layout."""

    root: Path

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def ensure(self) -> None:
        for path in (self.run, self.logs, self.etc, self.data):
            path.mkdir(parents=True, exist_ok=True)

    def pidfile(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def logfile(self, name: str) -> Path:
        return self.logs / f"{name}.log"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) != 0


def require_free_port(name: str, port: int) -> None:
    """Refuse to start a service whose port another process already holds."""
    if not port_is_free(port):
        raise EnvironmentProblem(
            f"port {LOOPBACK}:{port} needed by {name} is already taken by another process",
            hint=f"stop whatever listens there (ss -ltnp 'sport = :{port}') or `govcloud sandbox down`",
        )


def read_pid(dirs: SandboxDirs, name: str) -> int | None:
    """The recorded PID of a service if that process is still alive."""
    try:
        pid = int(dirs.pidfile(name).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    if _is_zombie(pid):
        return None
    return pid


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def start(dirs: SandboxDirs, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> int:
    """Start a service detached in its own session; record its PID; return it."""
    log = dirs.logfile(name).open("ab")
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
        )
    finally:
        log.close()
    dirs.pidfile(name).write_text(f"{proc.pid}\n")
    return proc.pid


def stop(dirs: SandboxDirs, name: str, timeout: float = 10.0) -> bool:
    """Stop the recorded process group of a service; True when something was stopped."""
    pid = read_pid(dirs, name)
    dirs.pidfile(name).unlink(missing_ok=True)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not _is_zombie(pid)


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file (empty when there is none)."""
    try:
        data = path.read_bytes()[-16384:]
    except FileNotFoundError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def http_ready(url: str, *, accept: Callable[[int], bool] = lambda code: code < 500) -> bool:
    """True when the URL answers with an acceptable HTTP status."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return accept(response.status)
    except urllib.error.HTTPError as err:
        return accept(err.code)
    except (urllib.error.URLError, OSError):
        return False


def wait_until(dirs: SandboxDirs, name: str, ready: Callable[[], bool], timeout: float = 90.0) -> None:
    """Wait for a started service to be ready; fail with the last lines of its log if it dies or stalls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if read_pid(dirs, name) is None:
            raise ServiceFailed(
                f"{name} exited during start-up; last lines of {dirs.logfile(name)}:\n{tail(dirs.logfile(name))}",
                hint="see the whole log with `govcloud sandbox logs " + name + "`",
            )
        time.sleep(0.25)
    raise ServiceFailed(
        f"{name} was not ready after {timeout:.0f} s; last lines of {dirs.logfile(name)}:\n"
        f"{tail(dirs.logfile(name))}",
        hint="see the whole log with `govcloud sandbox logs " + name + "`",
    )
