"""Find the pinned Pulumi engine and its Python plugin launcher; never download anything.

The engine version is the version of the installed `pulumi` Python package (pinned in pyproject.toml): the
Automation API and the CLI must agree. Places looked at, in order:

1. `GOVCLOUD_PULUMI_BIN` (the `pulumi` binary or its folder): an explicit choice, so a wrong version is an error;
2. `pulumi` on PATH, used only when it reports exactly the pinned version;
3. the version-keyed user cache `${GOVCLOUD_CACHE:-${XDG_CACHE_HOME:-~/.cache}/govcloud}/pulumi/<version>/bin`,
   where `scripts/build-pulumi.sh` builds it from Go modules.

The launcher `pulumi-resource-pulumi-python` (the engine starts Python dynamic providers through it) is looked
for beside the engine, then in the cache folder, then on PATH. `write_launcher` writes it into the cache folder;
`scripts/bootstrap.sh` runs `python -m gcloud.engine.toolchain` for that, so the path and its PATH rule live here
only.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gcloud.localfs import cache_root

from .errors import BOOTSTRAP_HINT, EngineMissing

ENGINE_ENV = "GOVCLOUD_PULUMI_BIN"
LAUNCHER = "pulumi-resource-pulumi-python"


def sdk_version() -> str:
    """The installed Pulumi Python SDK version: the engine version govcloud needs."""
    return importlib.metadata.version("pulumi")


def cached_bin_dir(version: str, environ: Mapping[str, str] | None = None) -> Path:
    """The folder scripts/build-pulumi.sh builds `pulumi` into (and bootstrap writes the launcher into)."""
    return cache_root(environ) / "pulumi" / version / "bin"


@functools.lru_cache(maxsize=16)
def _probe(path: str, mtime_ns: int) -> str | None:
    del mtime_ns  # part of the cache key only: a rebuilt binary is probed again
    try:
        done = subprocess.run([path, "version"], capture_output=True, text=True, timeout=30, check=False,
                              env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.strip()
    return text.removeprefix("v") if done.returncode == 0 and text else None


def engine_version(binary: Path) -> str | None:
    """What `pulumi version` says (without the leading v), or None when it does not run."""
    try:
        stat = binary.stat()
    except OSError:
        return None
    return _probe(str(binary), stat.st_mtime_ns) if os.access(binary, os.X_OK) else None


@dataclass(frozen=True)
class Candidate:
    """One place looked at for the engine, and what was found there (for messages and `doctor`)."""

    source: str
    path: Path
    version: str | None

    def describe(self, wanted: str) -> str:
        if self.version is None:
            return f"{self.source}: {self.path} (absent or does not run)"
        verdict = "ok" if self.version == wanted else f"v{self.version}, not v{wanted}"
        return f"{self.source}: {self.path} ({verdict})"


@dataclass(frozen=True)
class Toolchain:
    """The engine found: its binary, version, where it came from, and the dynamic-provider launcher."""

    pulumi: Path
    version: str
    source: str
    launcher: Path

    @property
    def bin_dirs(self) -> tuple[Path, ...]:
        """Folders to put first on the engine's PATH: the engine's own, and the launcher's."""
        return tuple(dict.fromkeys((self.pulumi.parent, self.launcher.parent)))


def find_toolchain(environ: Mapping[str, str] | None = None) -> Toolchain:
    """The pinned engine and launcher, or EngineMissing saying what was looked at and how to fix it."""
    env = os.environ if environ is None else environ
    binary, source = find_engine(env)
    return Toolchain(pulumi=binary, version=sdk_version(), source=source, launcher=find_launcher(binary, env))


