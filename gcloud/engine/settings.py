"""Where stacks live and how the engine runs: offline, with a passphrase, with our interpreter.

Layout of the state directory (`GOVCLOUD_STATE_DIR`, default `<project>/.govcloud/state`)::

    <state>/.pulumi/      the file backend (Pulumi's own layout; locks under .pulumi/locks)
    <state>/workspace/    Pulumi.yaml and Pulumi.<tenant>.yaml (stack config: encrypted secrets and salt)
    <state>/home/         PULUMI_HOME (no credentials are needed for the file backend)

Any `PULUMI_BACKEND_URL` already set (an S3-compatible bucket, another folder) is honoured instead of the file
backend; the workspace and PULUMI_HOME stay local. Keep the state directory and the passphrase: together they
are the only way to change or delete what was provisioned.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from .errors import PASSPHRASE_HINT, MissingPassphrase
from .toolchain import Toolchain, find_toolchain

PROJECT = "govcloud"
STATE_ENV = "GOVCLOUD_STATE_DIR"
PASSPHRASE = "PULUMI_CONFIG_PASSPHRASE"
PASSPHRASE_FILE = "PULUMI_CONFIG_PASSPHRASE_FILE"

OFFLINE_ENV: Mapping[str, str] = {
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    "PULUMI_CREDENTIAL_STORE": "plaintext",
    "PULUMI_DISABLE_REGISTRY_RESOLVE": "true",
    "PULUMI_SUPPRESS_NEO_LINK": "true",
    "PULUMI_SUPPRESS_COPILOT_LINK": "true",
    "PULUMI_NEO": "false",
    "PULUMI_COPILOT": "false",
}
"""Settings that keep the engine from reaching the Internet (update checks, plugin downloads, registry, Neo)."""

PROJECT_FILE = f"""\
# Written by govcloud: one inline program, one stack per tenant (stack name = tenant id).
name: {PROJECT}
runtime: python
description: govcloud tenant stacks
"""


@dataclass(frozen=True)
class Passphrase:
    """Where the secrets passphrase comes from; `env` (what the engine gets) never shows in a repr."""

    source: str
    env: Mapping[str, str] = field(repr=False, compare=False)


def find_passphrase(environ: Mapping[str, str] | None = None) -> Passphrase:
    """The passphrase setting as Pulumi reads it (the variable first, then the file), or MissingPassphrase."""
    env = os.environ if environ is None else environ
    if env.get(PASSPHRASE):
        return Passphrase(PASSPHRASE, {PASSPHRASE: env[PASSPHRASE]})
    if PASSPHRASE in env:
        raise MissingPassphrase(f"{PASSPHRASE} is set but empty", hint=PASSPHRASE_HINT)
    file = env.get(PASSPHRASE_FILE, "").strip()
    if not file:
        raise MissingPassphrase(f"neither {PASSPHRASE} nor {PASSPHRASE_FILE} is set", hint=PASSPHRASE_HINT)
    path = Path(file).expanduser().absolute()
    try:
        readable = bool(path.read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError) as err:
        raise MissingPassphrase(f"{PASSPHRASE_FILE}={path} cannot be read ({err.__class__.__name__})",
                                hint=PASSPHRASE_HINT) from None
    if not readable:
        raise MissingPassphrase(f"{PASSPHRASE_FILE}={path} is empty", hint=PASSPHRASE_HINT)
    return Passphrase(f"{PASSPHRASE_FILE}={path}", {PASSPHRASE_FILE: str(path)})


def state_location(project_dir: Path | None = None, environ: Mapping[str, str] | None = None,
                   state_dir: Path | None = None) -> tuple[Path, str]:
    """(state directory, backend URL): the argument, else GOVCLOUD_STATE_DIR, else <project>/.govcloud/state."""
    env = os.environ if environ is None else environ
    if state_dir is None:
        state_dir = Path(env[STATE_ENV]) if env.get(STATE_ENV) else (project_dir or Path.cwd()) / ".govcloud" / "state"
    state_dir = state_dir.expanduser().absolute()
    return state_dir, env.get("PULUMI_BACKEND_URL") or state_dir.as_uri()


@dataclass(frozen=True)
class EngineSettings:
    """Everything a stack operation needs besides its program; picklable (it is handed to worker processes)."""

    toolchain: Toolchain
    state_dir: Path
    backend_url: str
    passphrase: Passphrase
    python: str = sys.executable
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, project_dir: Path | None = None, *, environ: Mapping[str, str] | None = None,
                         state_dir: Path | None = None, extra_env: Mapping[str, str] | None = None,
                         toolchain: Toolchain | None = None) -> EngineSettings:
        """Settings from the environment; EngineMissing / MissingPassphrase say exactly what to fix."""
        env = os.environ if environ is None else environ
        tools = toolchain or find_toolchain(env)
        passphrase = find_passphrase(env)
        where, url = state_location(project_dir, env, state_dir)
        return cls(tools, where, url, passphrase, extra_env=dict(extra_env or {}))

    @property
    def work_dir(self) -> Path:
        return self.state_dir / "workspace"

    @property
    def pulumi_home(self) -> Path:
        return self.state_dir / "home"

    @property
    def backend_dir(self) -> Path | None:
        """The folder of a file:// backend (None for a bucket)."""
        url = urlparse(self.backend_url)
        return Path(unquote(url.path)) if url.scheme == "file" else None

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The variables every engine command (and the dynamic providers it starts) runs with."""
        base_env = os.environ if base is None else base
        path = os.pathsep.join([*(str(p) for p in self.toolchain.bin_dirs), base_env.get("PATH", os.defpath)])
        return {
            **OFFLINE_ENV,
            "PULUMI_BACKEND_URL": self.backend_url,
            "PULUMI_HOME": str(self.pulumi_home),
            "PULUMI_PYTHON_CMD": self.python,
            "PATH": path,
            **self.passphrase.env,
            **self.extra_env,
        }

    def prepare(self) -> None:
        """Create the state folders and the project file (atomically: parallel workers share it)."""
        for folder in (self.work_dir, self.pulumi_home):
            folder.mkdir(parents=True, exist_ok=True)
        if self.backend_dir is not None:
            self.backend_dir.mkdir(parents=True, exist_ok=True)
        project = self.work_dir / "Pulumi.yaml"
        if project.exists() and project.read_text(encoding="utf-8") == PROJECT_FILE:
            return
        fd, tmp = tempfile.mkstemp(dir=self.work_dir, prefix=".Pulumi.yaml.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(PROJECT_FILE)
        Path(tmp).replace(project)
