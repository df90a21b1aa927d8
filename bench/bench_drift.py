"""`govcloud drift` over 20 applied tenants vs `govcloud plan --all` over the same tenants, in one run.

Drift reads every tenant's resources from the clouds (a preview-only refresh of each stack); plan --all previews
each stack from its state. The tenants are bench/generate.py's fleet tenants (3 groups, 3 networks behind a
router, a security group, 2 namespaces: about 40 resources each), applied once first (reported too). Each
command runs once, with the same --parallel, on the sandbox of bench/measure.py (port offset 2500, fixed folder);
the baseline of the ratios is `plan --all`. API requests are counted in govcloud's own processes by
bench/counting/sitecustomize.py (every HTTP request of every Python process it starts, kube-apiserver included);
CPU is split by owner as bench/measure.py says. The tenants are destroyed at the end.

Usage: python -m bench.bench_drift [--tenants N] [--parallel P]     (default 20 tenants, --parallel 4)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from bench.bench_parallel import destroy_fleet
from bench.generate import fleet_tenant_text
from bench.measure import Run, fixed_bench_cloud, fresh_indices, govcloud, sandbox_ports


def write_tenants(folder: Path, count: int) -> list[str]:
    """`count` generated tenants never used on this sandbox; their names."""
    folder.mkdir(parents=True, exist_ok=True)
    first = fresh_indices(count)
    names = []
    for index in range(first, first + count):
        (folder / f"t{index:05d}.yaml").write_text(fleet_tenant_text(index), encoding="utf-8")
        names.append(f"t{index:05d}")
    return names


def figure(bench: str, command: str, run: Run, tenants: int, base: Run | None, **extra: Any) -> dict[str, Any]:
    """One JSON line's fields: time and requests per tenant, ratios against `base`, CPU by owner, load."""
    line: dict[str, Any] = {
        "bench": bench, "command": command, "tenants": tenants, "seconds": round(run.seconds, 1),
        "seconds_per_tenant": round(run.seconds / tenants, 2), "exit_code": run.code,
        "requests_per_tenant": run.requests["per_tenant"],
        "requests_per_tenant_by_kind": run.requests["per_tenant_by_kind"],
        "requests_per_tenant_by_service": run.requests["per_tenant_by_service"]}
    if base is not None:
        line.update({"baseline_seconds": round(base.seconds, 1),
                     "ratio": round(run.seconds / base.seconds, 2) if base.seconds else None,
                     "requests_ratio": round(run.requests["total"] / base.requests["total"], 2)
                     if base.requests["total"] else None})
    return {**line, **extra, **run.cpu, "cpus": os.cpu_count()}


def main(tenants: int, parallel: int) -> None:
    ports = sandbox_ports()
    with fixed_bench_cloud("drift") as cloud:
        work = cloud.root / "drift"
        folder, state = work / "tenants", work / "state"
        write_tenants(folder, tenants)
        p = ["--parallel", str(parallel)]
        try:
            applied = govcloud(cloud, ["apply", str(folder), *p, "--yes"], state, ports=ports, tenants=tenants)
            plan = govcloud(cloud, ["plan", str(folder), "--all", *p], state, ports=ports, tenants=tenants,
                            label="plan --all")
            drift = govcloud(cloud, ["drift", str(folder), *p], state, ports=ports, tenants=tenants, ok=(0, 1))
        finally:
            destroy_fleet(cloud, state)
        base = {"baseline": "plan --all (same tenants, same run)", "parallel": parallel}
        for command, run in (("apply (first, for scale)", applied), ("plan --all", plan), ("drift", drift)):
            extra: dict[str, Any] = dict(base, top_calls=run.requests["top_calls"])
            if command == "drift":
                extra["drifted"] = run.code == 1
            print(json.dumps(figure("drift", command, run, tenants, plan, **extra), ensure_ascii=False),
                  flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=4)
    options = parser.parse_args()
    main(options.tenants, options.parallel)
