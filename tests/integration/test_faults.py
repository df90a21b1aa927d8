"""Faults between govcloud and the clouds, injected by toxiproxy in front of every sandbox endpoint.

Each scenario applies new tenants through the proxies and injects one fault at a seeded point of the apply
(counted in resource steps on the CLI's progress): added latency; connections reset mid-apply (`reset_peer`);
an endpoint that stops answering (`timeout`: nothing flows, then the connection is closed); Neutron, Keystone
and the kube-apiserver each stopped (proxy disabled) until a tenant has failed, then started again. Expected:
every failed tenant is reported with a readable error line and the others finish; then, the proxies healed, the
next apply converges: `plan --all` shows no change and the census by govcloud's tags counts 0 orphans and 0
duplicates. The CI set is one seed per scenario; `bench/soak_faults.py` runs more seeds and tenants.
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
OUTAGE_TIMEOUT_S = 240.0


@dataclass(frozen=True)
class Fault:
    """One fault: which proxy, what is done to it, after how many resource steps of the apply."""

    name: str
    proxy: str
    kind: str
    """latency | reset_peer | timeout | down"""
    attributes: dict[str, Any] = field(default_factory=dict)
    toxicity: float = 1.0
    must_fail: bool = False
    """A stopped service fails every tenant that needs it while it is down: at least one failure is expected."""


def scenarios(seed: int) -> list[tuple[Fault, int]]:
    """The CI set, each with a seeded trigger point (resource steps before the fault is injected)."""
    rng = random.Random(seed)
    faults = [
        Fault("latency", "neutron", "latency", {"latency": 300, "jitter": 100}),
        Fault("reset mid-apply", "keystone", "reset_peer", {"timeout": 0}, toxicity=0.3),
        Fault("stops answering", "nova", "timeout", {"timeout": 2000}),
        Fault("neutron down", "neutron", "down", must_fail=True),
        Fault("keystone down", "keystone", "down", must_fail=True),
        Fault("kube-apiserver down", "kube", "down", must_fail=True),
    ]
    return [(fault, rng.randint(2, 10)) for fault in faults]


def inject(clouds: FaultyClouds, fault: Fault) -> None:
    if fault.kind == "down":
        clouds.proxy.set_enabled(fault.proxy, False)
    else:
        clouds.proxy.add_toxic(fault.proxy, fault.kind, fault.attributes, toxicity=fault.toxicity)


def fault_scenario(ws: Workspace, clouds: FaultyClouds, tenants: list[str], fault: Fault, after: int,
                   admin: Any, kube: Any) -> dict[str, Any]:
    """Apply through the proxies with the fault injected mid-way; heal; the next apply converges."""
    faulty = ws.with_clouds(clouds.env)
    clouds.heal()
    run = faulty.start("apply", "--yes", "--parallel", "3", "--output", "json", *ws.files(tenants))
    run.wait_for(" create ", after, timeout_s=OUTAGE_TIMEOUT_S)
    inject(clouds, fault)
    if fault.must_fail:  # the service stays down until a tenant has failed because of it, then comes back
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
    if fault.must_fail:
        assert failed, f"{fault.name}: no tenant failed while the service was down"
    again = faulty.start("apply", "--yes", "--parallel", "3", "--output", "json", *ws.files(tenants))
    assert again.finish() == 0, "\n".join(again.lines[-30:])
    counted = assert_converged(faulty, tenants, admin, kube)
    return {"fault": fault.name, "after_steps": after, "failed": len(failed), "finished": len(ok),
            "objects": counted.objects, "orphans": len(counted.orphans), "duplicates": len(counted.duplicates)}


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
        destroy_all(workspace, [p.stem for p in (workspace.root / "tenants").glob("*.yaml")])


@pytest.mark.parametrize(("number", "scenario"), list(enumerate(scenarios(SEED))),
                         ids=[fault.name.replace(" ", "-") for fault, _ in scenarios(SEED)])
def test_fault_mid_apply_then_the_next_apply_converges(number: int, scenario: tuple[Fault, int], ws: Workspace,
                                                        clouds: FaultyClouds, sandbox: Any,
                                                        openstack_admin: Any) -> None:
    fault, after = scenario
    tenants = ws.write_tenants(range(100 + 3 * number, 103 + 3 * number))  # new tenants for every scenario
    figures = fault_scenario(ws, clouds, tenants, fault, after, openstack_admin, kube_client(sandbox.kubeconfig))
    print(f"fault figures: {figures}")
    assert figures["orphans"] == 0 and figures["duplicates"] == 0
