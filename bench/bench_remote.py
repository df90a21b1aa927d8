"""`govcloud apply` of 40 tenants against a remote cloud (25 ms each way) with --parallel 1, 4 and 8, in one run.

The sandbox's endpoints (Keystone, Neutron, Nova, Cinder, Placement, kube-apiserver) sit behind toxiproxy with
a latency toxic of 25 ms on each direction of every proxy, as a province's control plane a city away does
(gcloud/sandbox/faults.py: a second Keystone region whose endpoints are the proxies, a clouds.yaml and a
kubeconfig that use it). Each figure applies 40 new tenants of bench/bench_parallel.py's shape (plus the three
duty groups GOV-IAM-007 asks for) with
a cold state folder; they are destroyed (directly, not through the proxies) before the next figure, so every
figure meets a cloud of the same size. Throughput = tenants per second; the baseline is --parallel 1.

API requests are counted in every Python process govcloud starts (bench/counting/sitecustomize.py), and compared
with the direct-API floor of bench/bench_onboarding.py (plain openstacksdk + kubernetes client calls, one fresh
process) creating one tenant of the same shape through the same proxies. CPU is split by owner: govcloud's
processes (all of them, at any depth), the sandbox's services, and the rest of the machine (bench/measure.py).

`ratio_ceiling_here`: the most --parallel could gain on this machine: the --parallel 1 run's seconds over the
time its CPU (govcloud's + the clouds') would take with every core busy on it.

Usage: python -m bench.bench_remote [--tenants N] [--parallel P ...] [--latency-ms MS]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from bench.bench_onboarding import load_average, log
from bench.bench_parallel import destroy_fleet, tenant_text
from bench.generate import with_duties
from bench.measure import (
    PORT_OFFSET,
    SANDBOX_ROOT,
    Run,
    direct_floor,
    fixed_bench_cloud,
    fresh_indices,
    govcloud,
    with_env,
)


def write_fleet(folder: Path, count: int) -> None:
    """`count` tenants of bench_parallel's shape with the three duty groups today's policies ask for (GOV-IAM-007),
    numbered where no earlier run on this sandbox went."""
    folder.mkdir(parents=True, exist_ok=True)
    first = fresh_indices(count)
    for index in range(first, first + count):
        (folder / f"p{index:04d}.yaml").write_text(with_duties(tenant_text(index), f"p{index:04d}"),
                                                   encoding="utf-8")


def main(tenants: int, levels: list[int], latency_ms: int) -> None:
    from gcloud.sandbox.faults import faulty_clouds
    from gcloud.sandbox.sandbox import Sandbox

    with fixed_bench_cloud("remote") as cloud, \
            faulty_clouds(Sandbox(SANDBOX_ROOT / "sandbox"), cloud.root / "remote", PORT_OFFSET, seed=0) as proxies:
        for name in proxies.ports:
            for stream in ("upstream", "downstream"):
                proxies.proxy.add_toxic(name, "latency", {"latency": latency_ms, "jitter": 0}, stream=stream)
        remote = with_env(cloud, proxies.env)
        proxy_pid = proxies.server.process.pid if proxies.server.process else 0
        ports = {port: name for name, port in proxies.ports.items()}
        floor_folder = cloud.root / "remote" / "floor"
        write_fleet(floor_folder, 1)
        floor_seconds, floor = direct_floor(remote, next(floor_folder.glob("*.yaml")), ports)
        log(f"  direct-api floor: {floor_seconds:.1f}s, {floor['per_tenant']} requests {floor['top_calls']}")
        runs: dict[int, Run] = {}
        for parallel in levels:
            folder = cloud.root / "remote" / f"fleet-p{parallel}"
            state = cloud.root / "remote" / f"state-p{parallel}"
            write_fleet(folder, tenants)
            try:
                runs[parallel] = govcloud(remote, ["apply", str(folder), "--parallel", str(parallel), "--yes"],
                                          state, ports=ports, tenants=tenants, label=f"apply --parallel {parallel}",
                                          others={"proxy": proxy_pid})
            finally:
                destroy_fleet(cloud, state)
        base = runs[levels[0]]
        print(json.dumps({
            "bench": "remote_apply", "variant": "direct-api floor (one tenant, same shape, same proxies)",
            "latency_ms_each_way": latency_ms, "seconds": round(floor_seconds, 1),
            "requests_per_tenant": floor["per_tenant"], "requests_per_tenant_by_kind": floor["per_tenant_by_kind"],
            "requests_per_tenant_by_service": floor["per_tenant_by_service"], "load_avg": load_average()},
            ensure_ascii=False), flush=True)
        cores = os.cpu_count() or 1
        for parallel, run in runs.items():
            line: dict[str, Any] = {
                "bench": "remote_apply", "latency_ms_each_way": latency_ms, "tenants": tenants, "parallel": parallel,
                "seconds": round(run.seconds, 1), "tenants_per_s": round(tenants / run.seconds, 3),
                "baseline": f"--parallel {levels[0]}", "baseline_seconds": round(base.seconds, 1),
                "ratio": round(base.seconds / run.seconds, 2),
                "stack_seconds_median": _median([t["duration_s"] for t in run.report.get("tenants", [])]),
                "requests_per_tenant": run.requests["per_tenant"],
                "requests_floor_per_tenant": floor["per_tenant"],
                "requests_vs_floor": round(run.requests["per_tenant"] / floor["per_tenant"], 2)
                if floor["per_tenant"] else None,
                "requests_per_tenant_by_kind": run.requests["per_tenant_by_kind"],
                "requests_per_tenant_by_service": run.requests["per_tenant_by_service"],
                "top_calls": run.requests["top_calls"], **run.cpu,
                "cpu_s_govcloud_per_tenant": round(run.cpu["cpu_s_govcloud"] / tenants, 2),
                "cpus": cores}
            if parallel == max(levels) and levels[0] == 1:
                busy = base.cpu["cpu_s_govcloud"] + base.cpu["cpu_s_cloud"]
                ceiling = base.seconds * cores / busy if busy else None
                line.update({"target": ">= 3x the throughput of --parallel 1",
                             "target_met": base.seconds / run.seconds >= 3,
                             "ratio_ceiling_here": round(ceiling, 2) if ceiling else None})
            print(json.dumps(line, ensure_ascii=False), flush=True)


def _median(values: list[float]) -> float | None:
    ordered = sorted(values)
    return round(ordered[len(ordered) // 2], 1) if ordered else None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=40)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--latency-ms", type=int, default=25)
    options = parser.parse_args()
    main(options.tenants, options.parallel, options.latency_ms)
