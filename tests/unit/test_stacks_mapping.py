"""Pure mapping from the effective spec to resource arguments and manifests (no Pulumi involved)."""

from __future__ import annotations

from typing import Any

import pytest
from gcloud.stacks import kubernetes_manifests as km
from gcloud.stacks import openstack_args as oa

from gcloud.providers.conventions import Grant, grants, openstack_quota_args
from gcloud.verify.results import is_default_deny

PLATFORM: dict[str, Any] = {"spec": {
    "roles": {"admin": {"keystone": "manager", "kubernetes": "admin"},
              "reader": {"keystone": "reader", "kubernetes": "view"}},
    "openstack": {"domain": "gov", "defaultQuotas": {
        "compute": {"instances": 0, "cores": 0, "ramMB": 0, "keyPairs": None},
        "network": {"floatingIps": 0, "securityGroups": 1}}},
}}


def tenant(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"access": [], "openstack": None, "kubernetes": None, "interconnects": []}
    base.update(spec)
    return {"metadata": {"name": "czj", "displayName": "市财政局"}, "spec": base, "digest": "ab" * 32}


def test_project_args_use_the_platform_domain_and_tag_the_digest() -> None:
    args = oa.project_args(tenant(), PLATFORM)
    assert args == oa.ProjectArgs("czj", "gov", "市财政局", ["govcloud", "tenant:czj", "digest:abababababab"])
    assert oa.project_args(tenant(), {"spec": {}}).domain == "Default"


@pytest.mark.parametrize(("service", "given", "expected"), [
    ("compute", {"instances": 2, "cores": 4, "ramMB": 4096, "keyPairs": 5, "serverGroups": 1},
     {"instances": 2, "cores": 4, "ram": 4096, "key_pairs": 5, "server_groups": 1}),
    ("blockStorage", {"volumes": 1, "gigabytes": 10, "snapshots": 2, "backups": 3, "backupGigabytes": 40},
     {"volumes": 1, "gigabytes": 10, "snapshots": 2, "backups": 3, "backup_gigabytes": 40}),
    ("network", {"networks": 1, "subnets": 2, "ports": 3, "routers": 4, "floatingIps": 5, "securityGroups": 6,
                 "securityGroupRules": 7},
     {"networks": 1, "subnets": 2, "ports": 3, "routers": 4, "floating_ips": 5, "security_groups": 6,
      "security_group_rules": 7}),
])
def test_quota_keys_map_to_openstacksdk_names(service: str, given: dict[str, int], expected: dict[str, int]) -> None:
    assert openstack_quota_args(service, given) == expected


def test_unknown_quota_key_or_service_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown compute quota keys: floatingIps"):
        openstack_quota_args("compute", {"floatingIps": 1})
    with pytest.raises(ValueError, match="unknown quota service"):
        openstack_quota_args("dns", {})


def test_quota_args_only_for_keys_set_and_reset_skips_unset_defaults() -> None:
    spec = tenant(openstack={"cloud": "c", "quota": {"compute": {"cores": 8}, "network": {"ports": 9},
                                                     "blockStorage": {}}})
    result = oa.quota_args(spec, PLATFORM)
    assert result == [oa.QuotaArgs("compute", {"cores": 8}, {"instances": 0, "cores": 0, "ram": 0}),
                      oa.QuotaArgs("network", {"ports": 9}, {"floating_ips": 0, "security_groups": 1})]
    no_defaults = oa.quota_args(spec, {"spec": {"openstack": {}}})
    assert [q.reset for q in no_defaults] == [{}, {}]  # reset = the service's own defaults (revert)


def test_quota_zero_is_kept_but_none_is_dropped() -> None:
    spec = tenant(openstack={"cloud": "c", "quota": {"network": {"floatingIps": 0, "ports": None}}})
    assert oa.quota_args(spec, PLATFORM)[0].quota == {"floating_ips": 0}


def test_networks_get_prefixed_names_and_an_explicit_gateway() -> None:
    spec = tenant(openstack={"cloud": "c", "networks": [
        {"name": "app", "cidr": "10.20.1.0/24", "dnsNameservers": ["10.0.0.2"]},
        {"name": "db", "cidr": "10.20.2.128/25"}]})
    app, db = oa.network_args(spec)
    assert (app.key, app.name) == ("app", "czj-app")
    assert app.subnet == {"name": "czj-app", "cidr": "10.20.1.0/24", "gatewayIp": "10.20.1.1",
                          "dnsNameservers": ["10.0.0.2"], "enableDhcp": True}
    assert (db.subnet["gatewayIp"], db.subnet["dnsNameservers"]) == ("10.20.2.129", [])


