"""The tenant program under Pulumi's own mocks: which resources it registers, with which inputs and wiring."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
from gcloud.stacks import program

from gcloud.model import load_fleet

REPO = Path(__file__).resolve().parents[2]
OS = "pulumi-python:dynamic/govcloud-openstack:"
K8S = "pulumi-python:dynamic/govcloud-kubernetes:"


@dataclass(frozen=True)
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]


class RecordingMocks(pulumi.runtime.Mocks):
    """Every resource the program registers; its id is `<name>-id` so wiring between resources is visible."""

    def __init__(self) -> None:
        self.resources: list[Registered] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = {key: value for key, value in args.inputs.items() if key != "__provider"}
        self.resources.append(Registered(args.typ, args.name, inputs))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class DependencyMonitor(pulumi.runtime.mocks.MockMonitor):
    """The mock monitor, also noting each resource's explicit and implicit dependencies (by resource name)."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.dependencies: dict[str, set[str]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        self.dependencies[request.name] = {urn.rsplit("::", 1)[-1] for urn in request.dependencies}
        return super().RegisterResource(request)


@dataclass(frozen=True)
class Run:
    resources: list[Registered]
    outputs: dict[str, Any]
    dependencies: dict[str, set[str]]

    def of(self, typ: str) -> list[Registered]:
        return [res for res in self.resources if res.typ == typ]

    def one(self, typ: str, name: str) -> Registered:
        matches = [res for res in self.resources if res.typ == typ and res.name == name]
        assert len(matches) == 1, f"{typ} {name}: {[r.name for r in self.of(typ)]}"
        return matches[0]

    def names(self, typ: str) -> set[str]:
        return {res.name for res in self.of(typ)}


def run(effective: Mapping[str, Any], platform: Mapping[str, Any]) -> Run:
    mocks = RecordingMocks()
    monitor = DependencyMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="govcloud", stack=str(effective["metadata"]["name"]), preview=False,
                             monitor=monitor)
    resolved: dict[str, Any] = {}

    @pulumi.runtime.test
    def program_run() -> pulumi.Output[None]:
        outputs = program.tenant_outputs(effective, platform)
        return pulumi.Output.from_input(outputs).apply(resolved.update)

    program_run()
    return Run(mocks.resources, resolved, monitor.dependencies)


@pytest.fixture(scope="module")
def fleet():  # type: ignore[no-untyped-def]
    return load_fleet([REPO / "tenants"], REPO / "platform.yaml")


@pytest.fixture(scope="module")
def czj(fleet) -> Run:  # type: ignore[no-untyped-def]
    return run(fleet.get("czj").effective, fleet.platform_data)


def test_project_is_named_tagged_and_described_in_chinese(czj: Run, fleet) -> None:  # type: ignore[no-untyped-def]
    project = czj.one(OS + "Project", "czj-project").inputs
    digest = fleet.get("czj").digest
    assignments = project.pop("assignments")
    assert project == {"cloud": "gov-east", "name": "czj", "domain": "Default", "description": "市财政局",
                       "tags": ["govcloud", "tenant:czj", f"digest:{digest[:12]}"], "enabled": True,
                       "cleanupCloud": "gov-east-admin"}  # platform.yaml's admin entry, for the default group
    # the project is a container: every (group, role) govcloud assigns, so any other assignment reads as foreign
    assert ["czj-staff", "member"] in assignments and ["czj-staff", "govcloud-mlps3"] in assignments


def test_quotas_are_mapped_to_service_names_and_reset_to_platform_defaults(czj: Run) -> None:
    compute = czj.one(OS + "Quota", "czj-quota-compute").inputs
    assert compute["projectId"] == "czj-project-id"
    assert compute["quota"] == {"instances": 20, "cores": 48, "ram": 131072}
    assert compute["reset"] == {"instances": 0, "cores": 0, "ram": 0}
    network = czj.one(OS + "Quota", "czj-quota-network").inputs
    assert network["quota"] == {"networks": 4, "subnets": 8, "ports": 200, "routers": 1, "floating_ips": 0,
                                "security_groups": 20, "security_group_rules": 200}
    assert network["reset"]["security_groups"] == 1
    assert czj.one(OS + "Quota", "czj-quota-blockStorage").inputs["quota"] == {
        "volumes": 40, "gigabytes": 2000, "snapshots": 20}


