"""The whole local cloud: the OpenStack half and the Kubernetes half in one state directory.

`up` prepares both halves at once (the Kubernetes build and the OpenStack venv are independent, and each is a
no-op once cached), then starts both at once; `down` stops both; `env` is what a shell needs for both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from gcloud.errors import EnvironmentProblem, GovcloudError, InputError
from gcloud.sandbox import process
from gcloud.sandbox.kubernetes import KubernetesSandbox
from gcloud.sandbox.openstack import OpenStackSandbox
from gcloud.sandbox.process import Progress, SandboxDirs, ServiceStatus

SANDBOX_DIR_ENV = "GOVCLOUD_SANDBOX_DIR"
T = TypeVar("T")


def default_root(cwd: Path | None = None) -> Path:
    """`$GOVCLOUD_SANDBOX_DIR`, else `<project>/.govcloud/sandbox` with the current directory as the project."""
    explicit = os.environ.get(SANDBOX_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    return (cwd or Path.cwd()).resolve() / ".govcloud" / "sandbox"


@dataclass(frozen=True)
class UpReport:
    """How long each phase of `up` took (seconds), for the CLI to print and the README to quote."""

    timings: tuple[tuple[str, float], ...]

    @property
    def total(self) -> float:
        return dict(self.timings).get("total", 0.0)


class Sandbox:
    """OpenStack under `<root>/openstack`, Kubernetes under `<root>/kubernetes`, on the same port offset."""

    def __init__(self, root: Path, *, full: bool | None = None, port_offset: int | None = None) -> None:
        """`full` / `port_offset` left as None take what an earlier `up` in `root` recorded (else API-only, 0)."""
        self.root = root
        self.openstack = OpenStackSandbox(SandboxDirs(root / "openstack"), full=full, port_offset=port_offset)
        self.kubernetes = KubernetesSandbox(SandboxDirs(root / "kubernetes"), port_offset=port_offset)

    @property
    def halves(self) -> dict[str, OpenStackSandbox | KubernetesSandbox]:
        return {"openstack": self.openstack, "kubernetes": self.kubernetes}

    def up(self, progress: Progress) -> UpReport:
        """Install/build both halves concurrently, then start both concurrently; idempotent."""
        start = time.monotonic()
        timings: list[tuple[str, float]] = []
        _both({name: _timed(half.install, progress, timings, f"install {name}")
               for name, half in self.halves.items()})
        _both({name: _timed(half.up, progress, timings, f"up {name}") for name, half in self.halves.items()})
        timings.append(("total", round(time.monotonic() - start, 1)))
        return UpReport(tuple(timings))

    def down(self) -> list[str]:
        """Stop both halves (each by its recorded PIDs); the names of the services that were stopped."""
        stopped = _both({name: half.down for name, half in self.halves.items()})
        return [*stopped["openstack"], *stopped["kubernetes"]]

    def status(self) -> dict[str, list[ServiceStatus]]:
        """Every service of each half: running, PID, endpoint, memory."""
        return {name: half.status() for name, half in self.halves.items()}

    def env(self) -> dict[str, str]:
        """OS_CLIENT_CONFIG_FILE, OS_CLOUD and KUBECONFIG, for a shell or a test."""
        return {**self.openstack.env(), **self.kubernetes.env()}

    def services(self) -> list[str]:
        return [*self.openstack.services(), *self.kubernetes.services()]

    def logfile(self, service: str) -> Path:
        """The log of a service (or of a DB-init step such as `init-nova`) in either half."""
        for half in self.halves.values():
            path = half.dirs.logfile(service)
            if path.is_file():
                return path
        known = sorted({p.stem for half in self.halves.values() for p in half.dirs.logs.glob("*.log")})
        raise InputError.single(
            "<command line>", f"no log for {service!r} in {self.root}", field="SERVICE",
            hint=f"one of: {', '.join(known)}" if known else "the sandbox has not been started here yet",
        )

    def logs(self, service: str, lines: int = 50) -> str:
        """The last lines of a service's log."""
        return process.tail(self.logfile(service), lines)


def _timed(step: Callable[[Progress], None], progress: Progress, timings: list[tuple[str, float]],
           label: str) -> Callable[[], None]:
    def run() -> None:
        start = time.monotonic()
        step(progress)
        timings.append((label, round(time.monotonic() - start, 1)))
    return run


def _both(steps: dict[str, Callable[[], T]]) -> dict[str, T]:
    """Run the halves' steps in threads; when any fails, raise after all finished (naming each failure)."""
    with ThreadPoolExecutor(max_workers=len(steps)) as pool:
        futures = {name: pool.submit(step) for name, step in steps.items()}
    failures = {name: err for name, future in futures.items() if (err := future.exception()) is not None}
    if not failures:
        return {name: future.result() for name, future in futures.items()}
    if len(failures) == 1:
        raise next(iter(failures.values()))
    for err in failures.values():
        if not isinstance(err, GovcloudError):
            raise err
    raise EnvironmentProblem("\n".join(f"{name}: {err}" for name, err in failures.items()))
