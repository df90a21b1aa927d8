"""Support for the reliability tests (faults, kill -9, two operators): a workspace of small generated tenants
driven through the real CLI (with a fixed policy set of its own: these tests are about the engine and the
clouds, and must not meet a policy file another change is editing, or a new mandatory policy the generated
tenants were not written for; the policies have their own tests), a census of what the clouds hold by
govcloud's tags, and a search for processes a run left behind.

Every workspace has its own state folder and passphrase, and tenants of its own names (`p<index>`: the tests
pick disjoint index ranges, so no test meets another's objects in the session's sandbox). The census counts
what a user would: per tenant, one Keystone project tagged `govcloud` + `tenant:<id>`, and inside it each
network, subnet, router, security group and group once; every such object and every labelled Kubernetes object
must be one the tenant's stack records (else it is an orphan: made, but unknown to govcloud).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client as k8s_client

from bench.bench_parallel import tenant_text
from bench.generate import PLATFORM
from gcloud.providers.conventions import MANAGED_BY, MANAGED_BY_LABEL, TENANT_LABEL, tenant_of_tags

REPO = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 600.0
POLICIES = """\
apiVersion: govcloud/v1
kind: PolicySet
policies:
  - id: GOV-REL-001
    title: A tenant has a display name
    severity: low
    enforcement: mandatory
    field: metadata.displayName
    rule: tenant.metadata.displayName != ""
    message: "{tenant.metadata.name} has no display name"
    rationale: The reliability tests' own fixed policy set (tests/integration/reliability.py).
    references: ["tests/integration/reliability.py"]
    examples:
      pass:
        tenant: {metadata: {displayName: 第1号委办局}}
      fail:
        tenant: {metadata: {displayName: ""}}
"""


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    """Poll a condition with a bound; fail naming what was awaited (never a fixed sleep standing for a wait)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


@dataclass
class Run:
    """A CLI run in a session of its own, its stderr read line by line as it comes (to trigger faults on)."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    stdout: str = ""
    _reader: threading.Thread | None = None
    _out_reader: threading.Thread | None = None

    def start_readers(self) -> None:
        def read_err() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.lines.append(line.rstrip("\n"))

        def read_out() -> None:
            assert self.process.stdout is not None
            self.stdout = self.process.stdout.read()

        self._reader = threading.Thread(target=read_err, daemon=True)
        self._out_reader = threading.Thread(target=read_out, daemon=True)
        self._reader.start()
        self._out_reader.start()

    def count(self, needle: str) -> int:
        return sum(needle in line for line in list(self.lines))

    def wait_for(self, needle: str, times: int = 1, timeout_s: float = 300.0) -> None:
        """Until `needle` has appeared on `times` stderr lines (or the run ended: then fail)."""
        def seen() -> bool:
            if self.count(needle) >= times:
                return True
            if self.process.poll() is not None:
                raise AssertionError(f"the run ended (exit {self.process.returncode}) before {times}x {needle!r}:\n"
                                     + "\n".join(self.lines[-30:]))
            return False
        wait_until(seen, timeout_s, f"{times}x {needle!r} on stderr")

    def finish(self, timeout_s: float = CLI_TIMEOUT_S) -> int:
        code = self.process.wait(timeout=timeout_s)
        for reader in (self._reader, self._out_reader):
            if reader is not None:
                reader.join(timeout=10)
        return code

    def report(self) -> dict[str, Any]:
        try:
            document: dict[str, Any] = json.loads(self.stdout)
        except ValueError:
            raise AssertionError(f"no JSON on stdout:\n{self.stdout}\n" + "\n".join(self.lines[-40:])) from None
        return document

    def kill_group(self) -> None:
        """SIGKILL to the run's whole process group, as a CI runner cancelling a job does."""
        os.killpg(self.process.pid, signal.SIGKILL)


