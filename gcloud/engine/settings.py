"""Where stacks live and how the engine runs: offline, with a passphrase, with our interpreter.

The project file is `Pulumi.yaml` at the repository root (shipped inside the package too, for a wheel). Layout of
the state directory (`GOVCLOUD_STATE_DIR`, default `<project>/.govcloud/state`, where the project is the folder of
that Pulumi.yaml in a checkout, else the current folder)::

    <state>/.pulumi/      the file backend (Pulumi's own layout; locks under .pulumi/locks)
    <state>/workspace/    Pulumi.<tenant>.yaml (stack config: encrypted secrets and salt): the project's
                          `stackConfigDir`
    <state>/home/         PULUMI_HOME (no credentials are needed for the file backend)

When the state is the project's own (`<project>/.govcloud/state`), the engine runs in the project folder with the
root Pulumi.yaml, so the Pulumi CLI run there sees the same stacks. Any other state folder gets a copy of the
project file in `<state>/workspace/` (without `stackConfigDir` and `backend`, which point at the default state).
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

from gcloud.state.backend import is_postgres

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

PROJECT_FILE_NAME = "Pulumi.yaml"
STATE_IN_PROJECT = Path(".govcloud") / "state"
"""The project's own state folder, relative to the project folder (the root Pulumi.yaml's stackConfigDir and
backend point into it)."""
_POINTS_AT_DEFAULT_STATE = ("stackConfigDir:", "backend:", "  url:")


def project_file() -> Path:
    """The repository's Pulumi.yaml in a checkout; in an installed wheel, the copy shipped in the package."""
    checkout = Path(__file__).resolve().parents[2] / PROJECT_FILE_NAME
    return checkout if checkout.is_file() else Path(__file__).with_name(PROJECT_FILE_NAME)


def checkout_dir() -> Path | None:
    """The folder of the repository's Pulumi.yaml in a checkout (None for an installed wheel)."""
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / PROJECT_FILE_NAME).is_file() else None


def detached_project_file(text: str) -> str:
    """The project file for a state folder of its own: the same project, config beside it, backend from the env."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(_POINTS_AT_DEFAULT_STATE))


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


def state_location(project: Path | None = None, environ: Mapping[str, str] | None = None,
                   state_dir: Path | None = None) -> tuple[Path, str]:
    """(state directory, backend URL): the argument, else GOVCLOUD_STATE_DIR, else <project>/.govcloud/state.

    The project folder is the argument, else the checkout's (so any current folder finds the same state), else
    the current folder.
    """
    env = os.environ if environ is None else environ
    if state_dir is None:
        root = project or checkout_dir() or Path.cwd()
        state_dir = Path(env[STATE_ENV]) if env.get(STATE_ENV) else root / STATE_IN_PROJECT
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
    project: Path | None = None
    """The folder of the root Pulumi.yaml when this state is that project's own; None: a detached copy is used."""

    @classmethod
    def from_environment(cls, project_dir: Path | None = None, *, environ: Mapping[str, str] | None = None,
                         state_dir: Path | None = None, extra_env: Mapping[str, str] | None = None,
                         toolchain: Toolchain | None = None) -> EngineSettings:
        """Settings from the environment; EngineMissing / MissingPassphrase say exactly what to fix."""
        env = os.environ if environ is None else environ
        tools = toolchain or find_toolchain(env)
        passphrase = find_passphrase(env)
        where, url = state_location(project_dir, env, state_dir)
        root = project_dir or checkout_dir()
        own = None
        if root is not None and (root / PROJECT_FILE_NAME).is_file() and (root / STATE_IN_PROJECT).absolute() == where:
            own = root
        return cls(tools, where, url, passphrase, extra_env=dict(extra_env or {}), project=own)

    @property
    def config_dir(self) -> Path:
        """Where the stacks' Pulumi.<tenant>.yaml live (the root project file's stackConfigDir)."""
        return self.state_dir / "workspace"

    @property
    def work_dir(self) -> Path:
        """Where the engine runs: the project folder (root Pulumi.yaml), or the state's detached copy."""
        return self.project if self.project is not None else self.config_dir

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
            # Pulumi 3.259's postgres backend lists stacks with 10 workers each holding a pooled connection and
            # asking for another: on a small pool it deadlocks (measured: `stack ls` hung 600 s)
            **({"PULUMI_DIY_BACKEND_PARALLEL": "1"} if is_postgres(self.backend_url) else {}),
            **self.extra_env,
        }

    def prepare(self) -> None:
        """Create the state folders and the project file (atomically: parallel workers share it)."""
        for folder in (self.config_dir, self.pulumi_home):
            folder.mkdir(parents=True, exist_ok=True)
        if self.backend_dir is not None:
            self.backend_dir.mkdir(parents=True, exist_ok=True)
        if self.project is not None:
            return
        wanted = detached_project_file(project_file().read_text(encoding="utf-8"))
        target = self.config_dir / PROJECT_FILE_NAME
        if target.exists() and target.read_text(encoding="utf-8") == wanted:
            return
        fd, tmp = tempfile.mkstemp(dir=self.config_dir, prefix=".Pulumi.yaml.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(wanted)
        Path(tmp).replace(target)
