"""`govcloud apply` of 20 new tenants with --parallel 1 vs --parallel 4, in one run; one JSON line per figure.

Each figure applies its own 20 generated tenants (the same shape, other names and CIDRs) through the real CLI
on a sandbox of its own (port offset 2000, in a temporary folder, stopped at the end), with a cold state
folder; the tenants are destroyed between figures so both runs meet a cloud of the same size. The tenants are
a smaller cut of bench/generate.py's: one group, quotas of three services, a network with its subnet behind a
router, one namespace with quota, limits, network policies and a role binding (18 resources), so the sandbox holds
them quickly and the per-stack costs (engine, language host, provider processes) weigh as they do for the
small changes operators apply most. Throughput = tenants per second; the baseline is --parallel 1.

`ratio_ceiling_here` is the most any --parallel could gain on this machine: 1 / the share of its cores the
--parallel 1 run kept busy (the clouds run on the same cores, and the engine already works on several resources
of a stack at once), i.e. the ratio if the parallel run kept every core busy doing the same work.

Where the time goes is reported too: the CPU seconds of the command (govcloud, the engine and its provider
processes), of the sandbox's services, and how busy the machine's cores were (other sessions included); and a
last line profiles one more tenant applied alone: CPU seconds per process (the CLI, the worker, each `pulumi`
command the Automation API runs, the dynamic provider process).

Usage: python -m bench.bench_parallel [--tenants N] [--parallel P ...]   (default 20 tenants, 1 and 4)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_onboarding import CLOCK_TICK, BenchCloud, bench_cloud, load_average, log
from bench.generate import HEADER, org_code, with_duties

PORT_OFFSET = 2000
"""Keystone on 7000, kube-apiserver on 8443, etcd on 25790: see bench_onboarding.PORT_OFFSET."""

BODY = """\
  access:
    - {{group: {name}-staff, role: member}}
  openstack:
    cloud: gov-east
    networks:
      - {{name: app, cidr: 10.{a}.{b}.0/24}}
    router: {{externalNetwork: gov-extranet, snat: false}}
  kubernetes:
    cluster: gov-k8s
    namespaces:
      - name: {name}-apps
        quota: {{requests.cpu: "2", requests.memory: 4Gi, pods: "20"}}
        limitRange: {{defaultCpu: 200m, defaultMemory: 256Mi, defaultRequestCpu: 50m, defaultRequestMemory: 64Mi}}
        podSecurity: restricted
    networkIsolation: tenant
"""
"""After bench/generate.py's header: one group, one network behind a router, one namespace."""


