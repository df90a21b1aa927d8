"""The git edge of `policy diff`: a revision's policy, tenant and platform files, checked without a checkout.

The files are read with `git ls-tree` and `git cat-file --batch` (one process for all blobs, so a fleet of
thousands of tenant files costs one round trip) into a temporary folder laid out like the repository; the
working tree, the index and HEAD are never touched.

The default base is the merge-base of HEAD with `main` (or `origin/main`): on a branch that is what the merge
request changes; on main itself it is HEAD, so the diff shows the uncommitted edits. Without either branch it
is HEAD.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from gcloud.errors import InputError, Problem
from gcloud.localfs import display_path
from gcloud.model import load_fleet

from .check import check_fleet, run_check
from .diff import PolicyDiff, compare, relabel
from .finding import CheckResult
from .policy import PolicySet

DEFAULT_BRANCHES = ("main", "origin/main")
BLOB_MODES = ("100644", "100755")
"""Regular files only: a symlink in the tree could point out of the temporary folder."""


class GitFailed(Exception):
    """A git command failed; `stderr` says why."""

    def __init__(self, args: Sequence[str], stderr: str) -> None:
        super().__init__(f"git {' '.join(args)}: {stderr.strip()}")
        self.stderr = stderr


def git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise InputError.single(str(root), "git is not installed", code="git-missing",
                                hint="install git, or run `policy check` on each revision") from None
    if done.returncode != 0:
        raise GitFailed(args, done.stderr.decode("utf-8", "replace"))
    return done.stdout


def repo_root(start: Path) -> Path:
    try:
        return Path(git(start, "rev-parse", "--show-toplevel").decode().strip()).resolve()
    except GitFailed:
        raise InputError.single(display_path(start), "not inside a git repository", code="not-a-repository",
                                hint="policy diff compares with a git revision; run it in the repository") from None


def resolve_revision(root: Path, revision: str | None) -> tuple[str, str]:
    """(label, commit id) of the given revision, or of the default base (see the module docstring)."""
    if revision is None:
        for branch in DEFAULT_BRANCHES:
            try:
                commit = git(root, "merge-base", "HEAD", branch).decode().strip()
            except GitFailed:
                continue
            return f"merge-base with {branch} ({commit[:12]})", commit
        revision = "HEAD"
    try:
        commit = git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").decode().strip()
    except GitFailed:
        raise InputError.single(display_path(root), f"no such revision {revision!r}", field="--base",
                                code="unknown-revision", hint="a branch, tag or commit, e.g. --base main") from None
    return f"{revision} ({commit[:12]})", commit


def export_paths(root: Path, commit: str, paths: Sequence[PurePosixPath], dest: Path) -> list[PurePosixPath]:
    """Write the regular files under `paths` at `commit` into `dest`; the repository paths written."""
    blobs: list[tuple[str, PurePosixPath]] = []
    listing = git(root, "ls-tree", "-r", "-z", "--full-tree", commit, "--", *(str(p) for p in paths))
    for entry in filter(None, listing.split(b"\0")):
        meta, _, name = entry.partition(b"\t")
        mode, kind, sha = meta.decode().split()
        path = PurePosixPath(name.decode("utf-8", "surrogateescape"))
        if kind == "blob" and mode in BLOB_MODES and ".." not in path.parts and not path.is_absolute():
            blobs.append((sha, path))
    if not blobs:
        return []
    stream = git(root, "cat-file", "--batch", stdin="".join(f"{sha}\n" for sha, _ in blobs).encode())
    offset = 0
    for _, path in blobs:
        header_end = stream.index(b"\n", offset)
        size = int(stream[offset:header_end].split()[2])
        target = dest.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(stream[header_end + 1:header_end + 1 + size])
        offset = header_end + 1 + size + 1
    return [path for _, path in blobs]


def _in_repo(root: Path, path: Path) -> PurePosixPath:
    try:
        return PurePosixPath(path.resolve().relative_to(root).as_posix())
    except ValueError:
        raise InputError.single(display_path(path), "is outside the git repository", code="outside-repository",
                                hint=f"policy diff reads files of the repository at {root}") from None


def _labeller(temp: Path, root: Path) -> Callable[[str], str]:
    """A temporary path's label -> the label the same file has in the working tree."""
    prefix = str(temp) + "/"

    def label(text: str) -> str:
        return display_path(root / text[len(prefix):]) if text.startswith(prefix) else text

    return label


def check_revision(root: Path, commit: str, tenant_paths: Sequence[Path], platform_path: Path,
                   policies_path: Path, today: dt.date) -> CheckResult:
    """`policy check` on the files as they were at `commit`, labelled with the working tree's paths.

    A tenant file or folder missing at the base counts as no tenants; missing policies as no policies (the
    diff then shows everything the new files find); a missing platform file is an input error.
    """
    temp = Path(tempfile.mkdtemp(prefix="govcloud-diff-")).resolve()
    label = _labeller(temp, root)
    try:
        wanted = {path: _in_repo(root, path) for path in [*tenant_paths, platform_path, policies_path]}
        written = export_paths(root, commit, sorted(set(wanted.values())), temp)

        def present(path: Path) -> bool:
            relative = wanted[path]
            return any(item == relative or relative in item.parents for item in written)

        base_tenants = [temp / wanted[p] for p in tenant_paths if present(p)]
        for path in tenant_paths:  # a folder that did not exist yet: an empty one, so no tenants
            if path.is_dir() and not present(path):
                (temp / wanted[path]).mkdir(parents=True, exist_ok=True)
                base_tenants.append(temp / wanted[path])
        if not present(platform_path):
            raise InputError.single(display_path(platform_path), f"does not exist at {commit[:12]}",
                                    code="missing-at-base", hint="choose a later --base")
        base_platform = temp / wanted[platform_path]
        try:
            if present(policies_path):
                result = run_check(base_tenants, base_platform, temp / wanted[policies_path], today)
            else:
                result = check_fleet(load_fleet(base_tenants, base_platform), PolicySet(()), today)
        except InputError as err:
            raise InputError([_relabel_problem(problem, label, commit) for problem in err.problems]) from None
        return relabel(result, label)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _relabel_problem(problem: Problem, label: Callable[[str], str], commit: str) -> Problem:
    location = dataclasses.replace(problem.location, file=label(problem.location.file))
    return dataclasses.replace(problem, location=location, message=f"(at {commit[:12]}) {problem.message}")


def run_diff(tenant_paths: Sequence[Path], platform_path: Path, policies_path: Path, base: str | None,
             today: dt.date, cwd: Path | None = None) -> PolicyDiff:
    """The findings at the base revision against the working tree's (both as of `today`)."""
    root = repo_root(cwd or Path.cwd())
    base_label, commit = resolve_revision(root, base)
    head = run_check(tenant_paths, platform_path, policies_path, today)
    before = check_revision(root, commit, tenant_paths, platform_path, policies_path, today)
    return compare(before, head, base_label)
