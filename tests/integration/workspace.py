"""A copy of the example repository layout with its own engine state, passphrase and sandbox environment.

Integration modules that provision tenants through the real CLI share it (`workspace_for`), so each module's
story starts from a clean state folder and ends by destroying what it applied.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gcloud.engine.runner import StackJob, run_stacks
from gcloud.engine.settings import EngineSettings
from gcloud.model import Fleet, load_fleet
from gcloud.plan import run
from gcloud.plan.record import read_record
from gcloud.providers import credentials

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Workspace:
    """A copy of the example repository layout, with its own engine state and passphrase."""

    root: Path
    state: Path

    @property
    def tenants(self) -> Path:
        return self.root / "tenants"

    def file(self, tenant: str) -> Path:
        return self.tenants / f"{tenant}.yaml"

    def edit(self, tenant: str, old: str, new: str) -> None:
        """Replace one exact passage of a tenant file (it must occur once), as a reviewer would see it."""
        path = self.file(tenant)
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{path.name}: {old!r} occurs {text.count(old)} times"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def fleet(self) -> Fleet:
        return load_fleet([self.tenants], self.root / "platform.yaml", read_record(self.state).pinned_cidrs())

    def settings(self) -> EngineSettings:
        return EngineSettings.from_environment(self.root)

    def prepare(self) -> run.Prepared:
        return run.prepare([self.tenants], self.root / "platform.yaml", self.root / "policies", self.settings())

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`python -m gcloud.cli ARGS` in the workspace: the real entry point, in a process of its own (tables as
        wide as a wide terminal, so a test reads cells whole)."""
        return subprocess.run([sys.executable, "-m", "gcloud.cli", *args], cwd=self.root,
                              env={**os.environ, "COLUMNS": "250"}, capture_output=True, text=True, timeout=900,
                              check=False)

    def cli_json(self, *args: str) -> tuple[int, dict[str, Any], str]:
        done = self.cli(*args, "--output", "json")
        try:
            document: dict[str, Any] = json.loads(done.stdout)
        except ValueError:
            raise AssertionError(f"exit {done.returncode}, no JSON on stdout:\n{done.stdout}\n{done.stderr}") from None
        return done.returncode, document, done.stderr

    def snapshot(self, skip: tuple[str, ...] = ()) -> dict[str, tuple[bool, int, str]]:
        """Every file and folder of the state dir (but the top-level folders in `skip`): kind, mtime, content
        hash. Any engine call changes it."""
        if not self.state.exists():
            return {}
        return {str(p.relative_to(self.state)): (p.is_dir(), p.stat().st_mtime_ns,
                                                 hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "")
                for p in [self.state, *self.state.rglob("*")]
                if p == self.state or p.relative_to(self.state).parts[0] not in skip}



@contextmanager
def workspace_for(sandbox: Any, root: Path) -> Iterator[Workspace]:
    """The workspace, with the sandbox's clouds.yaml/kubeconfig and the engine settings in the environment (for
    the CLI processes, the engine's workers and the provider processes alike). Destroys what is left at the end."""
    for folder in ("tenants", "policies"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copy(REPO / "platform.yaml", root / "platform.yaml")
    passphrase = root / "passphrase"
    passphrase.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
    passphrase.chmod(0o600)
    workspace = Workspace(root, root / "state")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in sandbox.env.items():
            patch.setenv(key, value)
        patch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(passphrase))
        patch.setenv("GOVCLOUD_STATE_DIR", str(workspace.state))
        for key in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND_URL", "GOVCLOUD_DEBUG"):
            patch.delenv(key, raising=False)
        credentials.forget_clients()
        try:
            yield workspace
        finally:
            left = read_record(workspace.state).tenants
            if left:
                results = run_stacks([StackJob(name, "destroy", remove=True) for name in sorted(left)], parallel=4,
                                     settings=workspace.settings())
                failures = [f"{r.stack}: {r.error}" for r in results if not r.ok]
                assert not failures, failures
            credentials.forget_clients()
