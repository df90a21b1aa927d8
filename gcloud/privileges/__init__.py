"""What govcloud itself may do in each cloud: least privilege, written down once and shipped.

Kubernetes: a ServiceAccount bound to one ClusterRole that lists exactly the verbs and resources govcloud
manages (`kubernetes_rbac`, rendered for a platform because RoleBindings need `bind` on the ClusterRoles its
role mapping names). OpenStack: no cloud-wide admin. govcloud's Keystone user holds
- `manager` on the tenants' domain, domain-scoped: Keystone's own default policy lets a domain manager create,
  change and delete the domain's projects, groups and users, and grant the roles `domain_managed_target_role`
  lists (`keystone-policy.yaml` adds the platform's marker role to that list);
- `member` and `PROVISIONER_ROLE` on the same domain, inherited to every project in it (`OS-INHERIT`): a
  project-scoped token of any tenant project, for its networks, routers and security groups, and for its
  quotas through the overrides shipped for Nova, Cinder and Neutron (whose defaults reserve quotas for admin).
  An inherited assignment sits on the domain, not on each project, so a tenant's own assignments stay exactly
  what its file says.

One thing Neutron reserves for an admin with no policy to grant it (`context.is_admin` in its code): deleting
a project's `default` security group. `destroy` uses platform.yaml's `cleanupCloud` for that one call when the
cloud names one, and otherwise reports the group it left with the command that removes it. Pure: no client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

PROVISIONER_ROLE: Final = "govcloud-provisioner"
"""Keystone role of govcloud's own user, inherited to the tenants' projects; the quota overrides name it."""
DOMAIN_ROLE: Final = "manager"
PROJECT_ROLES: Final = ("member", PROVISIONER_ROLE)
"""Roles govcloud's user holds on the domain, inherited to its projects."""
OPENSTACK_USER: Final = "govcloud"

SERVICE_ACCOUNT_NAMESPACE: Final = "govcloud-system"
SERVICE_ACCOUNT: Final = "govcloud"
CLUSTER_ROLE: Final = "govcloud"
SERVICE_ACCOUNT_USER: Final = f"system:serviceaccount:{SERVICE_ACCOUNT_NAMESPACE}:{SERVICE_ACCOUNT}"

POLICY_FILES: Final = {"keystone": "keystone-policy.yaml", "nova": "nova-policy.yaml",
                       "cinder": "cinder-policy.yaml"}
"""oslo.policy overrides govcloud's least-privilege user needs, per service (Neutron's are in the guardrails
file, `gcloud.guardrails.neutron_policy_file`, one file per service)."""

_WRITE = ("get", "list", "watch", "create", "update", "patch", "delete")
_MANAGED: Sequence[tuple[str, Sequence[str], Sequence[str]]] = (
    # (API group, resources, verbs): what the tenant stacks write, read back and drift-check
    ("", ("namespaces", "resourcequotas", "limitranges"), _WRITE),
    ("networking.k8s.io", ("networkpolicies",), _WRITE),
    ("rbac.authorization.k8s.io", ("rolebindings",), _WRITE),
    ("admissionregistration.k8s.io", ("validatingadmissionpolicies", "validatingadmissionpolicybindings"), _WRITE),
    # what a department made itself in its namespaces: listed by destroy, deleted by destroy --purge
    ("", ("pods", "persistentvolumeclaims"), ("list", "delete")),
    ("apps", ("deployments", "statefulsets", "daemonsets"), ("list", "delete")),
    ("batch", ("jobs", "cronjobs"), ("list", "delete")),
    # verify asks the API server what each tenant group may do (SubjectAccessReview), never impersonates
    ("authorization.k8s.io", ("subjectaccessreviews",), ("create",)),
)


def kubernetes_rules(cluster_roles: Iterable[str]) -> list[dict[str, Any]]:
    """The ClusterRole's rules: govcloud's kinds, and `bind` on exactly the ClusterRoles the mapping names (RBAC
    refuses a RoleBinding to a role whose permissions its creator neither holds nor may bind)."""
    rules = [{"apiGroups": [group], "resources": list(names), "verbs": list(verbs)} for group, names, verbs in _MANAGED]
    rules.append({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"],
                  "resourceNames": sorted(set(cluster_roles))})
    return rules


