"""The Pulumi program of one tenant stack, and the factory the engine calls by dotted path.

The engine runs `gcloud.stacks.program:build(effective, platform)` in a process of its own and hands the
returned zero-argument callable to the Automation API as an inline program. Both arguments are JSON-like dicts:
`effective` is the model's effective spec of the tenant (camelCase keys, quotas merged, CIDRs set, `digest`),
`platform` is platform.yaml dumped the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import pulumi

from .components import KubernetesTenant, OpenStackTenant
from .kubernetes_manifests import kubernetes_spec
from .openstack_args import openstack_spec, tenant_id

OUTPUT_KEYS = ("tenant", "digest", "projectId", "networkIds", "subnetIds", "routerId", "securityGroupIds",
               "namespaces")


def tenant_outputs(effective: Mapping[str, Any], platform: Mapping[str, Any]) -> dict[str, Any]:
    """Register the tenant's components; the stack outputs, every key always present (None / empty if unused)."""
    tenant = tenant_id(effective)
    outputs: dict[str, Any] = {"tenant": tenant, "digest": str(effective["digest"]), "projectId": None,
                               "networkIds": {}, "subnetIds": {}, "routerId": None, "securityGroupIds": {},
                               "namespaces": []}
    if openstack_spec(effective) is not None:
        cloud = OpenStackTenant(tenant, effective, platform)
        outputs.update(projectId=cloud.project_id, networkIds=cloud.network_ids, subnetIds=cloud.subnet_ids,
                       routerId=cloud.router_id, securityGroupIds=cloud.security_group_ids)
    if kubernetes_spec(effective) is not None:
        outputs["namespaces"] = KubernetesTenant(tenant, effective, platform).namespaces
    return outputs


def tenant_program(effective: Mapping[str, Any], platform: Mapping[str, Any]) -> None:
    """The inline program: components plus the stack outputs in OUTPUT_KEYS."""
    for key, value in tenant_outputs(effective, platform).items():
        pulumi.export(key, value)


def build(effective: Mapping[str, Any], platform: Mapping[str, Any]) -> Callable[[], None]:
    """Program factory for the engine: a zero-argument callable (picklable: a partial of a module function)."""
    return partial(tenant_program, effective, platform)
