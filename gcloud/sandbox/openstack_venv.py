"""The sandbox's OpenStack virtual environment: built once per pinned version set, kept in the user cache.

The services' own dependency tree (≈185 packages, ≈700 MB) never mixes with govcloud's: it lives in
`<cache>/openstack-venv/<key>/`, where the key hashes everything that decides its content (the constraints
file, the ML2 driver's files, the requirement list and the Python version). A venv is complete only once its
marker file exists; a half-built one (interrupted install) is removed and built again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gcloud.errors import EnvironmentProblem
from gcloud.localfs import cache_root, file_lock
from gcloud.sandbox.process import Progress, tail

REQUIREMENTS: tuple[str, ...] = (
    "keystone", "neutron", "nova", "cinder", "openstack-placement", "glance", "openstacksdk", "gunicorn",
)
"""What the sandbox runs (glance only with --full); exact versions come from the constraints file."""

DRIVER_DIST = "govcloud_ml2"
CONSTRAINTS = "openstack-constraints.txt"
_MARKER = ".govcloud-complete"
QUIET_ENV = {"PYTHONWARNINGS": "ignore"}
"""Silences the eventlet deprecation banner every OpenStack command prints."""




def data_dir() -> Path:
    """The package data folder shipped with govcloud (constraints, ML2 driver, WSGI shim)."""
    return Path(str(resources.files("gcloud.sandbox") / "data"))


def _driver_files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p) and p.parts[-2] != "build"
    )


def venv_key(data: Path, requirements: Sequence[str] = REQUIREMENTS, python: str | None = None) -> str:
    """A short hash of everything that decides the venv's content."""
    digest = hashlib.sha256()
    digest.update((python or f"{sys.version_info.major}.{sys.version_info.minor}").encode())
    digest.update("\0".join(requirements).encode())
    digest.update((data / CONSTRAINTS).read_bytes())
    driver = data / DRIVER_DIST
    for path in _driver_files(driver):
        digest.update(str(path.relative_to(driver)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class OpenStackVenv:
    """One cached venv holding every OpenStack service the sandbox runs."""

    path: Path
    data: Path

    @classmethod
    def default(cls) -> OpenStackVenv:
        data = data_dir()
        return cls(cache_root() / "openstack-venv" / venv_key(data), data)

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def etc(self, service: str) -> Path:
        """Where the services' wheels put their sample config (api-paste.ini and friends)."""
        return self.path / "etc" / service

    @property
    def installed(self) -> bool:
        return (self.path / _MARKER).is_file()

    def install(self, progress: Progress) -> bool:
        """Build the venv unless it is already complete; True when it was built now. Safe to run concurrently."""
        if self.installed:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path.parent / f".{self.path.name}.lock"):
            if self.installed:  # another process finished it while we waited
                return False
            if self.path.exists():
                progress(f"removing an incomplete OpenStack venv at {self.path}")
                shutil.rmtree(self.path)
            self._build(progress)
            (self.path / _MARKER).write_text("complete\n")
        return True

    def _build(self, progress: Progress) -> None:
        log = self.path.parent / f"{self.path.name}-install.log"
        log.write_text("")
        constraints = str(self.data / CONSTRAINTS)
        pip = [str(self.python), "-m", "pip", "install", "--disable-pip-version-check", "-c", constraints]
        progress(f"creating the OpenStack venv {self.path}")
        _run([sys.executable, "-m", "venv", str(self.path)], log, "create the venv")
        _run([*pip, "pip", "setuptools"], log, "upgrade pip")
        progress(f"installing {', '.join(REQUIREMENTS)} (pinned; about 80 s on a cold pip cache)")
        _run([*pip, *REQUIREMENTS], log, "install the OpenStack services")
        with tempfile.TemporaryDirectory(prefix="govcloud-ml2-") as tmp:
            # pip builds in the source tree: build from a copy so the installed package data stays untouched.
            source = Path(tmp) / DRIVER_DIST
            shutil.copytree(self.data / DRIVER_DIST, source, ignore=shutil.ignore_patterns("__pycache__"))
            _run([*pip, "--no-deps", "--no-build-isolation", str(source)], log, "install the ML2 driver")
        _run([str(self.python), "-m", "pip", "check"], log, "check the venv's dependencies")
        progress("OpenStack venv complete")




def _run(argv: Sequence[str], log: Path, what: str) -> None:
    with log.open("ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        result = subprocess.run(
            list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **QUIET_ENV}, check=False,
        )
    if result.returncode != 0:
        raise EnvironmentProblem(
            f"could not {what} for the OpenStack sandbox (exit {result.returncode}); last lines of {log}:\n"
            f"{tail(log, 25)}",
            hint="PyPI must be reachable for the first install; re-run `govcloud sandbox up` to retry",
        )
