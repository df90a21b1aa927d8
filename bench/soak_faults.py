"""Soak: the full set of fault and kill -9 scenarios, over more seeds and tenants than CI runs.

Usage: python -m bench.soak_faults [--seeds N] [--tenants N] [--rounds N] [--port-offset N] [--sandbox-dir D]

Starts a sandbox of its own (port offset 3000 unless told: Keystone 8000, kube-apiserver 9443; in a fresh
temporary folder, or in --sandbox-dir, which a second soak then restarts on, faster), then for each
seed runs every fault scenario of tests/integration/test_faults.py on new tenants and the kill -9 rounds of
tests/integration/test_kill9.py, each ending with the convergence check (plan --all clean, census by govcloud's
tags: 0 orphans, 0 duplicates). Prints one JSON line per scenario and a total line with the figures the README's
reliability table quotes (fault scenarios, faults injected, kills survived, stale locks and pending steps
cleared, objects counted, orphans, duplicates). Every kill round already asserts that no process outlived it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from gcloud.sandbox.openstack_config import CLOUD_NAME
from gcloud.sandbox.sandbox import Sandbox, UpReport


def main(seeds: int, tenants: int, rounds: int, offset: int, sandbox_dir: Path | None = None) -> None:
    from tests.integration.conftest import SandboxInfo
    from tests.integration.faults import faulty_clouds
    from tests.integration.reliability import Workspace, destroy_all, kube_client
    from tests.integration.test_faults import fault_scenario, scenarios
    from tests.integration.test_kill9 import kill_scenario

    scratch = Path(tempfile.mkdtemp(prefix="govcloud-soak-"))
    box = Sandbox(sandbox_dir or scratch / "sandbox", full=False, port_offset=offset)
    totals: dict[str, int] = {"scenarios": 0, "faults": 0, "kills": 0, "recoveries": 0, "objects": 0, "orphans": 0,
                              "duplicates": 0, "failed": 0}
    try:
        report: UpReport = box.up(lambda line: None)
        info = SandboxInfo(box, report, ())
        admin = info.openstack_admin()
        kube = kube_client(info.kubeconfig)
        ws = Workspace.create(scratch / "ws", box.env())
        written: list[str] = []
        index = 500
        try:
            with faulty_clouds(info, scratch, offset, 0) as clouds:
                for seed in range(seeds):
                    for scenario in scenarios(seed):
                        names = ws.write_tenants(range(index, index + tenants))
                        index += tenants
                        written += names
                        figures = _timed(fault_scenario, ws, clouds, names, scenario, admin, kube)
                        _add(totals, figures, "scenarios")
                        totals["faults"] += int(figures["faults"])
                    names = ws.write_tenants(range(index, index + tenants))
                    index += tenants
                    written += names
                    figures = _timed(kill_scenario, ws, names, 1000 + seed, rounds, admin, kube)
                    totals["kills"] += int(figures["kills"])
                    totals["recoveries"] += int(figures["recoveries"])
                    _add(totals, figures, "")
        finally:
            destroy_all(ws, written)
            admin.close()
    finally:
        box.down()
    print(json.dumps({"soak": "total", "cloud": CLOUD_NAME, **totals}), flush=True)


def _timed(scenario: Any, *args: Any) -> dict[str, Any]:
    started = time.monotonic()
    figures: dict[str, Any] = scenario(*args)
    figures["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    return figures


def _add(totals: dict[str, int], figures: dict[str, Any], counter: str) -> None:
    if counter:
        totals[counter] += 1
    for key in ("objects", "orphans", "duplicates", "failed"):
        totals[key] += int(figures.get(key, 0))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port-offset", type=int, default=3000)
    parser.add_argument("--sandbox-dir", type=Path, default=None)
    args = parser.parse_args()
    main(args.seeds, args.tenants, args.rounds, args.port_offset, args.sandbox_dir)
