"""kill -9 of govcloud at seeded points spread over an apply of several new tenants; the next apply converges.

Each round starts `govcloud apply` over the tenants not yet converged and kills, at seeded counts of resource
steps, one process of the run: a worker, the engine (`pulumi`) of a stack, a provider process (the launcher the
engine started, or the provider fork serving it), and last the CLI's whole process group (as a CI runner does
when a job is cancelled). The next round meets what the kills left: stale locks and pending operations, which
govcloud clears itself, saying so. After every round no process started for the workspace is left; the state
and record files are valid JSON; after the last a clean apply converges: `plan --all` shows no change and the
clouds hold each tenant's objects exactly once, all known to its stack. `bench/soak_faults.py` runs more rounds.

One kill lands, by construction rather than by luck, inside a create: Neutron's answers are delayed through a
proxy, and the run's group is killed once the state records the pending create of a network *and* Neutron
already holds that network. The next apply finds the pending create, clears it saying so, and adopts the
network (the same id) instead of making a second one.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gcloud.providers.conventions import tenant_of_tags
from tests.integration.conftest import TEST_PORT_OFFSET
from tests.integration.faults import faulty_clouds
from tests.integration.reliability import (
    Run,
    Workspace,
    assert_converged,
    audit_verified,
    destroy_all,
    kube_client,
    started_for,
    wait_until,
)

pytestmark = pytest.mark.integration

SEED = 1212
TENANTS = range(200, 204)
ROUNDS = 3
TARGETS = ("engine", "provider", "worker")
"""Single-process kills of a round (in a seeded order); every round ends with a kill of the whole group."""
LEFTOVER_TIMEOUT_S = 30.0
IN_CREATE_TENANT = 209
NETWORK_TYPE = "pulumi-python:dynamic/govcloud-openstack:Network"
NEUTRON_DELAY_MS = 1500
"""Added to each Neutron answer of the killed run: the network create is in flight for seconds."""


@dataclass(frozen=True)
class Kill:
    target: str
    after_steps: int


def kill_plan(seed: int, rounds: int) -> list[list[Kill]]:
    """Per round: the three single kills at increasing step counts, then the group kill a few steps later."""
    rng = random.Random(seed)
    plan = []
    for _ in range(rounds):
        targets = list(TARGETS)
        rng.shuffle(targets)
        steps = sorted(rng.sample(range(2, 14), len(targets)))
        round_kills = [Kill(t, n) for t, n in zip(targets, steps, strict=True)]
        round_kills.append(Kill("group", steps[-1] + rng.randint(2, 6)))
        plan.append(round_kills)
    return plan


def _processes(state: Path) -> list[tuple[int, int, str]]:
    """(pid, ppid, cmdline) of the processes started for this workspace."""
    found = []
    for line in started_for(state):
        pid = int(line.split(":", 1)[0])
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        found.append((pid, ppid, line.split(": ", 1)[1]))
    return found


def find_target(state: Path, target: str, cli: int) -> int | None:
    """A live process of the given kind, found by name and parent."""
    procs = _processes(state)
    by_pid = {pid: (ppid, cmd) for pid, ppid, cmd in procs}
    engines = [pid for pid, _, cmd in procs if cmd.split(" ", 1)[0].endswith("/pulumi")]
    if target == "engine":
        return engines[0] if engines else None
    if target == "worker":  # a fork-server child that runs an engine
        workers = [by_pid[e][0] for e in engines if e in by_pid and by_pid.get(by_pid[e][0], (0, ""))[0] != cli]
        return workers[0] if workers else None
    if target == "provider":
        launchers = [pid for pid, ppid, cmd in procs if "gcloud.engine.provider_host 127.0.0.1:" in cmd]
        forks = [pid for pid, ppid, cmd in procs if "--serve" in cmd and by_pid.get(ppid, (0, ""))[1].count("--serve")]
        pool = forks or launchers
        return pool[0] if pool else None
    raise ValueError(target)


def kill_round(ws: Workspace, tenants: list[str], kills: list[Kill]) -> tuple[Run, list[str]]:
    """One apply with its kills; the kills that found their process (`target@steps`)."""
    run = ws.start("apply", "--yes", "--parallel", "3", *ws.files(tenants))
    done: list[str] = []
    for kill in kills:
        try:
            run.wait_for(" create ", kill.after_steps, timeout_s=600)  # a bound, not a pace: loaded CI machines
        except AssertionError:
            if run.process.poll() is not None:
                break  # the run finished before this point: later points fall in the next round
            raise
        if kill.target == "group":
            run.kill_group()
            done.append(f"group@{kill.after_steps}")
            break
        pid = find_target(ws.state, kill.target, run.process.pid)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            done.append(f"{kill.target}@{kill.after_steps}")
    run.finish()
    return run, done


def no_leftovers(ws: Workspace) -> None:
    """Every process started for the workspace ends by itself (bounded): none outlives its run."""
    wait_until(lambda: not started_for(ws.state), LEFTOVER_TIMEOUT_S, "the killed run's processes to end")


def kill_scenario(ws: Workspace, tenants: list[str], seed: int, rounds: int, admin: Any, kube: Any) -> dict[str, Any]:
    """Run the rounds, then the converging apply; the figures the README's reliability table quotes."""
    survived: list[str] = []
    recovered: list[str] = []
    for kills in kill_plan(seed, rounds):
        run, done = kill_round(ws, tenants, kills)
        survived += done
        recovered += [line for line in run.lines if "removed the lock" in line or "a killed run left" in line]
        assert not any("pulumi cancel" in line for line in run.lines), "a user must never be told to run pulumi"
        try:
            no_leftovers(ws)
        except AssertionError:
            raise AssertionError(f"left after {done}: {started_for(ws.state)}") from None
        assert not ws.json_files_valid(sidecars=False), ws.json_files_valid(sidecars=False)
    final = ws.start("apply", "--yes", "--parallel", "3", "--output", "json", *ws.files(tenants))
    code = final.finish()
    recovered += [line for line in final.lines if "removed the lock" in line or "a killed run left" in line]
    report = final.report()
    failed = [f"{t['tenant']}: {t['error']}" for t in report["tenants"] if t["status"] not in ("ok", "unchanged")]
    tail = "\n".join(final.lines[-30:])
    assert code == 0 and not failed, f"the apply after the kills: exit {code}: {failed}\n{tail}"
    no_leftovers(ws)
    assert not ws.json_files_valid(), ws.json_files_valid()  # Pulumi's sidecars too, repaired by the apply
    counted = assert_converged(ws, tenants, admin, kube)
    audit_code, audit_text = audit_verified(ws)
    assert audit_code == 0, audit_text
    return {"kills": len(survived), "points": survived, "recoveries": len(recovered), "objects": counted.objects,
            "orphans": len(counted.orphans), "duplicates": len(counted.duplicates)}


