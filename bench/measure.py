"""What the drift, remote-cloud and fleet benchmarks share: their sandbox, CPU and memory by owner, API requests.

* The sandbox: port offset 2500 in the fixed folder /tmp/bench-sandbox (restarts on its existing state are
  fast); the workspace of each run is a fresh subfolder, and tenant numbers come from a counter kept beside the
  sandbox, so a run never meets the names of an earlier run's tenants.
* CPU by owner (`Meter`): govcloud's = every process the measured command starts, at any depth, whatever session
  or process group it moves to (the provider host starts a session of its own), sampled from /proc every 0.25 s.
  Two counts, the larger reported: (a) each process's own utime + stime at its last sample, summed (misses only
  the last 0.25 s of each process and processes that live less than that); (b) the waited-for descendants' CPU
  (RUSAGE_CHILDREN, exact for what is reaped) plus the last sample of each member orphaned to init. (b) alone is
  what `cpu_s_command` of bench_parallel measured, and it misses most of govcloud's CPU: processes that are never
  waited for by their parent in the tree (reaped by init) take their CPU with them. The sandbox's = its services'
  sessions (utime, stime and their reaped children). The latency proxy's (bench_remote) = its own process. The
  machine's = /proc/stat. What is left (`cpu_s_unattributed`) is other sessions on this shared machine (see the
  load average beside each figure), the kernel, and this benchmark's own sampling.
* Memory (`Meter`): the peak over the run of the summed PSS of govcloud's live processes (forks share pages;
  PSS splits them, RSS would count them once per fork) and the summed RSS beside it.
* API requests: `bench/counting/sitecustomize.py` writes one line per HTTP request of every Python process of
  the command; `count_requests` sorts them by service and kind (token, discovery, read, write).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.bench_onboarding import CLOCK_TICK, REPO, BenchCloud, bench_cloud, load_average, log

SANDBOX_ROOT = Path("/tmp/bench-sandbox")
PORT_OFFSET = 2500
"""Keystone 7500, Neutron 12196, kube-apiserver 8943, etcd 26290; toxiproxy 22500 and up: clear of the demo (0),
bench_parallel (2000), bench_onboarding (3000) and the tests (4000 and the engineers' own)."""
COUNTING = REPO / "bench" / "counting"
SAMPLE_S = 0.25


# --- the sandbox and the workspace -----------------------------------------------------------------------------

@contextlib.contextmanager
def fixed_bench_cloud(run: str) -> Iterator[BenchCloud]:
    """The sandbox in SANDBOX_ROOT/sandbox (started, stopped at the end) with a fresh workspace SANDBOX_ROOT/<run>."""
    SANDBOX_ROOT.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (SANDBOX_ROOT / "policies").unlink()  # bench_cloud links it anew
    with bench_cloud(SANDBOX_ROOT, PORT_OFFSET) as cloud:
        work = SANDBOX_ROOT / run
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        yield cloud


def fresh_indices(count: int) -> int:
    """The first of `count` tenant numbers no earlier run on this sandbox used."""
    counter = SANDBOX_ROOT / "next-tenant-index"
    with (SANDBOX_ROOT / ".index.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        first = int(counter.read_text()) if counter.is_file() else 1000
        counter.write_text(str(first + count))
    return first


def sandbox_ports(offset: int = PORT_OFFSET) -> dict[int, str]:
    """Port -> service of the sandbox's APIs (direct, not through a proxy)."""
    from gcloud.sandbox.kubernetes import Ports as KubePorts
    from gcloud.sandbox.openstack_config import Ports

    ports = Ports.with_offset(offset)
    return {ports.keystone: "keystone", ports.neutron: "neutron", ports.nova: "nova", ports.cinder: "cinder",
            ports.placement: "placement", KubePorts(offset).apiserver: "kube"}


# --- running govcloud ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    seconds: float
    code: int
    report: dict[str, Any]
    cpu: dict[str, Any]
    requests: dict[str, Any]


def counting_env(env: Mapping[str, str], requests_file: Path) -> dict[str, str]:
    """`env` with the request counter on (PYTHONPATH first, the file to append to)."""
    path = os.pathsep.join(p for p in (str(COUNTING), str(REPO), env.get("PYTHONPATH", "")) if p)
    return {**env, "PYTHONPATH": path, "GOVCLOUD_BENCH_REQUESTS": str(requests_file)}


def govcloud(cloud: BenchCloud, args: Sequence[str], state: Path, *, ports: Mapping[int, str], tenants: int,
             ok: tuple[int, ...] = (0,), label: str = "", others: Mapping[str, int] | None = None) -> Run:
    """`python -m gcloud.cli ARGS --output json`, metered and counted; raises unless it exits with one of `ok`."""
    requests_file = cloud.root / f"requests-{time.monotonic_ns()}.log"
    env = {**counting_env(cloud.env, requests_file), "GOVCLOUD_STATE_DIR": str(state)}
    with Meter(cloud.sessions, dict(others or {})) as meter:
        command = subprocess.Popen([sys.executable, "-m", "gcloud.cli", *args, "--output", "json"], cwd=cloud.root,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        meter.root = command.pid
        stdout, stderr = command.communicate()
    done = subprocess.CompletedProcess(command.args, command.returncode, stdout, stderr)
    if done.returncode not in ok:
        with contextlib.suppress(ValueError):
            failed = [f"{t['tenant']}: {t['status']}: {t['error']}" for t in json.loads(done.stdout)["tenants"]
                      if t.get("status") != "ok"]
            raise RuntimeError(f"govcloud {' '.join(args)} exited {done.returncode}: " + "; ".join(failed[:5]))
        raise RuntimeError(f"govcloud {' '.join(args)} exited {done.returncode}:\n{done.stdout[-4000:]}\n"
                           f"{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
    counted = count_requests(requests_file, ports, tenants)
    requests_file.unlink(missing_ok=True)
    run = Run(meter.seconds, done.returncode, report, {**meter.figures(), "load_avg": load_average()}, counted)
    log(f"  {label or args[0]}: {run.seconds:.1f}s exit {run.code} cpu {run.cpu} requests/tenant "
        f"{counted['per_tenant']} load {load_average()}")
    return run


def direct_floor(cloud: BenchCloud, tenant_file: Path, ports: Mapping[int, str]) -> tuple[float, dict[str, Any]]:
    """bench_onboarding's direct-API floor for one tenant (fresh process), timed and counted."""
    from bench.bench_onboarding import effective_of

    effective, platform = effective_of(cloud, tenant_file)
    spec = tenant_file.with_suffix(".effective.json")
    spec.write_text(json.dumps({"effective": effective, "platform": platform}), encoding="utf-8")
    requests_file = cloud.root / f"requests-direct-{time.monotonic_ns()}.log"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench.bench_onboarding", "--direct", str(spec)],
                   env=counting_env(cloud.env, requests_file), cwd=REPO, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    counted = count_requests(requests_file, ports, 1)
    requests_file.unlink(missing_ok=True)
    return seconds, counted


def with_env(cloud: BenchCloud, extra: Mapping[str, str]) -> BenchCloud:
    return replace(cloud, env={**cloud.env, **extra})


# --- API requests ----------------------------------------------------------------------------------------------

_ID = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
_VERSION_ROOT = re.compile(r"^/(?:(?:identity|compute|volume|network|placement)/?)?(?:v[0-9.]+/?)?$")
_KUBE_DISCOVERY = re.compile(r"^/(?:api|apis|version|openapi)(?:/[^/]+){0,2}/?$")


def _shape(service: str, path: str) -> str:
    """A path with ids and object names replaced, so the same call on other objects counts as one kind."""
    parts = [p for p in path.split("/") if p]
    if service == "kube":
        start = 2 if parts[:1] == ["api"] else 3
        out = parts[:start]
        for i, part in enumerate(parts[start:]):
            out.append(part if i % 2 == 0 else "{name}")
        return "/" + "/".join(out)
    return "/" + "/".join("{id}" if _ID.match(p) else p for p in parts)


def kind_of(service: str, method: str, path: str) -> str:
    """token (a new Keystone token), discovery (a version document or API list), read, or write."""
    if method == "POST" and path.rstrip("/").endswith("/auth/tokens"):
        return "token"
    if method == "GET" and (_VERSION_ROOT.match(path) or (service == "kube" and _KUBE_DISCOVERY.match(path)
                                                         and "namespaces" not in path)):
        return "discovery"
    return "read" if method in ("GET", "HEAD") else "write"


def count_requests(requests_file: Path, ports: Mapping[int, str], tenants: int) -> dict[str, Any]:
    """Totals per kind and per service, per tenant, and the 12 most frequent calls (method, service, path)."""
    kinds: Counter[str] = Counter()
    services: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    processes: set[str] = set()
    lines = requests_file.read_text().splitlines() if requests_file.is_file() else []
    for line in lines:
        pid, method, where, path = line.split(" ", 3)
        service = ports.get(int(where.rpartition(":")[2]), where)
        kind = kind_of(service, method, path)
        kinds[kind] += 1
        services[service] += 1
        calls[f"{method} {service} {_shape(service, path)}"] += 1
        processes.add(pid)
    per = max(tenants, 1)
    return {"total": len(lines), "per_tenant": round(len(lines) / per, 1),
            "per_tenant_by_kind": {k: round(v / per, 1) for k, v in sorted(kinds.items())},
            "per_tenant_by_service": {k: round(v / per, 1) for k, v in sorted(services.items())},
            "processes": len(processes), "top_calls": dict(calls.most_common(12))}


# --- CPU and memory by owner -----------------------------------------------------------------------------------

def _stat(pid: str) -> tuple[int, int, float, float] | None:
    """(ppid, session, own CPU s, reaped children's CPU s) of one process, None when it is gone."""
    try:
        after = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    own = (int(after[11]) + int(after[12])) / CLOCK_TICK
    reaped = (int(after[13]) + int(after[14])) / CLOCK_TICK
    return int(after[1]), int(after[3]), own, reaped


def _memory_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) in kB of one process (0, 0 when it is gone)."""
    pss = rss = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    return pss, rss


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    return ""


def _kind_of(pid: int, ppid: int) -> str:
    from bench.bench_parallel import _kind

    return _kind(_cmdline(pid), _cmdline(ppid))


def _machine_busy_s() -> float:
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICK


@dataclass
class Meter:
    """Samples /proc while the measured command runs (a thread of this process); see the module docstring."""

    sessions: frozenset[int]
    others: dict[str, int] = field(default_factory=dict)
    """Name -> pid of other processes of this benchmark measured apart (the latency proxy)."""
    root: int = 0
    """The measured command's pid (set once it is started): govcloud's processes are it and its descendants."""
    members: dict[int, tuple[int, float, float]] = field(default_factory=dict)
    """pid -> (last ppid, last own CPU, last own+reaped CPU) of every live govcloud process seen."""
    orphan_s: float = 0.0
    own_s: float = 0.0
    """The own CPU (utime + stime) of every govcloud process at its last sample: a lower bound of the total."""
    peak_pss_kb: int = 0
    peak_rss_kb: int = 0
    peak_processes: int = 0
    peak_by_kind: dict[str, int] = field(default_factory=dict)
    """MB of PSS per kind of process (bench_parallel's names) at the peak."""
    seconds: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _start: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    _cloud_now: float = 0.0
    _other_now: dict[str, float] = field(default_factory=dict)
    _other_start: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> Meter:
        self._cloud_now = self._sample()
        self._other_start = dict(self._other_now)
        self._start = (time.perf_counter(), _machine_busy_s(), self._children_s(), self._cloud_now)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._cloud_now = self._sample()
        wall, machine, children, cloud = self._start
        self.seconds = time.perf_counter() - wall
        self._end = (_machine_busy_s() - machine, self._children_s() - children, self._cloud_now - cloud)

    @staticmethod
    def _children_s() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def _loop(self) -> None:
        n = 0
        while not self._stop.wait(SAMPLE_S):
            self._sample(memory=n % 4 == 0)
            n += 1

    def _sample(self, *, memory: bool = False) -> float:
        """One pass over /proc: update govcloud's members and orphans; return the sandbox's CPU seconds now."""
        table: dict[int, tuple[int, int, float, float]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (stat := _stat(entry.name)) is not None:
                table[int(entry.name)] = stat
        cloud = sum(own + reaped for _, session, own, reaped in table.values() if session in self.sessions)
        for name, pid in self.others.items():
            if pid in table:
                self._other_now[name] = table[pid][2] + table[pid][3]
        tree = {pid for pid in self.members if pid in table}
        grew = True
        while grew:
            grew = False
            for pid, (ppid, _, _, _) in table.items():
                if pid not in tree and (pid == self.root or ppid in tree):
                    tree.add(pid)
                    grew = True
        known = dict(self.members)
        for pid, (ppid, own, cpu) in known.items():
            if pid not in table:  # gone: its parent in the tree (or this process) reaped it, unless orphaned
                del self.members[pid]
                self.own_s += own
                if pid != self.root and ppid not in known:
                    self.orphan_s += cpu
        for pid in tree:
            ppid, _, own, reaped = table[pid]
            self.members[pid] = (ppid, own, own + reaped)
        if memory and tree:
            pss = rss = 0
            kinds: Counter[str] = Counter()
            for pid in tree:
                p, r = _memory_kb(pid)
                pss, rss = pss + p, rss + r
                kinds[_kind_of(pid, table[pid][0])] += p
            if pss > self.peak_pss_kb:
                self.peak_by_kind = {k: round(v / 1024) for k, v in kinds.most_common()}
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_processes = max(self.peak_processes, len(tree))
        return cloud

    def figures(self) -> dict[str, Any]:
        machine, children, cloud = self._end
        sampled = self.own_s + sum(own for _, own, _ in self.members.values())
        govcloud = max(children + self.orphan_s, sampled)
        others = sum(self._other_now.get(name, 0.0) - self._other_start.get(name, 0.0) for name in self.others)
        cores = os.cpu_count() or 1
        return {"cpu_s_govcloud": round(govcloud, 1), "cpu_s_govcloud_reaped": round(children, 1),
                "cpu_s_govcloud_orphans": round(self.orphan_s, 1), "cpu_s_govcloud_sampled": round(sampled, 1),
                "cpu_s_cloud": round(cloud, 1), "cpu_s_machine": round(machine, 1),
                "cpu_s_unattributed": round(max(0.0, machine - govcloud - cloud - others), 1),
                "machine_busy": round(machine / (self.seconds * cores), 2) if self.seconds else 0.0,
                "peak_pss_mb": round(self.peak_pss_kb / 1024), "peak_rss_mb": round(self.peak_rss_kb / 1024),
                "peak_processes": self.peak_processes, "peak_pss_mb_by_process": self.peak_by_kind,
                **{f"cpu_s_{name}": round(self._other_now.get(name, 0.0) - self._other_start.get(name, 0.0), 1)
                   for name in self.others}}