def test_networks_subnets_router_and_interfaces_are_wired(czj: Run) -> None:
    assert czj.names(OS + "Network") == {"czj-net-app", "czj-net-db"}
    assert czj.one(OS + "Network", "czj-net-app").inputs["name"] == "czj-app"
    app = czj.one(OS + "Subnet", "czj-subnet-app").inputs
    assert (app["networkId"], app["cidr"], app["gatewayIp"], app["dnsNameservers"]) == (
        "czj-net-app-id", "10.20.1.0/24", "10.20.1.1", ["10.0.0.2"])
    router = czj.one(OS + "Router", "czj-router").inputs
    assert (router["externalNetwork"], router["snat"], router["projectId"]) == ("gov-extranet", False,
                                                                               "czj-project-id")
    interfaces = {(res.inputs["routerId"], res.inputs["subnetId"]) for res in czj.of(OS + "RouterInterface")}
    assert interfaces == {("czj-router-id", "czj-subnet-app-id"), ("czj-router-id", "czj-subnet-db-id")}


def test_security_group_removes_default_egress_and_gets_each_rule(czj: Run) -> None:
    group = czj.one(OS + "SecurityGroup", "czj-sg-web").inputs
    assert (group["name"], group["removeDefaultEgress"]) == ("czj-web", True)
    rules = [res.inputs for res in czj.of(OS + "SecurityGroupRule")]
    assert {rule["securityGroupId"] for rule in rules} == {"czj-sg-web-id"}
    assert {(r["direction"], r["portMin"], r["portMax"], r["remoteCidr"]) for r in rules} == {
        ("ingress", 443, 443, "10.1.0.0/16"), ("ingress", 22, 22, "10.0.0.0/16"),
        ("egress", 5432, 5432, "10.20.2.0/24")}


def test_groups_get_the_mapped_keystone_roles_on_the_project(czj: Run) -> None:
    assert czj.names(OS + "IdentityGroup") == {"czj-group-czj-admins", "czj-group-czj-staff",
                                               "czj-group-czj-auditors", "czj-group-czj-security"}
    assignments = {(res.inputs["groupId"], res.inputs["role"], res.inputs["projectId"])
                   for res in czj.of(OS + "GroupRoleAssignment")}
    mapped = {("czj-group-czj-admins-id", "manager", "czj-project-id"),
              ("czj-group-czj-staff-id", "member", "czj-project-id"),
              ("czj-group-czj-security-id", "manager", "czj-project-id"),
              ("czj-group-czj-auditors-id", "reader", "czj-project-id")}
    # czj is MLPS level 3: each group also holds the marker role the Neutron guardrails read
    assert assignments == mapped | {(group, "govcloud-mlps3", project) for group, _, project in mapped}


def test_below_level_three_no_group_gets_the_marker_role(fleet) -> None:  # type: ignore[no-untyped-def]
    result = run(fleet.get("wjw").effective, fleet.platform_data)
    roles = {res.inputs["role"] for res in result.of(OS + "GroupRoleAssignment")}
    assert roles and "govcloud-mlps3" not in roles


def test_namespaces_carry_tenant_and_pod_security_labels(czj: Run) -> None:
    prod = czj.one(K8S + "Namespace", "czj-prod").inputs
    assert prod["context"] == "gov-k8s"
    meta = prod["manifest"]["metadata"]
    assert meta["labels"]["govcloud.io/tenant"] == "czj"
    assert {meta["labels"][f"pod-security.kubernetes.io/{m}"] for m in ("enforce", "audit", "warn")} == {"restricted"}
    assert meta["annotations"]["govcloud.io/display-name"] == "市财政局"
    assert all(value.isascii() for value in meta["labels"].values())


def test_every_namespace_gets_quota_default_deny_and_role_bindings(czj: Run) -> None:
    assert czj.one(K8S + "ResourceQuota", "czj-prod-quota").inputs["manifest"]["spec"]["hard"]["pods"] == "200"
    assert czj.names(K8S + "LimitRange") == {"czj-prod-limits"}  # czj-test declares no limitRange
    for ns in ("czj-prod", "czj-test"):
        deny = czj.one(K8S + "NetworkPolicy", f"{ns}-netpol-govcloud-default-deny").inputs["manifest"]
        assert deny["metadata"]["namespace"] == ns
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        czj.one(K8S + "NetworkPolicy", f"{ns}-netpol-govcloud-interconnect-to-sjj")
        roles = {res.inputs["manifest"]["roleRef"]["name"] for res in czj.of(K8S + "RoleBinding")
                 if res.inputs["manifest"]["metadata"]["namespace"] == ns}
        assert roles == {"admin", "edit", "view"}