@pytest.fixture(scope="module")
def ws(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, list[str]]]:
    workspace = Workspace.create(tmp_path_factory.mktemp("kill9"), sandbox.env)
    names = workspace.write_tenants(TENANTS)
    try:
        yield workspace, names
    finally:
        destroy_all(workspace, names, when_kept=True)


def test_kill_plan_is_seeded_and_spread() -> None:
    plan = kill_plan(SEED, ROUNDS)
    assert plan == kill_plan(SEED, ROUNDS)
    points = [k for round_kills in plan for k in round_kills]
    assert len(points) >= 10
    assert {k.target for k in points} == {"engine", "provider", "worker", "group"}


def test_kill9_at_seeded_points_then_the_next_apply_converges(ws: tuple[Workspace, list[str]], sandbox: Any,
                                                              openstack_admin: Any) -> None:
    workspace, names = ws
    kube = kube_client(sandbox.kubeconfig)
    figures = kill_scenario(workspace, names, SEED, ROUNDS, openstack_admin, kube)
    print(f"kill9 figures: {figures}")
    assert figures["kills"] >= 10, figures
    assert figures["recoveries"] >= 1, figures
    assert figures["orphans"] == 0 and figures["duplicates"] == 0


def _project_networks(admin: Any, tenant: str) -> list[Any]:
    """The networks Neutron holds in the tenant's project (found by govcloud's tags), straight from the cloud."""
    projects = [p.id for p in admin.identity.projects(domain_id="default")
                if tenant_of_tags(list(p.tags or [])) == tenant]
    # an unfiltered listing, filtered here (a listing filtered by project can make Neutron add a default group)
    return [n for n in admin.network.networks() if n.project_id in projects]


def test_a_kill_inside_a_create_leaves_a_pending_create_that_the_next_apply_adopts(
        sandbox: Any, openstack_admin: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    workspace = Workspace.create(tmp_path_factory.mktemp("kill9-create"), sandbox.env)
    [tenant] = workspace.write_tenants([IN_CREATE_TENANT])
    try:
        with faulty_clouds(sandbox, tmp_path_factory.mktemp("kill9-proxies"), TEST_PORT_OFFSET, SEED) as clouds:
            clouds.proxy.add_toxic("neutron", "latency", {"latency": NEUTRON_DELAY_MS, "jitter": 0})
            run = workspace.with_clouds(clouds.env).start("apply", "--yes", *workspace.files([tenant]))

            def network_made_not_recorded() -> bool:
                if run.process.poll() is not None:
                    raise AssertionError("the run ended before its network create:\n" + "\n".join(run.lines[-30:]))
                creating = [p for p in workspace.pending(tenant)
                            if p.get("type") == "creating" and p["resource"]["type"] == NETWORK_TYPE]
                return bool(creating) and bool(_project_networks(openstack_admin, tenant))

            wait_until(network_made_not_recorded, 600, "a network made in Neutron while its create is pending")
            run.kill_group()
            run.finish()
        [made] = _project_networks(openstack_admin, tenant)
        assert made.id not in workspace.stack_ids(tenant), "the killed run recorded the network after all"
        no_leftovers(workspace)
        code, _report, stderr = workspace.cli_json("apply", "--yes", *workspace.files([tenant]))
        assert code == 0, stderr[-3000:]
        assert any("a killed run left creating" in line and "adopted" in line for line in stderr.splitlines()), \
            stderr[-3000:]
        assert made.id in workspace.stack_ids(tenant), "the network was not adopted"
        counted = assert_converged(workspace, [tenant], openstack_admin, kube_client(sandbox.kubeconfig))
        assert [n.id for n in _project_networks(openstack_admin, tenant)] == [made.id]
        print(f"kill9 in-create figures: pending create of {NETWORK_TYPE} recovered, network {made.id} adopted, "
              f"objects {counted.objects}, orphans {len(counted.orphans)}, duplicates {len(counted.duplicates)}")
    finally:
        destroy_all(workspace, [tenant], when_kept=True)
