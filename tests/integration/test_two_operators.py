"""Two operators at once: no tenant's stack ever runs twice at the same time.

The first `govcloud apply` holds some tenants: it reaches the clouds through the fault proxies, which hold every
answer (a toxiproxy `latency` of ten minutes: the data waits in the proxy, and is let through at once, none
lost, when the toxic is removed) once each of its stacks has begun creating, so it holds them for certain, for
exactly as long as the test needs (no timing luck, no sleep). Not the `timeout` toxic: it drops what it holds,
and closes the connection when removed. A second one over an
overlapping set, reaching the clouds directly, skips the tenants the first holds, naming the holder (user@host,
pid, since when), finishes the rest and exits 1. The same for a destroy, and a drift repair (`apply --refresh`),
against an apply. Then the proxies
let the answers through, the first run finishes, and both sets converge.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import TEST_PORT_OFFSET
from tests.integration.faults import FaultyClouds, faulty_clouds
from tests.integration.reliability import Workspace, assert_converged, destroy_all, kube_client

pytestmark = pytest.mark.integration

FIRST = range(300, 302)
SECOND_ONLY = range(302, 303)
HOLDER = re.compile(r"locked by \S+@\S+, pid \d+, since \d{4}-\d\d-\d\dT")
STALLED = ("keystone", "neutron", "nova", "cinder", "kube")
HOLD_MS = 600_000
HOLD_ENV = {"GOVCLOUD_API_TIMEOUT": "300"}
"""The held run's requests wait out the stall instead of timing out and retrying (the stall lasts one CLI run)."""


@pytest.fixture(scope="module")
def slow(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyClouds]:
    with faulty_clouds(sandbox, tmp_path_factory.mktemp("two-operators-proxies"), TEST_PORT_OFFSET, 300) as clouds:
        clouds.heal()
        yield clouds


def stall(clouds: FaultyClouds) -> None:
    """Hold every answer to the proxied run (its open connections too) until `heal`."""
    for name in STALLED:
        clouds.proxy.add_toxic(name, "latency", {"latency": HOLD_MS, "jitter": 0})


@pytest.fixture(scope="module")
def ws(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, list[str], list[str]]]:
    workspace = Workspace.create(tmp_path_factory.mktemp("two-operators"), sandbox.env)
    first = workspace.write_tenants(FIRST)
    second = workspace.write_tenants(SECOND_ONLY)
    try:
        yield workspace, first, second
    finally:
        destroy_all(workspace, [*first, *second], when_kept=True)


def test_a_second_apply_skips_the_tenants_the_first_holds_and_finishes_the_rest(
        ws: tuple[Workspace, list[str], list[str]], slow: FaultyClouds, sandbox: Any, openstack_admin: Any) -> None:
    workspace, first, second_only = ws
    shared = first[-1]
    one = workspace.with_clouds({**slow.env, **HOLD_ENV}).start("apply", "--yes", "--parallel", str(len(first)),
                                                                "--output", "json", *workspace.files(first))
    # the first run holds every one of its stacks once each has begun creating; then its answers are held
    for tenant in first:
        one.wait_for(f"{tenant} create ", 1, timeout_s=240)
    stall(slow)
    try:
        two = workspace.cli_json("apply", "--yes", "--parallel", "3", *workspace.files([shared, *second_only]))
    finally:
        slow.heal()
    code_two, report_two, _ = two
    assert one.finish() == 0, "\n".join(one.lines[-30:])
    statuses = {t["tenant"]: t for t in report_two["tenants"] if t["tenant"] in (shared, *second_only)}
    assert code_two == 1
    assert statuses[shared]["status"] == "failed"
    assert HOLDER.search(statuses[shared]["error"]), statuses[shared]
    assert "pulumi cancel" not in statuses[shared]["error"] + statuses[shared]["hint"]
    assert all(statuses[t]["status"] == "ok" for t in second_only), statuses
    assert_converged(workspace, [*first, *second_only], openstack_admin, kube_client(sandbox.kubeconfig))


@pytest.mark.parametrize("second", ["destroy", "drift-repair"])
def test_a_destroy_or_drift_repair_against_a_running_apply_is_refused_naming_the_holder(
        ws: tuple[Workspace, list[str], list[str]], slow: FaultyClouds, second: str) -> None:
    workspace, first, _ = ws
    target = first[0]
    path = workspace.root / "tenants" / f"{target}.yaml"
    text = path.read_text(encoding="utf-8")
    # a real change for the apply to work on: one more namespace
    path.write_text(text.replace("    networkIsolation: tenant",
                                 f"      - name: {target}-{second}\n"
                                 '        quota: {requests.cpu: "1", requests.memory: 1Gi, pods: "5"}\n'
                                 "        limitRange: {defaultCpu: 200m, defaultMemory: 256Mi, defaultRequestCpu: 50m,"
                                 " defaultRequestMemory: 64Mi}\n"
                                 "        podSecurity: restricted\n"
                                 "    networkIsolation: tenant"), encoding="utf-8")
    apply = workspace.with_clouds({**slow.env, **HOLD_ENV}).start("apply", "--yes", *workspace.files([target]))
    apply.wait_for(f"{target} create ", 1, timeout_s=240)
    stall(slow)
    try:
        command = (("destroy", target, "--confirm", target) if second == "destroy" else
                   ("apply", "--refresh", "--yes", *workspace.files([target])))  # drift repair
        code, report, _ = workspace.cli_json(*command)
    finally:
        slow.heal()
    assert apply.finish() == 0, "\n".join(apply.lines[-30:])
    [outcome] = report["tenants"]
    assert code == 1 and outcome["status"] == "failed", report
    assert HOLDER.search(outcome["error"]), outcome
    # the apply was not disturbed: its stack is whole and the next plan is clean
    code, plan, _ = workspace.cli_json("plan", "--all", *workspace.files([target]))
    assert code == 0 and not plan["tenants"][0]["resources"], plan
