"""The two halves of a tenant as Pulumi components: its OpenStack project and its Kubernetes namespaces.

Resource names are `<tenant>-...` (or `<namespace>-...`), stable across runs, so a re-apply of an unchanged
spec is a no-op and removing one network removes exactly its resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from gcloud.guardrails import kubernetes as guardrails
from gcloud.guardrails import project_grants
from gcloud.providers import kubernetes as k8s
from gcloud.providers import openstack as ostack
from gcloud.providers import openstack_network as onet
from gcloud.providers.conventions import grants

from . import kubernetes_manifests as manifests
from . import openstack_args as args


class OpenStackTenant(pulumi.ComponentResource):
    """Project, group role assignments, quota sets, networks + subnets, router + interfaces, security groups."""

    project_id: pulumi.Output[str]
    network_ids: dict[str, pulumi.Output[str]]
    subnet_ids: dict[str, pulumi.Output[str]]
    router_id: pulumi.Output[str] | None
    security_group_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, effective: Mapping[str, Any], platform: Mapping[str, Any],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("govcloud:tenant:OpenStackTenant", name, None, opts)
        spec = args.openstack_spec(effective)
        if spec is None:
            raise ValueError(f"tenant {name} has no spec.openstack")
        tenant, cloud = args.tenant_id(effective), str(spec["cloud"])
        child = pulumi.ResourceOptions(parent=self)
        project = args.project_args(effective, platform)
        self._project = ostack.Project(f"{tenant}-project", cloud=cloud, project_name=project.name,
                                       domain=project.domain, description=project.description, tags=project.tags,
                                       assignments=[(g.group, g.role) for g in project_grants(effective, platform)],
                                       cleanup_cloud=project.cleanup_cloud, opts=child)
        self.project_id = self._project.id
        self._access(tenant, cloud, effective, platform, project.domain)
        quotas = {quota.service: ostack.Quota(
            f"{tenant}-quota-{quota.service}", cloud=cloud, project_id=self.project_id, service=quota.service,
            quota=quota.quota, reset=quota.reset, opts=pulumi.ResourceOptions(parent=self))
            for quota in args.quota_args(effective, platform)}
        # The network quota first, so the project may hold what comes next; and on destroy last, so resetting it to
        # the platform's floor never meets networks still counted against it.
        network_quota = [quotas["network"]] if "network" in quotas else []
        in_project = pulumi.ResourceOptions(parent=self, depends_on=[self._project, *network_quota])
        self._networks(tenant, cloud, effective, in_project)
        self._security_groups(tenant, cloud, effective, in_project)
        self.register_outputs({"projectId": self.project_id, "networkIds": self.network_ids,
                               "subnetIds": self.subnet_ids, "routerId": self.router_id,
                               "securityGroupIds": self.security_group_ids})

    def _access(self, tenant: str, cloud: str, effective: Mapping[str, Any], platform: Mapping[str, Any],
                domain: str) -> None:
        groups: dict[str, ostack.IdentityGroup] = {}
        for grant in project_grants(effective, platform):  # the marker role of level-3 tenants included
            if grant.group not in groups:
                groups[grant.group] = ostack.IdentityGroup(
                    f"{tenant}-group-{grant.group}", cloud=cloud, group_name=grant.group, domain=domain,
                    description=f"govcloud tenant {tenant}", opts=pulumi.ResourceOptions(parent=self))
            ostack.GroupRoleAssignment(f"{tenant}-role-{grant.group}-{grant.role}", cloud=cloud,
                                       project_id=self.project_id, group_id=groups[grant.group].id, role=grant.role,
                                       opts=pulumi.ResourceOptions(parent=self))

    def _networks(self, tenant: str, cloud: str, effective: Mapping[str, Any], opts: pulumi.ResourceOptions) -> None:
        self.network_ids, self.subnet_ids = {}, {}
        router_spec = args.router_args(effective)
        router = None if router_spec is None else onet.Router(
            f"{tenant}-router", cloud=cloud, project_id=self.project_id, router_name=router_spec.name,
            external_network=router_spec.external_network, snat=router_spec.snat, opts=opts)
        self.router_id = None if router is None else router.id
        for network in args.network_args(effective):
            net = onet.Network(f"{tenant}-net-{network.key}", cloud=cloud, project_id=self.project_id,
                               network_name=network.name, opts=opts)
            subnet = onet.Subnet(f"{tenant}-subnet-{network.key}", cloud=cloud, project_id=self.project_id,
                                 network_id=net.id, args=network.subnet, opts=opts)
            self.network_ids[network.key], self.subnet_ids[network.key] = net.id, subnet.id
            if router is not None:
                onet.RouterInterface(f"{tenant}-router-if-{network.key}", cloud=cloud, project_id=self.project_id,
                                     router_id=router.id, subnet_id=subnet.id, opts=opts)

    def _security_groups(self, tenant: str, cloud: str, effective: Mapping[str, Any],
                         opts: pulumi.ResourceOptions) -> None:
        self.security_group_ids = {}
        for group in args.security_group_args(effective):
            sg = onet.SecurityGroup(f"{tenant}-sg-{group.key}", cloud=cloud, project_id=self.project_id,
                                    group_name=group.name, description=group.description,
                                    remove_default_egress=group.remove_default_egress,
                                    rules=[rule.args for rule in group.rules], opts=opts)
            self.security_group_ids[group.key] = sg.id
            for rule in group.rules:
                onet.SecurityGroupRule(f"{tenant}-sg-{group.key}-rule-{rule.key}", cloud=cloud,
                                       project_id=self.project_id, security_group_id=sg.id, args=rule.args,
                                       opts=opts)


class KubernetesTenant(pulumi.ComponentResource):
    """Namespaces with quota, limits, default-deny NetworkPolicies and RoleBindings of the tenant's groups."""

    namespaces: list[str]

    def __init__(self, name: str, effective: Mapping[str, Any], platform: Mapping[str, Any],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("govcloud:tenant:KubernetesTenant", name, None, opts)
        spec = manifests.kubernetes_spec(effective)
        if spec is None:
            raise ValueError(f"tenant {name} has no spec.kubernetes")
        context = str(spec["cluster"])
        access = grants(effective, platform, "kubernetes")
        self.namespaces = []
        for namespace in spec.get("namespaces") or []:
            ns_name = str(namespace["name"])
            ns = k8s.Namespace(ns_name, context=context, manifest=manifests.namespace_manifest(effective, namespace),
                               opts=pulumi.ResourceOptions(parent=self))
            inside = pulumi.ResourceOptions(parent=self, depends_on=[ns])
            quota = manifests.resource_quota_manifest(namespace)
            if quota is not None:
                k8s.ResourceQuota(f"{ns_name}-quota", context=context, manifest=quota, opts=inside)
            limits = manifests.limit_range_manifest(namespace)
            if limits is not None:
                k8s.LimitRange(f"{ns_name}-limits", context=context, manifest=limits, opts=inside)
            for policy in manifests.network_policy_manifests(effective, ns_name):
                k8s.NetworkPolicy(f"{ns_name}-netpol-{policy['metadata']['name']}", context=context, manifest=policy,
                                  opts=inside)
            for binding in manifests.role_binding_manifests(access, ns_name):
                k8s.RoleBinding(f"{ns_name}-rb-{binding['metadata']['name']}", context=context, manifest=binding,
                                opts=inside)
            self.namespaces.append(ns_name)
        self._guardrails(effective, platform, context)
        self.register_outputs({"namespaces": self.namespaces})

    def _guardrails(self, effective: Mapping[str, Any], platform: Mapping[str, Any], context: str) -> None:
        """The tenant's admission policies, each binding after its policy (a binding naming a missing policy is
        accepted but enforces nothing, so the order makes "bound" mean "in force")."""
        if not self.namespaces:
            return
        identity = guardrails.govcloud_identity(platform, context)
        tenant = args.tenant_id(effective)
        for policy, binding in manifests.guardrail_manifests(effective, platform, identity):
            name = f"{tenant}-admission-{policy['metadata']['name'].removeprefix(f'govcloud-{tenant}-')}"
            made = guardrails.ValidatingAdmissionPolicy(name, context=context, manifest=policy,
                                                        opts=pulumi.ResourceOptions(parent=self))
            guardrails.ValidatingAdmissionPolicyBinding(
                f"{name}-binding", context=context, manifest=binding,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[made]))
