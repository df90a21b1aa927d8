"""govcloud's policy checks beside the peer a security team would pick instead: OPA (and Conftest, its front end).

The same ten baseline rules (network, identity, Kubernetes, quota) run in both: govcloud's CEL from policies/,
OPA's Rego translation in bench/rego/. Both run over the same N generated tenants, about 10% of which break one
rule each (see MUTATIONS), and the benchmark asserts that they find exactly the same (tenant, rule) pairs.

OPA v1.22.3 is built from its Go modules into the user cache (`<cache_root>/opa/<version>/bin/opa`), once;
later runs reuse it, as scripts/build-pulumi.sh does for the engine. Nothing else is downloaded.

Figures (one JSON line each; seconds are the median of REPEAT runs; `ratio` = govcloud / OPA, so below 1 means
govcloud is faster):
- evaluation: govcloud's Checker on the loaded fleet (in process, source positions known), against OPA's own
  query-evaluation timer over the effective specs given as JSON input;
- evaluation-raw: the same govcloud figure against OPA's query evaluation over the raw tenant files, loaded the
  way Conftest loads them (each file a data document, parsed by OPA);
- process: `govcloud policy check` of these rules, whole process, against `opa eval` over the effective specs
  (which govcloud had to produce: OPA is handed the digested input);
- process-raw: the same govcloud process against `opa eval` over the raw files (the Conftest way: start, parse
  every file, evaluate, print);
- process-all: `govcloud policy check` with all baseline policies, whole process (the README's target), against
  OPA's raw run of the ten rules for scale;
- validate-process: `govcloud validate` of the same files, whole process (target: under 5 s at 10,000), against
  the same OPA raw run (which parses every file too).
Every line carries the load average (1 minute) at its end: the machine is shared.
Usage: python -m bench.bench_policy_peer [--policies DIR] [N ...]   (default: policies/, 1000 10000)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from bench.generate import generate_fleet
from gcloud.localfs import cache_root, file_lock
from gcloud.model import Fleet, load_fleet
from gcloud.policy.check import check_fleet
from gcloud.policy.loader import load_policies
from gcloud.policy.policy import PolicySet

REPO = Path(__file__).resolve().parent.parent
REGO = Path(__file__).resolve().parent / "rego"
OPA_MODULE = "github.com/open-policy-agent/opa"
OPA_VERSION = "v1.22.3"
TODAY = dt.date(2026, 11, 23)
REPEAT = 3
QUERY = "data.govcloud.baseline.violations"
SHARED = ("GOV-IAM-002", "GOV-IAM-003", "GOV-K8S-001", "GOV-K8S-002", "GOV-K8S-004", "GOV-NET-001",
          "GOV-NET-004", "GOV-NET-009", "GOV-QUOTA-001", "GOV-QUOTA-004")
"""The rules translated to Rego (bench/rego/*.rego)."""
TARGETS = {("process-all", 1000): 0.8, ("validate-process", 10000): 5.0}

OWN_443 = r'ports: "443", (remoteCidr: 10\.[0-9]+\.[0-9]+\.0/23)'
"""The web ingress of a passing generated tenant: 443 from its own two /24s."""

MUTATIONS: tuple[tuple[str, str, str], ...] = (
    ("GOV-NET-001", OWN_443, 'ports: "443", remoteCidr: 0.0.0.0/0'),
    ("GOV-NET-004", OWN_443, r'ports: "20-30", \1'),
    ("GOV-NET-009", re.escape("snat: false"), "snat: true"),
    ("GOV-IAM-002", re.escape("email: sec"), "email: sys"),
    ("GOV-IAM-003", re.escape("-staff, role: member"), "-staff, role: member}\n    - {group: all-staff, role: reader"),
    ("GOV-K8S-001", re.escape("podSecurity: restricted"), "podSecurity: baseline"),
    ("GOV-K8S-002", re.escape("podSecurity: restricted\n    quota"), "podSecurity: privileged\n    quota"),
    ("GOV-K8S-004", re.escape("imageRegistries: [harbor.gov.local]"), "imageRegistries: [harbor.gov.local, docker.io]"),
    ("GOV-QUOTA-001", re.escape("compute: {cores: "), "compute: {cores: -1, ramMB: "),
    ("GOV-QUOTA-004", re.escape('requests.memory: 4Gi, pods: "20"'), "requests.memory: 4Gi"),
)
"""One break per tenant for every tenth tenant, cycling through these (rule meant, pattern, replacement), in a
fleet that otherwise passes every baseline policy (so about 10% of the tenants violate something, as the peer
was tried). Rules scoped to level 3 see only the level-3 tenants' breaks; both engines must agree on that too."""


def log(message: str) -> None:
    print(f"[bench_policy_peer] {message}", file=sys.stderr, flush=True)


def opa_binary() -> Path:
    """The pinned OPA, built from Go modules into the user cache when absent (a lock serialises builders)."""
    home = cache_root() / "opa" / OPA_VERSION
    binary = home / "bin" / "opa"

    def present() -> bool:
        if not binary.is_file():
            return False
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=False)
        return f"Version: {OPA_VERSION.removeprefix('v')}" in out.stdout

    if present():
        return binary
    if shutil.which("go") is None:
        raise SystemExit("no Go toolchain on PATH: OPA is built from Go modules")
    with file_lock(home / ".build.lock"):
        if present():
            return binary
        staging = home / "bin.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        env = {**os.environ, "GOBIN": str(staging), "CGO_ENABLED": "0",
               "GOFLAGS": f"{os.environ.get('GOFLAGS', '-buildvcs=false')} -mod=mod"}
        log(f"building OPA {OPA_VERSION} from Go modules into {binary.parent} (about 3 minutes on 2 cores)")
        started = time.perf_counter()
        build = subprocess.run(["go", "install", "-trimpath", "-ldflags=-s -w", f"{OPA_MODULE}@{OPA_VERSION}"],
                               env=env, capture_output=True, text=True, check=False)
        if build.returncode != 0:
            raise SystemExit(f"building OPA failed:\n{build.stderr[-2000:]}")
        binary.parent.mkdir(parents=True, exist_ok=True)
        (staging / "opa").replace(binary)
        shutil.rmtree(staging, ignore_errors=True)
        log(f"built {binary} in {time.perf_counter() - started:.0f} s")
    return binary


def violating_fleet(root: Path, n: int) -> dict[str, str]:
    """bench/generate.py's passing fleet with every tenth tenant breaking one rule; tenant -> the rule it breaks."""
    generate_fleet(root, n, passing=True)
    broken: dict[str, str] = {}
    for number, index in enumerate(range(7, n, 10)):
        rule, pattern, replacement = MUTATIONS[number % len(MUTATIONS)]
        path = root / "tenants" / f"t{index:05d}.yaml"
        text, count = re.subn(pattern, replacement, path.read_text(encoding="utf-8"), count=1)
        assert count == 1, (rule, pattern)
        path.write_text(text, encoding="utf-8")
        broken[path.stem] = rule
    return broken


def conftest_layout(root: Path) -> Path:
    """The raw files as OPA data documents: raw/<tenant>/tenant.yaml and platform/platform.yaml."""
    layout = root / "conftest"
    for path in sorted((root / "tenants").glob("*.yaml")):
        (layout / "raw" / path.stem).mkdir(parents=True)
        shutil.copyfile(path, layout / "raw" / path.stem / "tenant.yaml")
    (layout / "platform").mkdir(parents=True)
    shutil.copyfile(root / "platform.yaml", layout / "platform" / "platform.yaml")
    return layout


def shared_policies_dir(root: Path, policies: Path) -> Path:
    """A policies folder holding only the shared rules, for the whole-process run of govcloud."""
    folder = root / "policies-shared"
    folder.mkdir()
    for source in sorted(policies.glob("*.yaml")):
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
        document["policies"] = [entry for entry in document["policies"] if entry["id"] in SHARED]
        if document["policies"]:
            (folder / source.name).write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False),
                                              encoding="utf-8")
    return folder


Pairs = frozenset[tuple[str, str]]


def child_cpu() -> float:
    """CPU seconds (user + system) of the child processes waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_process(command: list[str], cwd: Path | None = None) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall and CPU seconds of one child process, and what it printed."""
    cpu, start = child_cpu(), time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)
    return time.perf_counter() - start, child_cpu() - cpu, out


def govcloud_evaluation(fleet: Fleet, policies: PolicySet) -> tuple[float, float, Pairs]:
    """Checker over the loaded fleet: median wall and CPU seconds, and the (tenant, rule) pairs it fails."""
    check_fleet(fleet, policies, TODAY)  # imports, CIDR parsing and positions warmed outside the timing
    walls, cpus = [], []
    result = None
    for _ in range(REPEAT):
        wall, cpu = time.perf_counter(), time.process_time()
        result = check_fleet(fleet, policies, TODAY)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    assert result is not None
    assert not [f for f in result.findings if f.status.value == "error"], "no rule may fail to evaluate"
    return statistics.median(walls), statistics.median(cpus), frozenset((f.tenant, f.policy_id)
                                                                        for f in result.findings)


def govcloud_process(root: Path, policies: Path) -> tuple[float, float, Pairs]:
    """`govcloud policy check --output json`, whole process: median wall and CPU seconds, the pairs it reports."""
    command = [str(Path(sys.executable).parent / "govcloud"), "policy", "check", str(root / "tenants"),
               "--platform", str(root / "platform.yaml"), "--policies", str(policies),
               "--today", TODAY.isoformat(), "--output", "json"]

    walls, cpus = [], []
    pairs: Pairs = frozenset()
    for _ in range(REPEAT):
        wall, cpu, out = timed_process(command, root)
        if out.returncode not in (0, 1):
            raise SystemExit(f"govcloud policy check exited {out.returncode}:\n{out.stderr[-2000:]}")
        walls.append(wall)
        cpus.append(cpu)
        pairs = frozenset((f["tenant"], f["policy"]) for f in findings_of(json.loads(out.stdout)))
    return statistics.median(walls), statistics.median(cpus), pairs


def govcloud_validate(root: Path) -> tuple[float, float]:
    """`govcloud validate --output json`, whole process: median wall and CPU seconds (it must find no problem)."""
    command = [str(Path(sys.executable).parent / "govcloud"), "validate", str(root / "tenants"),
               "--platform", str(root / "platform.yaml"), "--output", "json"]
    walls, cpus = [], []
    for _ in range(REPEAT):
        wall, cpu, out = timed_process(command, root)
        if out.returncode != 0:
            raise SystemExit(f"govcloud validate exited {out.returncode}:\n{out.stderr[-2000:]}")
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def findings_of(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The failing findings of `policy check --output json` (expired waivers are not a rule's verdict)."""
    return (item for item in document["findings"] if item["status"] in ("fail", "waived", "error"))


def opa_eval(opa: Path, arguments: list[str]) -> tuple[float, float, float, Pairs]:
    """`opa eval` of the violations: median whole-process wall and CPU seconds, median query-evaluation seconds
    (OPA's own timer, wall clock; it includes turning the input into Rego values), and the pairs it finds."""
    command = [str(opa), "eval", "--format", "json", "--metrics", "-d", str(REGO), *arguments, QUERY]
    walls, cpus, evals = [], [], []
    pairs: Pairs = frozenset()
    for _ in range(REPEAT):
        wall, cpu, out = timed_process(command)
        if out.returncode != 0:
            raise SystemExit(f"opa eval exited {out.returncode}:\n{out.stderr[-2000:]}")
        walls.append(wall)
        cpus.append(cpu)
        document = json.loads(out.stdout)
        evals.append(document["metrics"]["timer_rego_query_eval_ns"] / 1e9)
        pairs = frozenset((name, rule) for name, rule in document["result"][0]["expressions"][0]["value"])
    return statistics.median(walls), statistics.median(cpus), statistics.median(evals), pairs


def figure(name: str, n: int, govcloud: float, opa: float, **extra: Any) -> None:
    target = TARGETS.get((name, n))
    line: dict[str, Any] = {"bench": "policy-peer", "figure": name, "tenants": n,
                            "govcloud_seconds": round(govcloud, 3), "opa_seconds": round(opa, 3),
                            "ratio": round(govcloud / opa, 2), **extra, "load_average": round(os.getloadavg()[0], 2)}
    if target is not None:
        line |= {"target_seconds": target, "within_target": govcloud < target}
    print(json.dumps(line), flush=True)


def run(n: int, opa: Path, policies: Path) -> None:
    everything = load_policies(policies)
    shared = PolicySet(tuple(policy for policy in everything if policy.id in SHARED))
    assert len(shared) == len(SHARED), "every shared rule is a baseline policy"
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        broken = violating_fleet(root, n)
        fleet = load_fleet([root / "tenants"], root / "platform.yaml")
        effective = root / "effective.json"
        effective.write_text(json.dumps({"platform": fleet.platform_data,
                                         "tenants": [doc.effective for doc in fleet.tenants]},
                                        default=str, ensure_ascii=False), encoding="utf-8")
        layout = conftest_layout(root)
        policies_dir = shared_policies_dir(root, policies)

        eval_wall, eval_cpu, mine = govcloud_evaluation(fleet, shared)
        all_wall, all_cpu, _ = govcloud_evaluation(fleet, everything)
        opa_wall, opa_cpu, opa_eval_s, theirs = opa_eval(opa, ["-i", str(effective)])
        raw_wall, raw_cpu, raw_eval_s, raw_pairs = opa_eval(opa, ["-d", str(layout)])
        process, process_cpu, process_pairs = govcloud_process(root, policies_dir)
        process_all, process_all_cpu, _ = govcloud_process(root, policies)
        validate, validate_cpu = govcloud_validate(root)

    assert mine == theirs == raw_pairs == process_pairs, (
        f"govcloud and OPA disagree: only govcloud {sorted(mine - theirs)[:5]}, only OPA {sorted(theirs - mine)[:5]}, "
        f"only raw OPA {sorted(raw_pairs ^ theirs)[:5]}, CLI {sorted(process_pairs ^ mine)[:5]}")
    assert {name for name, _ in mine} <= broken.keys() and len(mine) >= n // 20, "only the broken tenants fail"
    common = {"rules": len(SHARED), "pairs": len(mine)}
    figure("evaluation", n, eval_wall, opa_eval_s, govcloud_cpu_seconds=round(eval_cpu, 3),
           per_rule_tenant_us=round(eval_wall / (n * len(SHARED)) * 1e6, 2),
           all_policies_seconds=round(all_wall, 3), all_policies_cpu_seconds=round(all_cpu, 3), **common)
    figure("evaluation-raw", n, eval_wall, raw_eval_s, **common)
    figure("process", n, process, opa_wall, **cpu(process_cpu, opa_cpu), **common)
    figure("process-raw", n, process, raw_wall, **cpu(process_cpu, raw_cpu), **common)
    figure("process-all", n, process_all, raw_wall, **cpu(process_all_cpu, raw_cpu), policies=len(everything),
           **common)
    figure("validate-process", n, validate, raw_wall, **cpu(validate_cpu, raw_cpu))


def cpu(govcloud: float, opa: float) -> dict[str, float]:
    """CPU seconds beside the wall figures: steadier on a shared machine (OPA's Go runtime uses both cores)."""
    return {"govcloud_cpu_seconds": round(govcloud, 3), "opa_cpu_seconds": round(opa, 3),
            "cpu_ratio": round(govcloud / opa, 2)}


def main(sizes: list[int], policies: Path) -> None:
    opa = opa_binary()
    for n in sizes:
        run(n, opa, policies)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    folder = REPO / "policies"
    if "--policies" in arguments:
        at = arguments.index("--policies")
        folder = Path(arguments[at + 1]).resolve()
        del arguments[at:at + 2]
    main([int(arg) for arg in arguments if re.fullmatch(r"\d+", arg)] or [1000, 10000], folder)