@dataclass(frozen=True)
class Workspace:
    """platform.yaml (bench's, with room for many tenants), the repository's policies, generated tenants."""

    root: Path
    env: Mapping[str, str]

    @classmethod
    def create(cls, root: Path, cloud_env: Mapping[str, str]) -> Workspace:
        root.mkdir(parents=True, exist_ok=True)
        (root / "platform.yaml").write_text(PLATFORM.format(
            cores=64000, ram=262144000, instances=20000, gigabytes=4000000, cpu=12000, memory=24000, pods=130000),
            encoding="utf-8")
        (root / "policies").mkdir(exist_ok=True)
        (root / "policies" / "reliability.yaml").write_text(POLICIES, encoding="utf-8")
        (root / "tenants").mkdir(exist_ok=True)
        passphrase = root / "passphrase"
        passphrase.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
        passphrase.chmod(0o600)
        env = {**os.environ, **cloud_env, "PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase),
               "GOVCLOUD_STATE_DIR": str(root / "state")}
        for key in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND_URL", "GOVCLOUD_DEBUG", "GOVCLOUD_AUDIT_LOG"):
            env.pop(key, None)
        return cls(root, env)

    @property
    def state(self) -> Path:
        return self.root / "state"

    def with_clouds(self, cloud_env: Mapping[str, str]) -> Workspace:
        """The same workspace reaching the clouds another way (through the fault proxies, or directly)."""
        return Workspace(self.root, {**self.env, **cloud_env})

    def write_tenants(self, indices: Iterable[int]) -> list[str]:
        names = []
        for index in indices:
            name = f"p{index:04d}"
            (self.root / "tenants" / f"{name}.yaml").write_text(tenant_text(index), encoding="utf-8")
            names.append(name)
        return names

    def files(self, names: Sequence[str]) -> list[str]:
        return [f"tenants/{name}.yaml" for name in names]

    def start(self, *args: str) -> Run:
        process = subprocess.Popen([sys.executable, "-m", "gcloud.cli", *args], cwd=self.root, env=dict(self.env),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
        run = Run(process)
        run.start_readers()
        return run

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gcloud.cli", *args], cwd=self.root, env=dict(self.env),
                              capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)

    def cli_json(self, *args: str) -> tuple[int, dict[str, Any], str]:
        done = self.cli(*args, "--output", "json")
        try:
            document: dict[str, Any] = json.loads(done.stdout)
        except ValueError:
            raise AssertionError(f"exit {done.returncode}, no JSON:\n{done.stdout}\n{done.stderr[-3000:]}") from None
        return done.returncode, document, done.stderr

    # --- what govcloud's files say ----------------------------------------------------------------------------

    def stack_ids(self, tenant: str) -> set[str]:
        """Cloud ids of every resource the tenant's stack state records (read from the backend's file)."""
        path = self.state / ".pulumi" / "stacks" / "govcloud" / f"{tenant}.json"
        if not path.is_file():
            return set()
        latest = json.loads(path.read_text(encoding="utf-8"))["checkpoint"].get("latest") or {}
        return {str(r["id"]) for r in latest.get("resources") or [] if r.get("id")}

    def pending(self, tenant: str) -> list[Any]:
        path = self.state / ".pulumi" / "stacks" / "govcloud" / f"{tenant}.json"
        if not path.is_file():
            return []
        latest = json.loads(path.read_text(encoding="utf-8"))["checkpoint"].get("latest") or {}
        return list(latest.get("pending_operations") or [])

    def locks(self) -> list[Path]:
        return sorted((self.state / ".pulumi" / "locks").glob("**/*.json"))

    def json_files_valid(self, sidecars: bool = True) -> list[str]:
        """Every JSON file of the state folder that does not parse (state, backups, record, locks); with `sidecars`
        also the file backend's `.attrs`, which Pulumi writes in place (a kill can empty it; govcloud repairs it
        before the next operation on that stack)."""
        bad = []
        for path in [*self.state.rglob("*.json"), *(self.state.rglob("*.attrs") if sidecars else ())]:
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as err:
                bad.append(f"{path}: {err}")
        for path in self.state.rglob("*.jsonl"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    json.loads(line)
                except ValueError as err:
                    bad.append(f"{path}:{number}: {err}")
        return bad


# --- convergence --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Census:
    """What the clouds hold for some tenants, counted by govcloud's tags and names."""

    objects: int
    duplicates: tuple[str, ...]
    orphans: tuple[str, ...]
    missing: tuple[str, ...]


def census(ws: Workspace, tenants: Sequence[str], admin: Any, kube: Any) -> Census:
    """Count each tenant's objects; a duplicate is a second object of one name, an orphan one its stack lacks."""
    duplicates: list[str] = []
    orphans: list[str] = []
    missing: list[str] = []
    total = 0
    wanted = set(tenants)
    projects: dict[str, list[Any]] = {}
    for project in admin.identity.projects(domain_id="default"):
        owner = tenant_of_tags(list(project.tags or []))
        if owner in wanted:
            projects.setdefault(owner, []).append(project)
    listings = {
        "network": list(admin.network.networks()), "subnet": list(admin.network.subnets()),
        "router": list(admin.network.routers()),
        "security group": [g for g in admin.network.security_groups() if g.name != "default"],
    }
    groups = list(admin.identity.groups(domain_id="default"))
    for tenant in tenants:
        ids = ws.stack_ids(tenant)
        found = projects.get(tenant, [])
        total += len(found)
        if not found:
            missing.append(f"{tenant}: no project")
        duplicates += [f"{tenant}: project x{len(found)}"] if len(found) > 1 else []
        for project in found:
            if project.id not in ids:
                orphans.append(f"{tenant}: project {project.id}")
            for kind, listing in listings.items():
                owned = [item for item in listing if item.project_id == project.id]
                total += len(owned)
                duplicates += [f"{tenant}: {kind} {name} x{n}" for name, n in Counter(i.name for i in owned).items()
                               if n > 1]
                orphans += [f"{tenant}: {kind} {i.name} {i.id}" for i in owned if i.id not in ids]
        own_groups = [g for g in groups if g.name.startswith(f"{tenant}-")]
        total += len(own_groups)
        duplicates += [f"{tenant}: group {name} x{n}" for name, n in Counter(g.name for g in own_groups).items()
                       if n > 1]
        orphans += [f"{tenant}: group {g.name}" for g in own_groups if g.id not in ids]
        kube_total, kube_orphans = _kubernetes(tenant, ids, kube)
        total += kube_total
        orphans += kube_orphans
    return Census(total, tuple(duplicates), tuple(orphans), tuple(missing))


def _kubernetes(tenant: str, ids: set[str], kube: Any) -> tuple[int, list[str]]:
    core, rbac, net = (k8s_client.CoreV1Api(kube), k8s_client.RbacAuthorizationV1Api(kube),
                       k8s_client.NetworkingV1Api(kube))
    namespaces = core.list_namespace(label_selector=f"{TENANT_LABEL}={tenant}").items
    found = [f"Namespace/{ns.metadata.name}" for ns in namespaces]
    managed = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
    for ns in namespaces:
        name = ns.metadata.name
        for kind, listing in (("ResourceQuota", core.list_namespaced_resource_quota),
                              ("LimitRange", core.list_namespaced_limit_range),
                              ("NetworkPolicy", net.list_namespaced_network_policy),
                              ("RoleBinding", rbac.list_namespaced_role_binding)):
            found += [f"{kind}/{name}/{item.metadata.name}" for item in listing(name, label_selector=managed).items]
    return len(found), [f"{tenant}: {object_id}" for object_id in found if object_id not in ids]


def kube_client(kubeconfig: Path) -> Any:
    """An admin client of the sandbox's cluster, straight from its kubeconfig (not through any proxy)."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(kubeconfig), context="gov-k8s",  # type: ignore[no-untyped-call]
                                         persist_config=False)


def assert_converged(ws: Workspace, tenants: Sequence[str], admin: Any, kube: Any) -> Census:
    """`plan --all` shows no change, no stack is locked or has pending steps, the census is clean."""
    code, plan, stderr = ws.cli_json("plan", "--all", *ws.files(tenants))
    changed = {t["tenant"]: t["resources"] for t in plan["tenants"] if t["resources"] or t["status"] != "ok"}
    assert code == 0 and not changed, f"plan --all after recovery: exit {code}, changes {changed}\n{stderr[-2000:]}"
    assert not ws.locks(), f"locks left: {ws.locks()}"
    assert not [t for t in tenants if ws.pending(t)], "pending operations left in the state"
    assert not ws.json_files_valid(), ws.json_files_valid()
    counted = census(ws, tenants, admin, kube)
    assert not counted.duplicates, counted.duplicates
    assert not counted.orphans, counted.orphans
    assert not counted.missing, counted.missing
    return counted


def destroy_all(ws: Workspace, tenants: Sequence[str], *, when_kept: bool = False) -> None:
    """Leave the sandbox as it was found: every stack destroyed, four at once, clouds reached directly.

    `when_kept`: only if the sandbox outlives the session (GOVCLOUD_TEST_SANDBOX_DIR). A session's own sandbox,
    as in CI, is thrown away at its end and no other test meets these tenants (names of their own), so there
    the destroys would only cost CI a minute and a half."""
    if when_kept and not os.environ.get("GOVCLOUD_TEST_SANDBOX_DIR"):
        return
    from gcloud.engine.runner import StackJob, run_stacks
    from gcloud.engine.settings import EngineSettings

    cloud_vars = ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD", "KUBECONFIG")
    settings = EngineSettings.from_environment(ws.root, environ=ws.env, state_dir=ws.state,
                                               extra_env={k: v for k, v in ws.env.items() if k in cloud_vars})
    present = [t for t in tenants if (ws.state / ".pulumi" / "stacks" / "govcloud" / f"{t}.json").is_file()]
    results = run_stacks([StackJob(t, "destroy", remove=True) for t in present], parallel=4, settings=settings)
    failures = [f"{r.stack}: {r.error}" for r in results if not r.ok]
    assert not failures, failures


# --- processes ----------------------------------------------------------------------------------------------

def started_for(state: Path) -> list[str]:
    """Processes whose environment names this workspace's state folder: everything govcloud started for it."""
    marker = f"GOVCLOUD_STATE_DIR={state}".encode()
    found = []
    me = os.getpid()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == me:
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{proc.name}: {cmdline[:160]}")
        except OSError:
            continue
    return found


def audit_verified(ws: Workspace) -> tuple[int, str]:
    done = ws.cli("audit", "verify")
    return done.returncode, done.stdout + done.stderr
