"""All baseline policies over N generated tenants; baseline: the same run re-compiling every rule at every
evaluation (what compiling once saves), measured in the same process.

Figures (one JSON line each, wall and CPU seconds; the machine is shared, CPU seconds are the steadier):
- policy-check: evaluate every policy on every tenant and build the findings, on a loaded fleet whose
  source positions are known (as after `govcloud validate`);
- policy-check-recompile: the same with `cel.compile` at every evaluation (the baseline; `ratio` = it / us);
- policy-check-cold-positions: the same as the first but right after loading: the model computes a file's
  positions the first time a finding in it needs one (a YAML re-parse per tenant with findings).
Loading itself is measured by bench/bench_validate.py.
Usage: python -m bench.bench_policy [N ...]   (default 1000 10000)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cel

from bench.generate import generate_fleet
from gcloud.model import Fleet, load_fleet
from gcloud.policy.celexpr import Expression
from gcloud.policy.check import check_fleet
from gcloud.policy.finding import CheckResult
from gcloud.policy.loader import load_policies
from gcloud.policy.policy import PolicySet

REPO = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 11, 23)
TARGET_SECONDS = {1000: 1.0, 10000: 10.0}


@dataclasses.dataclass(frozen=True)
class RecompilingExpression(Expression):
    """The baseline: the same program, compiled again every time it runs."""

    def evaluate(self, context: cel.Context) -> Any:
        return cel.compile(self.program.source).execute(context)


def recompiling(policies: PolicySet) -> PolicySet:
    return PolicySet(tuple(dataclasses.replace(policy, rule=RecompilingExpression(
        policy.rule.source, policy.rule.program, policy.rule.bindings, policy.rule.functions))
        for policy in policies))


def timed(fleet: Fleet, policies: PolicySet) -> tuple[float, float, CheckResult]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = check_fleet(fleet, policies, TODAY)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def figure(name: str, n: int, wall: float, cpu: float, result: CheckResult, **extra: Any) -> None:
    print(json.dumps({"figure": name, "tenants": n, "policies": len(result.policies),
                      "evaluations": result.counts()["evaluations"], "findings": len(result.findings),
                      "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), **extra}), flush=True)


def run(n: int) -> None:
    policies = load_policies(REPO / "policies")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        generate_fleet(root, n)
        cold = load_fleet([root / "tenants"], root / "platform.yaml")
        warm = load_fleet([root / "tenants"], root / "platform.yaml")
    for doc in warm.tenants:
        doc.locate("spec")  # positions known, as after `govcloud validate` reported them
    check_fleet(warm, policies, TODAY)  # warm caches (imports, CIDR parsing) outside the timing
    wall, cpu, result = timed(warm, policies)
    target = TARGET_SECONDS.get(n)
    figure("policy-check", n, wall, cpu, result, target_seconds=target,
           within_target=None if target is None else wall < target)
    base_wall, base_cpu, base = timed(warm, recompiling(policies))
    assert base.findings == result.findings, "the baseline must find exactly the same"
    figure("policy-check-recompile", n, base_wall, base_cpu, base, ratio=round(base_wall / wall, 1),
           cpu_ratio=round(base_cpu / cpu, 1))
    cold_wall, cold_cpu, cold_result = timed(cold, policies)
    figure("policy-check-cold-positions", n, cold_wall, cold_cpu, cold_result,
           tenants_with_findings=len({finding.tenant for finding in cold_result.findings}))


if __name__ == "__main__":
    for size in [int(arg) for arg in sys.argv[1:]] or [1000, 10000]:
        run(size)
