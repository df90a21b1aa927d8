"""Builds the sandbox's Kubernetes binaries (etcd, kube-apiserver, kube-controller-manager) from Go modules.

Neither `k8s.io/kubernetes` nor `go.etcd.io/etcd/server/v3` can be built with `go install module@version`:
their go.mod files replace sibling modules with local folders (`./staging/src/k8s.io/api`, `../api`), which
`go install` refuses. So each is built through a small generated wrapper module that requires the main module
and maps every locally replaced sibling it requires to that sibling's *published* version (k/k v1.36.3 ->
k8s.io/api v0.36.3; etcd v3.6.16 -> go.etcd.io/etcd/api/v3 v3.6.16). The list comes from the module's own
go.mod, never from a hand-kept table, so a version bump is one constant.

Binaries land in `<cache>/kube/<bundle>/bin/` (see `cache_root`), are built under a temporary name and renamed
into place, and are reused when present: a cold build takes many minutes, a warm check is a few stat calls.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from gcloud.errors import EnvironmentProblem
from gcloud.localfs import cache_root, file_lock
from gcloud.sandbox.process import Progress

KUBE_VERSION = "v1.36.3"
"""Kubernetes release the sandbox runs (served by the module proxy; 1.37 would need Go 1.27)."""
ETCD_VERSION = "v3.6.16"
"""etcd release paired with it (the 3.6 line is what Kubernetes 1.34-1.36 are tested with)."""

KUBE_MODULE = "k8s.io/kubernetes"
ETCD_MODULE = "go.etcd.io/etcd/server/v3"
PROGRESS_EVERY = 30.0
"""Seconds between "still compiling" lines while go builds."""


# --- go.mod handling (pure) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replace:
    """One `replace` directive: `old [old_version] => new [new_version]`."""

    old: str
    new: str
    old_version: str = ""
    new_version: str = ""

    @property
    def local(self) -> bool:
        """A replacement by a folder (only meaningful inside the module's own source tree)."""
        return self.new.startswith(("./", "../", "/")) or self.new in (".", "..")

    def render(self) -> str:
        left = f"{self.old} {self.old_version}".strip()
        right = f"{self.new} {self.new_version}".strip()
        return f"{left} => {right}"


@dataclass(frozen=True)
class GoMod:
    """The parts of a go.mod file a wrapper module needs."""

    module: str
    go: str
    requires: dict[str, str] = field(default_factory=dict)
    replaces: tuple[Replace, ...] = ()


def _strip_comment(line: str) -> str:
    return line.split("//", 1)[0].strip()


def parse_go_mod(text: str) -> GoMod:
    """Parse module, go, require and replace directives (single-line and block forms) of a go.mod file."""
    module, go = "", ""
    requires: dict[str, str] = {}
    replaces: list[Replace] = []
    block = ""
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if not line:
            continue
        if block:
            if line == ")":
                block = ""
                continue
            entry = line
            verb = block
        else:
            verb, _, entry = line.partition(" ")
            entry = entry.strip()
            if entry == "(":
                block = verb
                continue
        words = entry.replace('"', "").split()
        if verb == "module" and words:
            module = words[0]
        elif verb == "go" and words:
            go = words[0]
        elif verb == "require" and len(words) >= 2:
            requires[words[0]] = words[1]
        elif verb == "replace" and "=>" in words:
            arrow = words.index("=>")
            left, right = words[:arrow], words[arrow + 1:]
            replaces.append(Replace(
                old=left[0], old_version=left[1] if len(left) > 1 else "",
                new=right[0], new_version=right[1] if len(right) > 1 else "",
            ))
    return GoMod(module=module, go=go, requires=requires, replaces=tuple(replaces))


def sibling_version(module: str, version: str) -> str:
    """The version at which a module's in-tree siblings are published: k/k v1.36.3 -> v0.36.3, else the same."""
    if module == KUBE_MODULE:
        return "v0." + version.split(".", 1)[1]
    return version


def wrapper_go_mod(wrapper: str, main: GoMod, version: str, siblings: str, tools: Sequence[str]) -> str:
    """A go.mod for a module that builds `tools` of `main`@`version` outside its source tree.

    Every locally replaced module that `main` requires is pinned to its published `siblings` version; local
    replaces of modules it does not require (etcd's FORBIDDEN_DEPENDENCY guards, unused sample modules) are
    dropped; non-local replaces are repeated as they are, since a dependency's replaces do not apply to us.
    """
    lines = [f"module {wrapper}", "", f"go {main.go or '1.26'}", "", f"require {main.module} {version}", ""]
    replaces: list[str] = []
    for rep in main.replaces:
        if rep.local:
            if rep.old in main.requires:
                replaces.append(Replace(old=rep.old, new=rep.old, new_version=siblings).render())
        else:
            replaces.append(rep.render())
    if replaces:
        lines += ["replace (", *(f"\t{r}" for r in sorted(replaces)), ")", ""]
    lines += [f"tool {t}" for t in tools]
    return "\n".join(lines) + "\n"


def kube_ldflags(version: str, commit: str, build_date: str) -> list[str]:
    """`-X` flags so `kube-apiserver --version` and /version report the release, as hack/lib/version.sh does."""
    major, minor = version.lstrip("v").split(".")[:2]
    values = {
        "gitVersion": version, "gitMajor": major, "gitMinor": minor, "gitCommit": commit,
        "gitTreeState": "clean", "buildDate": build_date,
    }
    return [
        f"-X {package}.{name}={value}"
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for name, value in values.items() if value
    ]


def etcd_ldflags(commit: str) -> list[str]:
    """etcd's only stamped value; its version is a constant in the source."""
    return [f"-X go.etcd.io/etcd/api/v3/version.GitSHA={commit[:12]}"] if commit else []


# --- building -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoBuild:
    """One wrapper-module build: which module at which version, which commands under which binary names."""

    module: str
    version: str
    commands: tuple[tuple[str, str], ...]
    """(binary name, package path of its main package)."""

    @property
    def binaries(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.commands)

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(package for _, package in self.commands)


KUBE_BUILD = GoBuild(KUBE_MODULE, KUBE_VERSION, (
    ("kube-apiserver", f"{KUBE_MODULE}/cmd/kube-apiserver"),
    ("kube-controller-manager", f"{KUBE_MODULE}/cmd/kube-controller-manager"),
))
ETCD_BUILD = GoBuild(ETCD_MODULE, ETCD_VERSION, (("etcd", ETCD_MODULE),))


@dataclass(frozen=True)
class KubeBinaries:
    """Where the three sandbox binaries live once built."""

    bin_dir: Path

    @classmethod
    def default(cls) -> KubeBinaries:
        return cls(cache_root() / "kube" / f"{KUBE_VERSION}-etcd-{ETCD_VERSION}" / "bin")

    @property
    def etcd(self) -> Path:
        return self.bin_dir / "etcd"

    @property
    def apiserver(self) -> Path:
        return self.bin_dir / "kube-apiserver"

    @property
    def controller_manager(self) -> Path:
        return self.bin_dir / "kube-controller-manager"

    @property
    def installed(self) -> bool:
        return all(os.access(p, os.X_OK) for p in (self.etcd, self.apiserver, self.controller_manager))

    def install(self, progress: Progress) -> bool:
        """Build whatever binary is missing; True when something was built. Safe to run concurrently."""
        if self.installed:
            return False
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        go = _go()
        with file_lock(self.bin_dir.parent / ".build.lock"):
            built = False
            for build in (ETCD_BUILD, KUBE_BUILD):
                if all(os.access(self.bin_dir / b, os.X_OK) for b in build.binaries):
                    continue
                _build(go, build, self.bin_dir, progress)
                built = True
        return built


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise EnvironmentProblem(
            "the `go` command is not on PATH; the sandbox builds etcd and Kubernetes from Go modules",
            hint="install Go 1.26 or newer (Debian: golang-go from backports) and re-run",
        )
    return go




def _build(go: str, build: GoBuild, bin_dir: Path, progress: Progress) -> None:
    what = f"{build.module}@{build.version}"
    info = _download(go, build, what)
    main = parse_go_mod(Path(str(info["GoMod"])).read_text())
    release = json.loads(Path(str(info["Info"])).read_text())
    commit = str((release.get("Origin") or {}).get("Hash", ""))
    work = bin_dir.parent / "wrapper" / build.binaries[0]
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    wrapper = f"govcloud.invalid/sandbox-build/{build.binaries[0]}"
    siblings = sibling_version(build.module, build.version)
    (work / "go.mod").write_text(wrapper_go_mod(wrapper, main, build.version, siblings, build.packages))
    progress(f"resolving the dependencies of {what} (siblings pinned at {siblings})")
    _run_go([go, "mod", "tidy"], work, what, progress)
    if build.module == KUBE_MODULE:
        flags = kube_ldflags(build.version, commit, str(release.get("Time", "")))
    else:
        flags = etcd_ldflags(commit)
    tmp = bin_dir.parent / f"bin.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    progress(f"compiling {', '.join(build.binaries)} from {what} (a cold build takes many minutes on 2 cores)")
    started = time.monotonic()
    ldflags = " ".join(["-s", "-w", *flags])
    for name, package in build.commands:
        partial = bin_dir / f".{name}.tmp-{os.getpid()}"
        _run_go([go, "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", str(partial), package],
                work, what, progress)
        partial.replace(bin_dir / name)
    progress(f"built {', '.join(build.binaries)} in {time.monotonic() - started:.0f} s into {bin_dir}")


def _download(go: str, build: GoBuild, what: str) -> dict[str, object]:
    out = subprocess.run(
        [go, "mod", "download", "-json", what], capture_output=True, text=True, check=False, env=_go_env(),
        stdin=subprocess.DEVNULL,
    )
    try:
        info: dict[str, object] = json.loads(out.stdout or "{}")
    except json.JSONDecodeError:
        info = {}
    if out.returncode != 0 or "GoMod" not in info:
        raise EnvironmentProblem(
            f"could not download {what} from the Go module proxy: {info.get('Error') or out.stderr.strip()}",
            hint="the Go module proxy (GOPROXY) must be reachable for the first build",
        )
    return info


def _go_env() -> dict[str, str]:
    flags = f"{os.environ.get('GOFLAGS', '')} -mod=mod".strip()
    return {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": flags}


def _run_go(argv: Sequence[str], cwd: Path, what: str, progress: Progress) -> None:
    """Run go, keeping the last lines of its output for the error and reporting progress every so often.

    `go build -v` names each package as it compiles it; a reader thread counts them while this thread reports,
    so a package that compiles for minutes still gets its "still compiling" line.
    """
    last: collections.deque[str] = collections.deque(maxlen=30)
    count = 0
    started = time.monotonic()

    def read(stream: IO[str]) -> None:
        nonlocal count
        for line in stream:
            last.append(line.rstrip())
            count += 1

    with subprocess.Popen(
        list(argv), cwd=cwd, env=_go_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    ) as proc:
        assert proc.stdout is not None
        reader = threading.Thread(target=read, args=(proc.stdout,), daemon=True)
        reader.start()
        while True:
            try:
                rc = proc.wait(timeout=PROGRESS_EVERY)
                break
            except subprocess.TimeoutExpired:
                latest = last[-1].strip() if last else "-"
                progress(f"  … go {argv[1]} of {what}: {time.monotonic() - started:.0f} s, "
                         f"{count} packages so far (latest {latest})")
        reader.join(timeout=5)
    if rc != 0:
        output = "\n".join(last)
        raise EnvironmentProblem(
            f"building {what} failed: `go {' '.join(argv[1:3])}` exited {rc}; last lines of its output:\n{output}",
            hint="the Go module proxy must serve every dependency; re-run to retry (finished parts are cached)",
        )
