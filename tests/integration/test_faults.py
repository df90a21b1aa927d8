"""Faults between govcloud and the clouds, injected by toxiproxy in front of every sandbox endpoint.

Each scenario applies new tenants through the proxies and injects its faults at a seeded point of the apply
(counted in resource steps on the CLI's progress): added latency; connections reset mid-apply (`reset_peer`);
an endpoint that stops answering (`timeout`: nothing flows, then the connection is closed); Neutron, Keystone
and the kube-apiserver each stopped (proxy disabled) until a tenant has failed, then started again. Expected:
every failed tenant is reported with a readable error line and the others finish; then, the proxies healed, the
next apply succeeds, and at the end the whole set converges: `plan --all` shows no change and the census by
govcloud's tags counts 0 orphans and 0 duplicates.

The CI set (`ci_scenarios`) is three applies of two tenants: the three degradations at once (the reset hits
Keystone), then Neutron stopped, then the kube-apiserver stopped; `bench/soak_faults.py` runs the full set
(`scenarios`: every fault on its own, Keystone stopped too) over more seeds and tenants, each scenario checking
convergence itself.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.integration.conftest import TEST_PORT_OFFSET
from tests.integration.faults import FaultyClouds, faulty_clouds
from tests.integration.reliability import Workspace, assert_converged, destroy_all, kube_client

pytestmark = pytest.mark.integration

SEED = 4242
CI_TENANTS = 2
FIRST_TENANT = 100
OUTAGE_TIMEOUT_S = 240.0


@dataclass(frozen=True)
class Fault:
    """One fault: which proxy, what is done to it."""

    name: str
    proxy: str
    kind: str
    """latency | reset_peer | timeout | down"""
    attributes: dict[str, Any] = field(default_factory=dict)
    toxicity: float = 1.0
    must_fail: bool = False
    """A stopped service fails every tenant that needs it while it is down: at least one failure is expected."""


LATENCY = Fault("latency", "neutron", "latency", {"latency": 300, "jitter": 100})
RESET = Fault("reset mid-apply", "keystone", "reset_peer", {"timeout": 0}, toxicity=0.3)
SILENT = Fault("stops answering", "nova", "timeout", {"timeout": 2000})
NEUTRON_DOWN = Fault("neutron down", "neutron", "down", must_fail=True)
KEYSTONE_DOWN = Fault("keystone down", "keystone", "down", must_fail=True)
KUBE_DOWN = Fault("kube-apiserver down", "kube", "down", must_fail=True)


@dataclass(frozen=True)
class Scenario:
    """Faults injected together after `after` resource steps of one apply."""

    name: str
    faults: tuple[Fault, ...]
    after: int

    @property
    def must_fail(self) -> bool:
        return any(fault.must_fail for fault in self.faults)


def _seeded(seed: int, groups: list[tuple[str, tuple[Fault, ...]]]) -> list[Scenario]:
    rng = random.Random(seed)
    return [Scenario(name, faults, rng.randint(2, 10)) for name, faults in groups]


def scenarios(seed: int) -> list[Scenario]:
    """The full set (the soak's): every fault on its own, each with a seeded trigger point."""
    return _seeded(seed, [(f.name, (f,)) for f in (LATENCY, RESET, SILENT, NEUTRON_DOWN, KEYSTONE_DOWN, KUBE_DOWN)])


def ci_scenarios(seed: int) -> list[Scenario]:
    """The CI set: latency, resets and a silent endpoint in one apply, then Neutron and the kube-apiserver stopped
    (a stopped Keystone, in the soak, fails the same way as the resets: at the token or the identity call)."""
    return _seeded(seed, [("degraded", (LATENCY, RESET, SILENT)), (NEUTRON_DOWN.name, (NEUTRON_DOWN,)),
                          (KUBE_DOWN.name, (KUBE_DOWN,))])


def inject(clouds: FaultyClouds, fault: Fault) -> None:
    if fault.kind == "down":
        clouds.proxy.set_enabled(fault.proxy, False)
    else:
        clouds.proxy.add_toxic(fault.proxy, fault.kind, fault.attributes, toxicity=fault.toxicity)


def fault_scenario(ws: Workspace, clouds: FaultyClouds, tenants: list[str], scenario: Scenario, admin: Any,
                   kube: Any, *, converge: bool = True) -> dict[str, Any]:
    """Apply through the proxies with the faults injected mid-way; heal; the next apply succeeds (and, with
    `converge`, the tenants converge: else the caller checks them all at the end)."""
    faulty = ws.with_clouds(clouds.env)
    clouds.heal()
    parallel = str(len(tenants))
    run = faulty.start("apply", "--yes", "--parallel", parallel, "--output", "json", *ws.files(tenants))
    run.wait_for(" create ", scenario.after, timeout_s=OUTAGE_TIMEOUT_S)
    for fault in scenario.faults:
        inject(clouds, fault)
    if scenario.must_fail:  # the service stays down until a tenant has failed because of it, then comes back
        run.wait_for(" failed", 1, timeout_s=OUTAGE_TIMEOUT_S)
        clouds.heal()
    code = run.finish()
    clouds.heal()
    report = run.report()
    failed = {t["tenant"]: t["error"] for t in report["tenants"] if t["status"] == "failed"}
    ok = [t["tenant"] for t in report["tenants"] if t["status"] == "ok"]
    assert sorted([*failed, *ok]) == sorted(tenants), report
    assert code == (1 if failed else 0), (code, failed)
    assert all(error and "Traceback" not in error and "\n" not in error for error in failed.values()), failed
    if scenario.must_fail:
        assert failed, f"{scenario.name}: no tenant failed while the service was down"
    again = faulty.start("apply", "--yes", "--parallel", parallel, "--output", "json", *ws.files(tenants))
    assert again.finish() == 0, "\n".join(again.lines[-30:])
    figures: dict[str, Any] = {"fault": scenario.name, "faults": len(scenario.faults), "after_steps": scenario.after,
                               "failed": len(failed), "finished": len(ok)}
    if converge:
        counted = assert_converged(faulty, tenants, admin, kube)
        figures |= {"objects": counted.objects, "orphans": len(counted.orphans),
                    "duplicates": len(counted.duplicates)}
    return figures


@pytest.fixture(scope="module")
def clouds(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyClouds]:
    with faulty_clouds(sandbox, tmp_path_factory.mktemp("faults-proxies"), TEST_PORT_OFFSET, SEED) as proxies:
        yield proxies


@pytest.fixture(scope="module")
def ws(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = Workspace.create(tmp_path_factory.mktemp("faults"), sandbox.env)
    try:
        yield workspace
    finally:
        destroy_all(workspace, [p.stem for p in (workspace.root / "tenants").glob("*.yaml")], when_kept=True)


def test_the_scenarios_are_seeded_and_cover_every_fault() -> None:
    assert ci_scenarios(SEED) == ci_scenarios(SEED) and scenarios(SEED) == scenarios(SEED)
    full = {(f.proxy, f.kind) for s in scenarios(SEED) for f in s.faults}
    ci = {(f.proxy, f.kind) for s in ci_scenarios(SEED) for f in s.faults}
    assert len(full) == 6 and full - ci == {("keystone", "down")}


@pytest.mark.parametrize(("number", "scenario"), list(enumerate(ci_scenarios(SEED))),
                         ids=[s.name.replace(" ", "-") for s in ci_scenarios(SEED)])
def test_fault_mid_apply_then_the_next_apply_succeeds(number: int, scenario: Scenario, ws: Workspace,
                                                      clouds: FaultyClouds, sandbox: Any,
                                                      openstack_admin: Any) -> None:
    first = FIRST_TENANT + CI_TENANTS * number
    tenants = ws.write_tenants(range(first, first + CI_TENANTS))  # new tenants for every scenario
    figures = fault_scenario(ws, clouds, tenants, scenario, openstack_admin, kube_client(sandbox.kubeconfig),
                             converge=False)
    print(f"fault figures: {figures}")


def test_after_every_fault_the_tenants_converge(ws: Workspace, clouds: FaultyClouds, sandbox: Any,
                                                openstack_admin: Any) -> None:
    """One `plan --all` and one census over every scenario's tenants (cheaper than one per scenario)."""
    tenants = sorted(p.stem for p in (ws.root / "tenants").glob("*.yaml"))
    assert len(tenants) == CI_TENANTS * len(ci_scenarios(SEED)), tenants
    counted = assert_converged(ws, tenants, openstack_admin, kube_client(sandbox.kubeconfig))
    print(f"fault convergence: objects {counted.objects}, orphans {len(counted.orphans)}, "
          f"duplicates {len(counted.duplicates)}")
    assert counted.objects > 0
