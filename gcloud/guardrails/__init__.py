"""Guardrails the clouds enforce themselves, so a tenant's own identities cannot undo what govcloud made.

Kubernetes: ValidatingAdmissionPolicies built per tenant by `stacks/kubernetes_manifests.py` and created by the
tenant's stack (the resource kinds are in `gcloud.guardrails.kubernetes`). OpenStack: `neutron-policy.yaml`, an
oslo.policy overrides file shipped with the package, installed into Neutron by the cloud's deployment (and by
`govcloud sandbox up`); `neutron_policy_file()` says where it is.

The Neutron file cannot see a tenant's MLPS level (a policy check sees the caller's token and the target object,
never Keystone project tags), so govcloud gives every group of a level-3-or-higher tenant the marker role
`LOCKED_ROLE` on the tenant's project beside its mapped role; the overrides refuse security group changes to
callers holding it. Pure: no cloud client.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final

from gcloud.providers.conventions import Grant, grants

LOCKED_ROLE: Final = "govcloud-mlps3"
"""Keystone role marking a caller as a member of an MLPS level >= LOCKED_LEVEL tenant (see neutron-policy.yaml)."""
LOCKED_LEVEL: Final = 3
NEUTRON_POLICY: Final = "neutron-policy.yaml"


def neutron_policy_file() -> Path:
    """The shipped Neutron overrides file (package data), for a deployment to install or a sandbox to point at."""
    return Path(str(resources.files("gcloud.guardrails") / NEUTRON_POLICY))


def security_groups_locked(effective: Mapping[str, Any]) -> bool:
    """Whether the tenant's security groups are changed by the platform only (its MLPS level is 3 or higher)."""
    return int(effective["spec"]["mlpsLevel"]) >= LOCKED_LEVEL


def project_grants(effective: Mapping[str, Any], platform: Mapping[str, Any]) -> list[Grant]:
    """Every (group, role) govcloud assigns on the tenant's Keystone project: the roles platform.yaml maps the
    tenant's access to, and for a level-3 tenant the marker role on each of its groups. Any other assignment on
    the project is foreign."""
    mapped = grants(effective, platform, "keystone")
    if not security_groups_locked(effective):
        return mapped
    groups = dict.fromkeys(grant.group for grant in mapped)
    return [*mapped, *(Grant(group, LOCKED_ROLE, LOCKED_ROLE) for group in groups)]