def mapped_cluster_roles(platform: Mapping[str, Any]) -> list[str]:
    """The Kubernetes ClusterRoles platform.yaml's role mapping names (`spec.roles.*.kubernetes`)."""
    roles = ((platform.get("spec") or {}).get("roles") or {}).values()
    return sorted({str(mapping["kubernetes"]) for mapping in roles if mapping.get("kubernetes")})


def kubernetes_rbac(platform: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Namespace, ServiceAccount, ClusterRole and ClusterRoleBinding that govcloud runs as in a cluster."""
    return kubernetes_rbac_for(mapped_cluster_roles(platform))


def kubernetes_rbac_for(cluster_roles: Iterable[str]) -> list[dict[str, Any]]:
    """The same for a given set of ClusterRoles that tenants' RoleBindings name."""
    labels = {"app.kubernetes.io/managed-by": "govcloud", "app.kubernetes.io/component": "privileges"}
    subject = {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": SERVICE_ACCOUNT_NAMESPACE}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SERVICE_ACCOUNT_NAMESPACE, "labels": labels}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": SERVICE_ACCOUNT, "namespace": SERVICE_ACCOUNT_NAMESPACE, "labels": labels}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": CLUSTER_ROLE, "labels": labels},
         "rules": kubernetes_rules(cluster_roles)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": CLUSTER_ROLE, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CLUSTER_ROLE},
         "subjects": [subject]},
    ]


def object_path(manifest: Mapping[str, Any]) -> str:
    """The API path of one of these objects (for a server-side apply by PATCH)."""
    version, kind, meta = str(manifest["apiVersion"]), str(manifest["kind"]), manifest["metadata"]
    root = f"/api/{version}" if "/" not in version else f"/apis/{version}"
    where = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
    return f"{root}{where}/{kind.lower()}s/{meta['name']}"


def policy_file(service: str) -> Path:
    """The shipped oslo.policy overrides of one service (package data), to install as policy.d/govcloud.yaml."""
    return Path(str(resources.files("gcloud.privileges") / POLICY_FILES[service]))


def openstack_grants(domain: str) -> list[str]:
    """The Keystone assignments govcloud's user needs, as the `openstack` commands a cloud admin runs once."""
    lines = [f"openstack role create {PROVISIONER_ROLE}",
             f"openstack user create --domain {domain} --password-prompt {OPENSTACK_USER}",
             f"openstack role add --user {OPENSTACK_USER} --user-domain {domain} --domain {domain} {DOMAIN_ROLE}"]
    lines += [f"openstack role add --user {OPENSTACK_USER} --user-domain {domain} --domain {domain} --inherited "
              f"{role}" for role in PROJECT_ROLES]
    return lines


@dataclass(frozen=True)
class Privileges:
    """Everything a cloud admin sets up once so govcloud runs without admin: `govcloud privileges` renders it."""

    domain: str
    openstack_commands: tuple[str, ...]
    policy_files: Mapping[str, Path]
    """Service -> the shipped oslo.policy overrides to install as policy.d/govcloud.yaml."""
    kubernetes: tuple[dict[str, Any], ...]
    kubernetes_user: str

    def as_json(self) -> dict[str, Any]:
        return {"openstack": {"domain": self.domain, "user": OPENSTACK_USER, "domainRole": DOMAIN_ROLE,
                              "inheritedProjectRoles": list(PROJECT_ROLES), "commands": list(self.openstack_commands),
                              "policyFiles": {name: str(path) for name, path in self.policy_files.items()}},
                "kubernetes": {"user": self.kubernetes_user, "manifests": list(self.kubernetes)}}


def privileges_for(platform: Mapping[str, Any]) -> Privileges:
    """govcloud's privileges on this platform: the Keystone grants, the policy files, the cluster RBAC."""
    from gcloud.guardrails import neutron_policy_file
    from gcloud.providers.conventions import keystone_domain

    domain = keystone_domain(platform)
    files = {service: policy_file(service) for service in POLICY_FILES}
    files["neutron"] = neutron_policy_file()
    return Privileges(domain, tuple(openstack_grants(domain)), dict(sorted(files.items())),
                      tuple(kubernetes_rbac(platform)), SERVICE_ACCOUNT_USER)
