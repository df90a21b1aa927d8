"""What all tenants ask of each cloud and cluster, summed once for fleet rules (`usage` in CEL).

Summing inside CEL is possible (`sum(tenants.filter(...).map(...))`) but the evaluator copies every map it
selects from, so 10,000 tenants x 5 capacity keys costs seconds; summing here costs milliseconds and the
comparison with capacity x overcommit, the actual policy, stays in the reviewed file.

```
usage.openstack["gov-east"]["cores"]      # sum of effective quota compute.cores of tenants on gov-east
usage.kubernetes["gov-k8s"]["requests.cpu"]  # per tenant its tenant-wide quota, else its namespaces' sum
```
Every value is a double; an unlimited (-1) quota counts as infinity, so no capacity can hold it.
`usage.flows` holds the flows between tenants (flows.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from .flows import fleet_flows
from .functions import quantity

Usage = dict[str, Any]


def fleet_usage(platform: Mapping[str, Any], tenants: Iterable[Mapping[str, Any]]) -> Usage:
    """Quotas summed per cloud (OpenStack leaf keys) and per cluster (Kubernetes quota keys)."""
    spec = platform.get("spec") or {}
    openstack = {cloud["name"]: dict.fromkeys(cloud.get("capacity") or {}, 0.0)
                 for cloud in (spec.get("openstack") or {}).get("clouds") or []}
    kubernetes = {cluster["name"]: dict.fromkeys(cluster.get("capacity") or {}, 0.0)
                  for cluster in (spec.get("kubernetes") or {}).get("clusters") or []}
    tenants = list(tenants)
    for tenant in tenants:
        tenant_spec = tenant.get("spec") or {}
        if tenant_spec.get("openstack"):
            _add_openstack(openstack, tenant_spec["openstack"])
        if tenant_spec.get("kubernetes"):
            _add_kubernetes(kubernetes, tenant_spec["kubernetes"])
    return {"openstack": openstack, "kubernetes": kubernetes, "flows": fleet_flows(tenants)}


def _add_openstack(totals: dict[str, dict[str, float]], openstack: Mapping[str, Any]) -> None:
    cloud = totals.setdefault(str(openstack.get("cloud")), {})
    for values in (openstack.get("quota") or {}).values():
        for key, value in (values or {}).items():
            cloud[key] = cloud.get(key, 0.0) + (math.inf if value == -1 else float(value))


def _add_kubernetes(totals: dict[str, dict[str, float]], kubernetes: Mapping[str, Any]) -> None:
    cluster = totals.setdefault(str(kubernetes.get("cluster")), {})
    tenant_wide = kubernetes.get("quota") or {}
    summed: dict[str, float] = {}
    for namespace in kubernetes.get("namespaces") or []:
        for key, value in (namespace.get("quota") or {}).items():
            summed[key] = summed.get(key, 0.0) + quantity(value)
    for key, value in tenant_wide.items():
        summed[key] = quantity(value)
    for key, value in summed.items():
        cluster[key] = cluster.get(key, 0.0) + value
