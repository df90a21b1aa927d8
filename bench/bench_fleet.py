"""A fleet of 200 generated tenants on the sandbox, in one run: full apply, no-op apply, one-tenant change, drift,
`plan --all`, and govcloud's peak memory; each measured at half the fleet and at the whole, to project 800.

The tenants are bench/generate.py's fleet tenants (about 40 resources each). The run applies the first half
(new), then measures at that size: a no-op apply (no file changed), `plan --all`, a one-tenant change (one
tenant's display name changed, then `apply` of the whole folder), drift over the fleet; then applies the second
half (new, onto a cloud already holding the first) and measures the same at the full size. Every command runs
with --parallel 4 on the sandbox of bench/measure.py (port offset 2500, fixed folder). Ratios: the no-op apply
against `plan --all` of the same size (target: under 5 s and at least 20x faster), the one-tenant change
against its target of 15 s. Memory is the peak summed PSS of all of govcloud's processes (target under 1 GB).

The projection to 800 tenants extends the growth measured between the two sizes linearly (per tenant added):
`at_800 = at_full + (800 - full) * max(0, at_full - at_half) / (full - half)`; the full apply's projection is its
per-tenant seconds of the second half times 800 (the second half met the bigger cloud).

Usage: python -m bench.bench_fleet [--tenants N] [--parallel P] [--keep]   (default 200, 4; --keep leaves the
tenants in the sandbox, else they are destroyed at the end)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from bench.bench_drift import write_tenants
from bench.bench_onboarding import load_average, log
from bench.bench_parallel import destroy_fleet
from bench.measure import Run, fixed_bench_cloud, govcloud, sandbox_ports

TARGETS = {"no-op apply": "< 5 s and >= 20x faster than plan --all", "one-tenant change": "< 15 s",
           "peak memory": "< 1024 MB (all of govcloud's processes, PSS)"}


def change_one(folder: Path) -> str:
    """Rename one tenant's department (its display name: the project's description changes); its name."""
    path = sorted(folder.glob("*.yaml"))[0]
    path.write_text(path.read_text(encoding="utf-8").replace("号委办局", "号委办局（改）", 1), encoding="utf-8")
    return path.stem


def measure_size(cloud: Any, folder: Path, state: Path, size: int, parallel: int) -> dict[str, Run]:
    """The steady-state commands at one fleet size."""
    ports = sandbox_ports()
    p = ["--parallel", str(parallel)]
    runs = {"no-op apply": govcloud(cloud, ["apply", str(folder), *p, "--yes"], state, ports=ports, tenants=size,
                                    label=f"no-op apply ({size})"),
            "plan --all": govcloud(cloud, ["plan", str(folder), "--all", *p], state, ports=ports, tenants=size,
                                   label=f"plan --all ({size})")}
    changed = change_one(folder)
    runs["one-tenant change"] = govcloud(cloud, ["apply", str(folder), *p, "--yes"], state, ports=ports, tenants=1,
                                         label=f"one-tenant change {changed} ({size})")
    runs["drift"] = govcloud(cloud, ["drift", str(folder), *p], state, ports=ports, tenants=size, ok=(0, 1),
                             label=f"drift ({size})")
    return runs


def main(tenants: int, parallel: int, keep: bool) -> None:
    half = tenants // 2
    ports = sandbox_ports()
    sizes: dict[int, dict[str, Run]] = {}
    with fixed_bench_cloud("fleet") as cloud:
        folder, state = cloud.root / "fleet" / "tenants", cloud.root / "fleet" / "state"
        p = ["--parallel", str(parallel)]
        try:
            for size, new in ((half, half), (tenants, tenants - half)):
                write_tenants(folder, new)
                full = govcloud(cloud, ["apply", str(folder), *p, "--yes"], state, ports=ports, tenants=new,
                                label=f"full apply of {new} new ({size})")
                sizes[size] = {"full apply": full, **measure_size(cloud, folder, state, size, parallel)}
        finally:
            if not keep:
                log("destroying the fleet")
                destroy_fleet(cloud, state)
    for size, runs in sizes.items():
        plan = runs["plan --all"].seconds
        for command, run in runs.items():
            counted = half if command == "full apply" else (1 if command == "one-tenant change" else size)
            line: dict[str, Any] = {
                "bench": "fleet", "command": command, "fleet_size": size, "tenants_in_command": counted,
                "parallel": parallel, "seconds": round(run.seconds, 1),
                "seconds_per_tenant": round(run.seconds / counted, 3), "exit_code": run.code,
                "requests_per_tenant": run.requests["per_tenant"],
                "baseline": "plan --all (same fleet size, same run)", "baseline_seconds": round(plan, 1),
                "ratio_vs_plan_all": round(plan / run.seconds, 1) if run.seconds else None, **run.cpu,
                "cpus": os.cpu_count()}
            if command == "no-op apply":
                line.update({"target": TARGETS[command], "target_met": run.seconds < 5 and plan / run.seconds >= 20})
            if command == "one-tenant change":
                line.update({"target": TARGETS[command], "target_met": run.seconds < 15})
            print(json.dumps(line, ensure_ascii=False), flush=True)
    peak = max(run.cpu["peak_pss_mb"] for runs in sizes.values() for run in runs.values())
    print(json.dumps({"bench": "fleet", "command": "peak memory", "fleet_size": tenants, "parallel": parallel,
                      "peak_pss_mb": peak,
                      "peak_rss_mb": max(r.cpu["peak_rss_mb"] for runs in sizes.values() for r in runs.values()),
                      "target": TARGETS["peak memory"], "target_met": peak < 1024, "load_avg": load_average()}),
          flush=True)
    small, big = sizes[half], sizes[tenants]
    projection: dict[str, Any] = {}
    for command in ("no-op apply", "plan --all", "one-tenant change", "drift"):
        # Growth below zero is noise (a shared machine): a command never gets faster with more tenants.
        growth = max(0.0, (big[command].seconds - small[command].seconds) / (tenants - half))
        projection[f"{command} seconds"] = round(big[command].seconds + (800 - tenants) * growth, 1)
        mem = max(0.0, (big[command].cpu["peak_pss_mb"] - small[command].cpu["peak_pss_mb"]) / (tenants - half))
        projection[f"{command} peak_pss_mb"] = round(big[command].cpu["peak_pss_mb"] + (800 - tenants) * mem)
    projection["full apply seconds"] = round(big["full apply"].seconds / (tenants - half) * 800, 1)
    print(json.dumps({"bench": "fleet", "command": "projection to 800 tenants", "measured_at": [half, tenants],
                      "parallel": parallel, "method": "linear growth per tenant between the two sizes", **projection,
                      "load_avg": load_average()}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    main(options.tenants, options.parallel, options.keep)