def test_router_args() -> None:
    assert oa.router_args(tenant(openstack={"cloud": "c", "router": None})) is None
    assert oa.router_args(tenant(openstack={"cloud": "c", "router": {"externalNetwork": "ext", "snat": True}})) == \
        oa.RouterArgs("czj-router", "ext", True)


@pytest.mark.parametrize(("rule", "ports"), [
    ({"direction": "ingress", "protocol": "tcp", "ports": "443", "remoteCidr": "10.0.0.0/8"}, (443, 443)),
    ({"direction": "ingress", "protocol": "udp", "ports": "8000-8080", "remoteCidr": "10.0.0.0/8"}, (8000, 8080)),
    ({"direction": "egress", "protocol": "tcp", "ports": None, "remoteCidr": "10.0.0.0/8"}, None),
    ({"direction": "ingress", "protocol": "icmp", "ports": "8", "remoteCidr": "10.0.0.0/8"}, None),
    ({"direction": "egress", "protocol": "any", "ports": "22", "remoteCidr": "10.0.0.0/8"}, None),
])
def test_rule_args(rule: dict[str, Any], ports: tuple[int, int] | None) -> None:
    args = oa.rule_args(rule).args
    assert args["protocol"] == ("" if rule["protocol"] == "any" else rule["protocol"])
    assert (args.get("portMin"), args.get("portMax")) == (ports or (None, None))
    assert args["ethertype"] == "IPv4" and args["remoteCidr"] == "10.0.0.0/8"


def test_rule_keys_follow_content_so_reordering_replaces_nothing_and_duplicates_collapse() -> None:
    a = {"direction": "ingress", "protocol": "tcp", "ports": "443", "remoteCidr": "10.0.0.0/8"}
    b = {"direction": "ingress", "protocol": "tcp", "ports": "22", "remoteCidr": "10.0.0.0/16"}
    first = oa.security_group_args(tenant(openstack={"cloud": "c", "securityGroups": [
        {"name": "web", "rules": [a, b, dict(a)]}]}))[0]
    second = oa.security_group_args(tenant(openstack={"cloud": "c", "securityGroups": [
        {"name": "web", "rules": [b, a]}]}))[0]
    assert len(first.rules) == 2
    assert {rule.key for rule in first.rules} == {rule.key for rule in second.rules}
    assert oa.rule_args(a).key != oa.rule_args({**a, "remoteCidr": "10.0.0.0/9"}).key
    assert (first.name, first.remove_default_egress) == ("czj-web", False)


def test_grants_resolve_through_the_role_map_and_refuse_unknown_roles() -> None:
    spec = tenant(access=[{"group": "czj-admins", "role": "admin"}, {"group": "czj-audit", "role": "reader"}])
    assert grants(spec, PLATFORM, "keystone") == [Grant("czj-admins", "admin", "manager"),
                                                  Grant("czj-audit", "reader", "reader")]
    assert [g.role for g in grants(spec, PLATFORM, "kubernetes")] == ["admin", "view"]
    with pytest.raises(ValueError, match="'owner'"):
        grants(tenant(access=[{"group": "x", "role": "owner"}]), PLATFORM, "keystone")


def test_namespace_manifest_puts_chinese_in_annotations_only() -> None:
    manifest = km.namespace_manifest(tenant(), {"name": "czj-prod", "podSecurity": "baseline",
                                                "imageRegistries": ["harbor.gov.local", "r2.gov.local"]})
    meta = manifest["metadata"]
    assert meta["labels"] == {"app.kubernetes.io/managed-by": "govcloud", "govcloud.io/tenant": "czj",
                              "pod-security.kubernetes.io/enforce": "baseline",
                              "pod-security.kubernetes.io/audit": "baseline",
                              "pod-security.kubernetes.io/warn": "baseline"}
    assert meta["annotations"] == {"govcloud.io/display-name": "市财政局",
                                   "govcloud.io/allowed-registries": "harbor.gov.local,r2.gov.local"}


