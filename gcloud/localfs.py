"""Small facts about the local machine every edge shares: the user cache, file locks, paths for messages."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """`${GOVCLOUD_CACHE:-${XDG_CACHE_HOME:-~/.cache}/govcloud}`: where built things are kept per version."""
    env = os.environ if environ is None else environ
    if env.get("GOVCLOUD_CACHE"):
        return Path(env["GOVCLOUD_CACHE"]).expanduser()
    base = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "govcloud"


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held through a lock file, so two processes never build or write at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def display_path(path: Path) -> str:
    """A path relative to the working directory when it is under it, as users typed it.

    String work on the absolute path, no resolve(): resolving every component costs a system call each, which was
    measured at about 1 s per 1,000 tenant files.
    """
    absolute, cwd = str(path.absolute()), str(Path.cwd()).rstrip(os.sep)
    if absolute == cwd:
        return "."
    if absolute.startswith(cwd + os.sep):
        return absolute[len(cwd) + 1:]
    return str(path)