def test_network_objects_wait_for_the_network_quota_and_namespace_objects_for_their_namespace(czj: Run) -> None:
    """Creation order, and the reverse on destroy: the quota is reset only after the networks are gone."""
    for name in ("czj-net-app", "czj-router", "czj-sg-web"):
        assert {"czj-project", "czj-quota-network"} <= czj.dependencies[name], name
    assert "czj-quota-network" not in czj.dependencies["czj-quota-compute"]
    assert {"czj-project", "czj-group-czj-staff"} <= czj.dependencies["czj-role-czj-staff-member"]
    assert {"czj-router", "czj-subnet-app"} <= czj.dependencies["czj-router-if-app"]
    assert "czj-prod" in czj.dependencies["czj-prod-netpol-govcloud-default-deny"]


def test_stack_outputs(czj: Run, fleet) -> None:  # type: ignore[no-untyped-def]
    assert set(czj.outputs) == set(program.OUTPUT_KEYS)
    assert czj.outputs["projectId"] == "czj-project-id"
    assert czj.outputs["networkIds"] == {"app": "czj-net-app-id", "db": "czj-net-db-id"}
    assert czj.outputs["subnetIds"] == {"app": "czj-subnet-app-id", "db": "czj-subnet-db-id"}
    assert czj.outputs["routerId"] == "czj-router-id"
    assert czj.outputs["securityGroupIds"] == {"web": "czj-sg-web-id"}
    assert czj.outputs["namespaces"] == ["czj-prod", "czj-test"]
    assert czj.outputs["digest"] == fleet.get("czj").digest


def test_kubernetes_only_tenant_has_no_openstack_resources(fleet) -> None:  # type: ignore[no-untyped-def]
    result = run(fleet.get("scjgj").effective, fleet.platform_data)
    assert not [res for res in result.resources if res.typ.startswith(OS)]
    assert result.outputs["projectId"] is None and result.outputs["networkIds"] == {}
    assert result.outputs["namespaces"] == ["scjgj-license", "scjgj-inspect"]
    license_ns = result.one(K8S + "Namespace", "scjgj-license").inputs["manifest"]["metadata"]
    assert license_ns["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"


def test_openstack_only_tenant_has_no_kubernetes_resources(fleet) -> None:  # type: ignore[no-untyped-def]
    name = next(doc.name for doc in fleet.tenants if doc.tenant.spec.kubernetes is None)
    result = run(fleet.get(name).effective, fleet.platform_data)
    assert not [res for res in result.resources if res.typ.startswith(K8S)]
    assert result.outputs["namespaces"] == [] and result.outputs["projectId"] == f"{name}-project-id"


def test_quota_keys_never_set_are_never_sent(fleet) -> None:  # type: ignore[no-untyped-def]
    effective = copy.deepcopy(fleet.get("czj").effective)
    effective["spec"]["openstack"]["quota"] = {"compute": {"cores": 8}}
    result = run(effective, fleet.platform_data)
    assert [res.name for res in result.of(OS + "Quota")] == ["czj-quota-compute"]
    assert result.one(OS + "Quota", "czj-quota-compute").inputs["quota"] == {"cores": 8}


def test_no_router_means_no_interfaces(fleet) -> None:  # type: ignore[no-untyped-def]
    effective = copy.deepcopy(fleet.get("czj").effective)
    effective["spec"]["openstack"]["router"] = None
    result = run(effective, fleet.platform_data)
    assert not result.of(OS + "Router") and not result.of(OS + "RouterInterface")
    assert result.outputs["routerId"] is None


def test_every_example_tenant_registers_uniquely_named_resources(fleet) -> None:  # type: ignore[no-untyped-def]
    for doc in fleet.tenants:
        result = run(doc.effective, fleet.platform_data)
        keys = [(res.typ, res.name) for res in result.resources]
        assert len(keys) == len(set(keys)), doc.name
        custom = [res for res in result.resources if res.typ.startswith("pulumi-python:")]
        assert custom, doc.name
        for res in custom:
            assert res.name.startswith(doc.name + "-"), res.name


def test_build_returns_a_picklable_zero_argument_program(fleet) -> None:  # type: ignore[no-untyped-def]
    doc = fleet.get("czj")
    factory = program.build(doc.effective, fleet.platform_data)
    restored = pickle.loads(pickle.dumps(factory))
    assert restored.func is program.tenant_program and restored.args == (doc.effective, fleet.platform_data)
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    pulumi.runtime.test(lambda: restored())()
    assert any(res.name == "czj-project" for res in mocks.resources)
