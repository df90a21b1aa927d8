"""What each provider's diff decides (update vs replace) and the helpers behind it; no cloud involved."""

from __future__ import annotations

import base64
from typing import Any

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from gcloud.providers import kubernetes as k8s
from gcloud.providers import openstack as ostack
from gcloud.providers import openstack_network as onet
from gcloud.providers.base import PROVIDER_KEY, UNKNOWN, GovProvider, changed_keys, inputs_of, plain

ALL_PROVIDERS = [ostack.ProjectProvider, ostack.IdentityGroupProvider, ostack.GroupRoleAssignmentProvider,
                 ostack.QuotaProvider, onet.NetworkProvider, onet.SubnetProvider, onet.RouterProvider,
                 onet.RouterInterfaceProvider, onet.SecurityGroupProvider, onet.SecurityGroupRuleProvider,
                 k8s.KubeObjectProvider]

SUBNET = {"cloud": "c", "projectId": "p", "networkId": "n", "name": "czj-app", "cidr": "10.20.1.0/24",
          "gatewayIp": "10.20.1.1", "dnsNameservers": ["10.0.0.2"], "enableDhcp": True}


def diff(provider: GovProvider, olds: dict[str, Any], news: dict[str, Any]) -> tuple[bool, list[str], bool | None]:
    result = provider.diff("id", {**olds, PROVIDER_KEY: "old"}, {**news, PROVIDER_KEY: "new"})
    return bool(result.changes), sorted(result.replaces or []), result.delete_before_replace


def test_plain_turns_pulumi_floats_back_into_integers() -> None:
    assert plain({"ram": 131072.0, "ratio": 1.5, "ports": [443.0], "n": {"x": 2.0}, "ok": True}) == {
        "ram": 131072, "ratio": 1.5, "ports": [443], "n": {"x": 2}, "ok": True}
    assert type(plain(443.0)) is int
    assert inputs_of({PROVIDER_KEY: "x", "a": 1.0}) == {"a": 1}


def test_changed_keys_ignores_the_serialized_provider_and_computed_outputs() -> None:
    assert changed_keys({"a": 1, "domainId": "d", PROVIDER_KEY: "x"}, {"a": 1.0, PROVIDER_KEY: "y"},
                        frozenset({"domainId"})) == []
    assert changed_keys({"a": 1}, {"a": 2, "b": 3}, frozenset()) == ["a", "b"]
    assert changed_keys({"a": 1}, {}, frozenset()) == ["a"]


def test_unknown_preview_values_count_as_changes() -> None:
    assert changed_keys({"projectId": "p"}, {"projectId": UNKNOWN}, frozenset()) == ["projectId"]
    changed, replaces, _ = diff(onet.NetworkProvider(), {"cloud": "c", "projectId": "p", "name": "n"},
                                {"cloud": "c", "projectId": UNKNOWN, "name": "n"})
    assert changed and replaces == ["projectId"]


def test_project_description_and_tags_update_but_name_or_domain_replace() -> None:
    old = {"cloud": "c", "name": "czj", "domain": "Default", "description": "市财政局",
           "tags": ["govcloud", "tenant:czj", "digest:1"], "enabled": True, "domainId": "default"}
    new = {key: value for key, value in old.items() if key != "domainId"}
    assert diff(ostack.ProjectProvider(), old, new) == (False, [], None)
    assert diff(ostack.ProjectProvider(), old, {**new, "tags": ["govcloud", "tenant:czj", "digest:2"]}) == (
        True, [], None)
    assert diff(ostack.ProjectProvider(), old, {**new, "domain": "gov"})[1] == ["domain"]
    assert diff(ostack.ProjectProvider(), old, {**new, "name": "czj2"})[1] == ["name"]


def test_subnet_cidr_change_replaces_delete_first_but_dns_updates_in_place() -> None:
    assert diff(onet.SubnetProvider(), SUBNET, {**SUBNET, "dnsNameservers": ["10.0.0.3"]}) == (True, [], None)
    assert diff(onet.SubnetProvider(), SUBNET, {**SUBNET, "cidr": "10.20.9.0/24"}) == (True, ["cidr"], True)
    assert diff(onet.SubnetProvider(), SUBNET, dict(SUBNET)) == (False, [], None)


def test_quota_values_update_in_place_and_numbers_from_state_compare_equal() -> None:
    old = {"cloud": "c", "projectId": "p", "service": "compute", "quota": {"cores": 64.0}, "reset": {"cores": 0.0}}
    assert diff(ostack.QuotaProvider(), old, {**old, "quota": {"cores": 64}, "reset": {"cores": 0}})[0] is False
    assert diff(ostack.QuotaProvider(), old, {**old, "quota": {"cores": 128}}) == (True, [], None)
    assert diff(ostack.QuotaProvider(), old, {**old, "projectId": "q"})[1] == ["projectId"]