def test_quota_and_limit_range_only_when_declared() -> None:
    assert km.resource_quota_manifest({"name": "czj-a", "quota": {}}) is None
    quota = km.resource_quota_manifest({"name": "czj-a", "quota": {"pods": "10", "requests.cpu": "2"}})
    assert quota is not None and quota["spec"] == {"hard": {"pods": "10", "requests.cpu": "2"}}
    assert km.limit_range_manifest({"name": "czj-a", "limitRange": None}) is None
    assert km.limit_range_manifest({"name": "czj-a", "limitRange": {"defaultCpu": None}}) is None
    limits = km.limit_range_manifest({"name": "czj-a", "limitRange": {"defaultCpu": "500m",
                                                                       "defaultRequestMemory": "128Mi"}})
    assert limits is not None
    assert limits["spec"]["limits"] == [{"type": "Container", "default": {"cpu": "500m"},
                                         "defaultRequest": {"memory": "128Mi"}}]


def test_network_policies_deny_by_default_and_allow_tenant_dns_and_interconnects() -> None:
    accepted = {"ticket": "SEC-1", "expires": None, "active": True}
    spec = tenant(kubernetes={"cluster": "k", "networkIsolation": "tenant"}, interconnects=[
        {"to": "sjj", "ports": ["443", "8000-8080"], "protocol": "tcp", "expires": "2027-03-31", "active": True,
         "acceptance": accepted},
        {"to": "old", "ports": ["22"], "protocol": "tcp", "expires": "2020-01-01", "active": False,
         "acceptance": accepted},
        {"to": "any", "ports": [], "protocol": "udp", "expires": None, "active": True, "acceptance": accepted},
        {"to": "one", "ports": ["443"], "protocol": "tcp", "expires": None, "active": True, "acceptance": None},
        {"to": "ran", "ports": ["443"], "protocol": "tcp", "expires": None, "active": True,
         "acceptance": {**accepted, "active": False}}])
    policies = {p["metadata"]["name"]: p for p in km.network_policy_manifests(spec, "czj-prod")}
    assert set(policies) == {"govcloud-default-deny", "govcloud-allow-same-tenant", "govcloud-allow-dns",
                             "govcloud-interconnect-to-sjj", "govcloud-interconnect-to-any"}
    assert is_default_deny(policies["govcloud-default-deny"])
    assert not any(is_default_deny(p) for name, p in policies.items() if name != "govcloud-default-deny")
    same = policies["govcloud-allow-same-tenant"]["spec"]
    assert same["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {"govcloud.io/tenant": "czj"}}}]}]
    dns = policies["govcloud-allow-dns"]["spec"]["egress"][0]
    assert dns["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    sjj = policies["govcloud-interconnect-to-sjj"]["spec"]["egress"][0]
    assert sjj["to"] == [{"namespaceSelector": {"matchLabels": {"govcloud.io/tenant": "sjj"}}}]
    assert sjj["ports"] == [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 8000, "endPort": 8080}]
    assert "ports" not in policies["govcloud-interconnect-to-any"]["spec"]["egress"][0]


def test_inbound_interconnects_open_the_receiving_side() -> None:
    spec = tenant(kubernetes={"cluster": "k"})
    spec["inboundInterconnects"] = [{"from": "czj", "ports": ["443"], "protocol": "tcp", "expires": None,
                                     "active": True}]
    policies = {p["metadata"]["name"]: p for p in km.network_policy_manifests(spec, "czj-prod")}
    ingress = policies["govcloud-interconnect-from-czj"]["spec"]
    assert ingress["policyTypes"] == ["Ingress"]
    assert ingress["ingress"][0]["from"] == [{"namespaceSelector": {"matchLabels": {"govcloud.io/tenant": "czj"}}}]


def test_no_isolation_means_no_policies() -> None:
    assert km.network_policy_manifests(tenant(kubernetes={"cluster": "k", "networkIsolation": "none"}), "x") == []


def test_role_bindings_name_the_cluster_role_because_role_ref_is_immutable() -> None:
    (binding,) = km.role_binding_manifests([Grant("czj-staff", "member", "edit")], "czj-prod")
    assert binding["metadata"]["name"] == "govcloud-czj-staff-edit"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}
    assert binding["subjects"] == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "czj-staff"}]