def find_engine(env: Mapping[str, str]) -> tuple[Path, str]:
    """(binary, where it was found) of the pinned engine, or EngineMissing listing what was looked at."""
    wanted = sdk_version()
    explicit = env.get(ENGINE_ENV, "").strip()
    if explicit:
        path = Path(explicit).expanduser()
        path = path / "pulumi" if path.is_dir() else path
        found = Candidate(ENGINE_ENV, path, engine_version(path))
        if found.version != wanted:
            raise EngineMissing(f"Pulumi engine v{wanted} not found: {found.describe(wanted)}",
                                hint=f"point {ENGINE_ENV} at a v{wanted} binary, or unset it and {BOOTSTRAP_HINT}")
        return _usable(path, ENGINE_ENV), ENGINE_ENV
    looked: list[Candidate] = []
    on_path = shutil.which("pulumi", path=env.get("PATH", ""))
    if on_path:
        candidate = Candidate("PATH", Path(on_path), engine_version(Path(on_path)))
        looked.append(candidate)
        if candidate.version == wanted and candidate.path.parent.name == "bin":
            return candidate.path, "PATH"
    cached = cached_bin_dir(wanted, env) / "pulumi"
    candidate = Candidate("cache", cached, engine_version(cached))
    looked.append(candidate)
    if candidate.version == wanted:
        return cached, "cache"
    raise EngineMissing(f"Pulumi engine v{wanted} not found; looked at: "
                        + "; ".join(c.describe(wanted) for c in looked), hint=BOOTSTRAP_HINT)


def _usable(path: Path, source: str) -> Path:
    """The Automation API runs `<root>/bin/pulumi`: the binary must be named pulumi inside a bin/ folder."""
    if path.name != "pulumi" or path.parent.name != "bin":
        raise EngineMissing(f"{source}={path}: the engine must be a file named `pulumi` inside a `bin/` folder",
                            hint="move or link it to .../bin/pulumi")
    return path


def find_launcher(binary: Path, env: Mapping[str, str]) -> Path:
    """The dynamic-provider launcher for this engine, or EngineMissing."""
    wanted = sdk_version()
    for folder in (binary.parent, cached_bin_dir(wanted, env)):
        if os.access(folder / LAUNCHER, os.X_OK):
            return folder / LAUNCHER
    on_path = shutil.which(LAUNCHER, path=env.get("PATH", ""))
    if on_path:
        return Path(on_path)
    raise EngineMissing(f"the Python dynamic-provider launcher {LAUNCHER} is missing (looked beside {binary}, "
                        f"in {cached_bin_dir(wanted, env)} and on PATH)", hint=BOOTSTRAP_HINT)


LAUNCHER_SCRIPT = """#!/bin/sh
# Pulumi launcher for Python dynamic providers (written by gcloud.engine.toolchain): govcloud sets PULUMI_PYTHON_CMD,
# and GOVCLOUD_PROVIDER_HOST while it runs stacks (a pre-warmed parent then forks the provider).
if [ -n "${GOVCLOUD_PROVIDER_HOST:-}" ]; then
  exec "${PULUMI_PYTHON_CMD:-python3}" -u -m gcloud.engine.provider_host "$@"
fi
exec "${PULUMI_PYTHON_CMD:-python3}" -u -m pulumi.dynamic "$@"
"""


def write_launcher(environ: Mapping[str, str] | None = None) -> tuple[Path, bool]:
    """(path, whether it was written): the launcher in the version-keyed cache folder, where `find_launcher` looks
    even when the engine comes from a read-only PATH folder. Written atomically; left alone when already right."""
    target = cached_bin_dir(sdk_version(), environ) / LAUNCHER
    try:
        if target.read_text(encoding="utf-8") == LAUNCHER_SCRIPT and os.access(target, os.X_OK):
            return target, False
    except OSError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{LAUNCHER}.{os.getpid()}")
    temp.write_text(LAUNCHER_SCRIPT, encoding="utf-8")
    temp.chmod(0o755)
    temp.replace(target)
    return target, True


if __name__ == "__main__":  # scripts/bootstrap.sh: write the launcher, say where when it changed
    path, written = write_launcher()
    if written:
        print(f"wrote {path}", file=sys.stderr)