def test_router_gateway_and_snat_update_in_place() -> None:
    old = {"cloud": "c", "projectId": "p", "name": "r", "externalNetwork": "ext", "snat": False,
           "externalNetworkId": "e"}
    new = {key: value for key, value in old.items() if key != "externalNetworkId"}
    assert diff(onet.RouterProvider(), old, {**new, "snat": True}) == (True, [], None)
    assert diff(onet.RouterProvider(), old, new) == (False, [], None)


def test_security_group_rules_are_immutable() -> None:
    old = {"cloud": "c", "projectId": "p", "securityGroupId": "s", "direction": "ingress", "ethertype": "IPv4",
           "protocol": "tcp", "portMin": 443, "portMax": 443, "remoteCidr": "10.0.0.0/8", "description": ""}
    assert diff(onet.SecurityGroupRuleProvider(), old, {**old, "remoteCidr": "10.0.0.0/9"})[1] == ["remoteCidr"]


def test_group_role_assignment_replaces_on_any_change_and_ignores_its_role_id() -> None:
    old = {"cloud": "c", "projectId": "p", "groupId": "g", "role": "member", "roleId": "r1"}
    new = {key: value for key, value in old.items() if key != "roleId"}
    assert diff(ostack.GroupRoleAssignmentProvider(), old, new) == (False, [], None)
    assert diff(ostack.GroupRoleAssignmentProvider(), old, {**new, "role": "reader"})[1] == ["role"]


def rolebinding(role: str, name: str = "govcloud-g-edit") -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": "czj-prod", "labels": {"a": "b"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "g"}]}


def test_kube_object_labels_update_but_identity_and_immutable_fields_replace() -> None:
    provider = k8s.KubeObjectProvider()
    old = {"context": "k", "manifest": rolebinding("edit"), "uid": "u-1"}
    assert diff(provider, old, {"context": "k", "manifest": rolebinding("edit")}) == (False, [], None)
    relabelled = rolebinding("edit")
    relabelled["metadata"]["labels"] = {"a": "c"}
    assert diff(provider, old, {"context": "k", "manifest": relabelled}) == (True, [], None)
    assert diff(provider, old, {"context": "k", "manifest": rolebinding("view")}) == (True, ["manifest"], True)
    assert diff(provider, old, {"context": "k", "manifest": rolebinding("edit", "other")})[1] == ["manifest"]
    assert diff(provider, old, {"context": "k2", "manifest": rolebinding("edit")})[1] == ["context"]


def test_projection_keeps_declared_fields_and_equal_quantities_as_written() -> None:
    desired = {"metadata": {"name": "q", "labels": {"a": "b"}}, "spec": {"hard": {"requests.memory": "1024Mi",
                                                                                  "pods": "10"}}}
    live = {"metadata": {"name": "q", "uid": "x", "labels": {"a": "b", "kubernetes.io/metadata.name": "q"},
                         "managedFields": []},
            "spec": {"hard": {"requests.memory": "1Gi", "pods": "10"}}, "status": {"used": {}}}
    assert k8s.project(desired, live) == desired
    drifted = {**live, "spec": {"hard": {"requests.memory": "2Gi", "pods": "10"}}}
    assert k8s.project(desired, drifted)["spec"]["hard"]["requests.memory"] == "2Gi"
    assert "labels" not in k8s.project(desired, {"metadata": {"name": "q"}})["metadata"]


def test_projection_cuts_server_defaults_inside_lists() -> None:
    desired = {"spec": {"ingress": [{"ports": [{"protocol": "TCP", "port": 443}]}]}}
    live = {"spec": {"ingress": [{"ports": [{"protocol": "TCP", "port": 443, "extra": 1}]}]}}
    assert k8s.project(desired, live) == desired
    longer = {"spec": {"ingress": [{"ports": []}, {"ports": []}]}}
    assert k8s.project(desired, longer) == longer


def test_kube_object_ids_and_unmanaged_kinds() -> None:
    assert k8s.object_id({"kind": "Namespace", "metadata": {"name": "czj-prod"}}) == "Namespace/czj-prod"
    assert k8s.object_id(rolebinding("edit")) == "RoleBinding/czj-prod/govcloud-g-edit"
    with pytest.raises(Exception, match="does not manage v1/Secret"):
        k8s.kind_of({"apiVersion": "v1", "kind": "Secret"})


@pytest.mark.parametrize("provider_class", ALL_PROVIDERS)
def test_providers_pickle_by_reference_and_hold_nothing(provider_class: type[GovProvider]) -> None:
    provider = provider_class()
    assert vars(provider) == {}
    serialized = serialize_provider(provider)
    assert len(serialized) < 200  # a reference to an importable class, not a copy of its code or a client
    raw = base64.b64decode(serialized)
    assert provider_class.__module__.encode() in raw
    assert type(dill.loads(raw)) is provider_class
    assert provider_class.serialize_as_secret_always is False