def tenant_text(index: int) -> str:
    block = 1024 + index
    return (HEADER + BODY).format(name=f"p{index:04d}", index=index, org=org_code(index), level=2, tier="small",
                                  a=block // 256, b=block % 256)


def write_fleet(folder: Path, first: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(first, first + count):
        (folder / f"p{index:04d}.yaml").write_text(with_duties(tenant_text(index), f"p{index:04d}"),
                                                     encoding="utf-8")  # three duty groups: GOV-IAM-007


def apply_fleet(cloud: BenchCloud, folder: Path, state: Path, parallel: int) -> dict[str, Any]:
    """One timed `govcloud apply FOLDER --parallel N --yes`, with the CPU it and the clouds used."""
    before = cloud.cpu()
    start = time.perf_counter()
    _, report = cloud.govcloud("apply", str(folder), "--parallel", str(parallel), "--yes", state=state)
    seconds = time.perf_counter() - start
    used = cloud.cpu() - before
    failed = [f"{t['tenant']}: {t['error']}" for t in report["tenants"] if t["status"] != "ok"]
    if failed:
        raise RuntimeError("apply failed for " + "; ".join(failed))
    stack_seconds = sorted(t["duration_s"] for t in report["tenants"])
    creates = {t["counts"].get("create", 0) for t in report["tenants"]}
    return {"seconds": seconds, "stack_seconds_median": stack_seconds[len(stack_seconds) // 2],
            "resources_per_tenant": sorted(creates), **used.figures(seconds)}


def destroy_fleet(cloud: BenchCloud, state: Path) -> None:
    """Remove every stack of a figure (four at once) so the next figure meets the same cloud."""
    from gcloud.engine.runner import StackJob, run_stacks
    from gcloud.engine.settings import EngineSettings
    from gcloud.plan.record import read_record

    settings = EngineSettings.from_environment(cloud.root, environ=cloud.env, state_dir=state,
                                               extra_env={k: v for k, v in cloud.env.items()
                                                          if k in ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD", "KUBECONFIG")})
    names = sorted(read_record(state).tenants)
    results = run_stacks([StackJob(name, "destroy", remove=True) for name in names], parallel=4, settings=settings)
    failed = [f"{r.stack}: {r.error}" for r in results if not r.ok]
    if failed:
        raise RuntimeError("destroy failed for " + "; ".join(failed))


def _kind(cmdline: str, parent: str) -> str:
    """Which part of a stack operation a process is (a fork has its parent's command line)."""
    forked = cmdline == parent
    if "forkserver" in cmdline:
        return "worker (Automation API + inline program)" if forked else "worker fork server (imports)"
    if "provider_host --serve" in cmdline:
        return "dynamic provider process" if forked else "provider host (imports)"
    if "pulumi.dynamic" in cmdline:
        return "dynamic provider process"
    if "provider_host" in cmdline:
        return "provider launcher"
    if "resource_tracker" in cmdline:
        return "multiprocessing tracker"
    if "gcloud.cli" in cmdline:
        return "govcloud CLI (load, validate, policy, runner)"
    words = cmdline.split()
    if words and words[0].endswith("/pulumi"):
        command = next((w for w in words[1:] if not w.startswith("-")), "?")
        sub = next((w for w in words[words.index(command) + 1:] if not w.startswith("-")), "") \
            if command == "stack" else ""
        return f"pulumi {command} {sub}".strip()
    return words[0] if words else "?"


def profile_apply(cloud: BenchCloud, folder: Path, state: Path) -> dict[str, Any]:
    """One `govcloud apply` of one tenant, its process tree sampled every 50 ms: CPU seconds per kind of process.

    A process's CPU is its last sample before it exits (a slight undercount, under 0.05 s each).
    """
    env = {**cloud.env, "GOVCLOUD_STATE_DIR": str(state)}
    start = time.perf_counter()
    root = subprocess.Popen([sys.executable, "-m", "gcloud.cli", "apply", str(folder), "--yes"], cwd=cloud.root,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: dict[int, tuple[float, str, str]] = {}
    while root.poll() is None:
        table: dict[int, tuple[int, float, str]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                after = (entry / "stat").read_text().rpartition(")")[2].split()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            table[int(entry.name)] = (int(after[1]), (int(after[11]) + int(after[12])) / CLOCK_TICK, cmdline)
        tree, grew = {root.pid}, True
        while grew:
            grew = False
            for pid, (ppid, _, _) in table.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        for pid in tree & table.keys():
            ppid, cpu, cmdline = table[pid]
            known = seen.get(pid)
            parent = table[ppid][2] if ppid in table else ""
            seen[pid] = (cpu, known[1], known[2]) if known else (cpu, cmdline, parent)
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if root.returncode != 0:
        raise RuntimeError(f"profiled apply exited {root.returncode}")
    by_kind: dict[str, float] = {}
    for cpu, cmdline, parent in seen.values():
        kind = _kind(cmdline, parent)
        by_kind[kind] = by_kind.get(kind, 0.0) + cpu
    return {"seconds": round(wall, 1), "cpu_s_total": round(sum(by_kind.values()), 1),
            "cpu_s_by_process": {k: round(v, 2) for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])}}


def main(tenants: int, levels: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="govcloud-bench-parallel-") as scratch, \
            bench_cloud(Path(scratch), PORT_OFFSET) as cloud:
        figures: dict[int, dict[str, Any]] = {}
        for n, parallel in enumerate(levels):
            folder = cloud.root / f"fleet-p{parallel}"
            write_fleet(folder, 100 * (n + 1), tenants)
            state = cloud.root / f"state-p{parallel}"
            figure = apply_fleet(cloud, folder, state, parallel)
            figure["load_avg"] = load_average()
            log(f"  parallel {parallel}: {figure}")
            figures[parallel] = figure
            destroy_fleet(cloud, state)
        folder = cloud.root / "fleet-profile"
        write_fleet(folder, 900, 1)
        profile = profile_apply(cloud, folder, cloud.root / "state-profile")
        print(json.dumps({"bench": "parallel_apply_profile", "what": "one tenant of the same shape, applied alone: "
                          "CPU seconds per process of govcloud's side", **profile, "load_avg": load_average()}),
              flush=True)
        base = figures[levels[0]]
        for parallel, figure in figures.items():
            throughput = tenants / figure["seconds"]
            speedup = base["seconds"] / figure["seconds"]
            print(json.dumps({
                "bench": "parallel_apply", "tenants": tenants, "parallel": parallel,
                "seconds": round(figure["seconds"], 1), "tenants_per_s": round(throughput, 3),
                "baseline": f"--parallel {levels[0]}", "baseline_seconds": round(base["seconds"], 1),
                "ratio": round(speedup, 2), "stack_seconds_median": round(figure["stack_seconds_median"], 1),
                "resources_per_tenant": figure["resources_per_tenant"],
                **{k: figure[k] for k in ("cpu_s_command", "cpu_s_cloud", "cpu_s_other", "machine_busy")},
                "load_avg": figure["load_avg"], "cpus": os.cpu_count(),
                **({"target": ">= 2x the throughput of --parallel 1", "target_met": speedup >= 2,
                    "ratio_ceiling_here": round(1 / base["machine_busy"], 2) if base["machine_busy"] else None}
                   if parallel == 4 and levels[0] == 1 else {})}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4])
    options = parser.parse_args()
    main(options.tenants, options.parallel)
