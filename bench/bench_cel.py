"""Which CEL library: `common-expression-language` (module `cel`, Rust) vs `cel-python` (module `celpy`).

Both compile each baseline rule once and evaluate it on the same generated tenants; rules that one library
cannot evaluate like the other (cel-python 0.5 rejects `map != null`, among others) are counted and left
out of the timing so the figures compare equal work. A third figure is `cel` with govcloud's rewrite
(gcloud/policy/celsyntax.py: field chains pre-bound, so only what rules read is converted), which is what
`policy check` runs. One JSON line per figure; wall seconds and CPU seconds (the machine is shared).
Usage: python -m bench.bench_cel [N]   (default 200 tenants)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cel
import celpy
from celpy.adapter import json_to_cel

from bench.generate import generate_fleet
from gcloud.model import load_fleet
from gcloud.policy.celsyntax import bind
from gcloud.policy.evaluate import make_context
from gcloud.policy.functions import FUNCTIONS
from gcloud.policy.loader import load_policies
from gcloud.policy.policy import Policy

REPO = Path(__file__).resolve().parent.parent
TODAY = "2026-11-23"


def _timed(run: Callable[[], int]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    count = run()
    return time.perf_counter() - wall, time.process_time() - cpu, count


def _celpy_runner(rules: list[Policy], tenants: list[dict[str, Any]], platform: dict[str, Any]) -> Callable[[], int]:
    env = celpy.Environment()
    programs = [env.program(env.compile(policy.spec.rule), functions=FUNCTIONS) for policy in rules]

    def run() -> int:
        count = 0
        platform_value = json_to_cel(platform)
        for tenant in tenants:
            activation = {"tenant": json_to_cel(tenant), "platform": platform_value,
                          "today": celpy.celtypes.StringType(TODAY)}
            for program in programs:
                program.evaluate(activation)
                count += 1
        return count

    return run


def _cel_runner(rules: list[Policy], tenants: list[dict[str, Any]], platform: dict[str, Any]) -> Callable[[], int]:
    programs = [cel.compile(policy.spec.rule) for policy in rules]

    def run() -> int:
        count = 0
        for tenant in tenants:
            context = cel.Context({"tenant": tenant, "platform": platform, "today": TODAY}, dict(FUNCTIONS))
            for program in programs:
                program.execute(context)
                count += 1
        return count

    return run


def _govcloud_runner(rules: list[Policy], tenants: list[dict[str, Any]],
                     platform: dict[str, Any]) -> Callable[[], int]:
    bindings = frozenset().union(*(policy.rule.bindings for policy in rules))
    functions = frozenset().union(*(policy.rule.functions for policy in rules))

    def run() -> int:
        count = 0
        for tenant in tenants:
            context = make_context(bind(bindings, {"tenant": tenant, "platform": platform, "today": TODAY}),
                                   functions)
            for policy in rules:
                policy.rule.evaluate(context)
                count += 1
        return count

    return run


def _agrees(policy: Policy, tenant: dict[str, Any], platform: dict[str, Any]) -> bool:
    """Both libraries give the same boolean for this rule on this tenant."""
    try:
        env = celpy.Environment()
        theirs = env.program(env.compile(policy.spec.rule), functions=FUNCTIONS).evaluate(
            {"tenant": json_to_cel(tenant), "platform": json_to_cel(platform),
             "today": celpy.celtypes.StringType(TODAY)})
        ours = cel.compile(policy.spec.rule).execute(
            cel.Context({"tenant": tenant, "platform": platform, "today": TODAY}, dict(FUNCTIONS)))
    except Exception:  # a library that cannot evaluate the rule disagrees
        return False
    return isinstance(theirs, celpy.celtypes.BoolType) and bool(theirs) == ours


def main(n: int) -> None:
    policies = [policy for policy in load_policies(REPO / "policies") if not policy.fleet]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        generate_fleet(root, n)
        fleet = load_fleet([root / "tenants"], root / "platform.yaml")
    tenants = [doc.effective for doc in fleet.tenants]
    platform = fleet.platform_data
    common = [policy for policy in policies if _agrees(policy, tenants[0], platform)]
    compile_cel = _timed(lambda: len([cel.compile(policy.spec.rule) for policy in policies]))
    env = celpy.Environment()
    compile_celpy = _timed(lambda: len([env.compile(policy.spec.rule) for policy in policies]))
    figures = [
        ("celpy", _celpy_runner(common, tenants, platform)),
        ("cel", _cel_runner(common, tenants, platform)),
        ("cel+rewrite", _govcloud_runner(common, tenants, platform)),
    ]
    results = {name: _timed(runner) for name, runner in figures}
    baseline_wall, baseline_cpu, _ = results["celpy"]
    for name, (wall, cpu, count) in results.items():
        print(json.dumps({"figure": f"cel-library/{name}", "tenants": n, "rules": len(common),
                          "evaluations": count, "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
                          "us_per_evaluation": round(wall / count * 1e6, 1),
                          "speedup_vs_celpy": round(baseline_wall / wall, 1),
                          "cpu_speedup_vs_celpy": round(baseline_cpu / cpu, 1)}))
    print(json.dumps({"figure": "cel-library/compile", "rules": len(policies),
                      "cel_ms_per_rule": round(compile_cel[0] / len(policies) * 1e3, 3),
                      "celpy_ms_per_rule": round(compile_celpy[0] / len(policies) * 1e3, 3)}))
    print(json.dumps({"figure": "cel-library/compatibility", "baseline_tenant_rules": len(policies),
                      "celpy_disagrees_or_fails": len(policies) - len(common),
                      "rules": sorted(policy.id for policy in policies if policy not in common)}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
