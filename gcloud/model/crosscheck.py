"""Rules that need more than one file: names, references into platform.yaml, CIDRs, namespaces, parents.

Each rule returns problems instead of raising, so one run reports everything wrong with a tenant set.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from ipaddress import IPv4Network
from pathlib import Path

from gcloud.errors import Problem

from .effective import effective_quota
from .parse import located
from .platform import IpPool, Platform
from .quantity import format_quantity, parse_quantity
from .tenant import KubernetesSpec, Tenant
from .yamlsrc import PathKey, YamlDocument


@dataclass(frozen=True)
class Loaded:
    """A tenant file that passed its own schema, waiting for the cross-tenant rules."""

    tenant: Tenant
    doc: YamlDocument
    label: str

    @property
    def name(self) -> str:
        return self.tenant.metadata.name

    def problem(self, path: PathKey, message: str, code: str, hint: str = "") -> Problem:
        return located(self.doc, self.label, path, message, code, hint)


def check_file_names(items: list[Loaded]) -> Iterator[Problem]:
    """metadata.name equals the file stem and is unique across the set."""
    seen: dict[str, Loaded] = {}
    for item in items:
        stem = Path(item.label).stem
        if item.name != stem:
            yield item.problem(("metadata", "name"), f"must equal the file name {stem!r}", "name-mismatch",
                               f"rename the file to {item.name}.yaml or fix the name")
        if item.name in seen:
            yield item.problem(("metadata", "name"), f"tenant {item.name!r} is also defined in "
                               f"{seen[item.name].label}", "duplicate-tenant")
        seen.setdefault(item.name, item)


def check_platform_references(item: Loaded, platform: Platform) -> Iterator[Problem]:
    """Tier, cloud, external network, cluster and roles named by a tenant exist in platform.yaml."""
    spec = item.tenant.spec
    if spec.tier is not None and spec.tier not in platform.spec.tiers:
        yield item.problem(("spec", "tier"), f"unknown tier {spec.tier!r}", "unknown-tier",
                           f"platform.yaml defines: {', '.join(sorted(platform.spec.tiers)) or 'none'}")
    if spec.mlps_level > platform.spec.mlps_level:
        yield item.problem(("spec", "mlpsLevel"), f"level {spec.mlps_level} exceeds the platform's level "
                           f"{platform.spec.mlps_level}", "level-above-platform")
    for index, grant in enumerate(spec.access):
        if grant.role not in platform.spec.roles:
            yield item.problem(("spec", "access", index, "role"), f"unknown role {grant.role!r}", "unknown-role",
                               f"platform.yaml maps: {', '.join(sorted(platform.spec.roles))}")
    if spec.openstack is not None:
        cloud = platform.cloud(spec.openstack.cloud)
        if cloud is None:
            names = ", ".join(c.name for c in platform.spec.openstack.clouds)
            yield item.problem(("spec", "openstack", "cloud"), f"unknown cloud {spec.openstack.cloud!r}",
                               "unknown-cloud", f"platform.yaml allows: {names or 'none'}")
        router = spec.openstack.router
        if cloud is not None and router is not None and router.external_network not in cloud.external_networks:
            yield item.problem(("spec", "openstack", "router", "externalNetwork"),
                               f"unknown external network {router.external_network!r} on cloud {cloud.name}",
                               "unknown-external-network",
                               f"cloud {cloud.name} offers: {', '.join(cloud.external_networks) or 'none'}")
    if spec.kubernetes is not None and platform.cluster(spec.kubernetes.cluster) is None:
        names = ", ".join(c.name for c in platform.spec.kubernetes.clusters)
        yield item.problem(("spec", "kubernetes", "cluster"), f"unknown cluster {spec.kubernetes.cluster!r}",
                           "unknown-cluster", f"platform.yaml allows: {names or 'none'}")


def check_tenant_references(items: list[Loaded]) -> Iterator[Problem]:
    """Parents and interconnect targets exist; the parent chain has no cycle."""
    by_name = {item.name: item for item in items}
    for item in items:
        parent = item.tenant.metadata.parent
        if parent is not None and parent not in by_name:
            yield item.problem(("metadata", "parent"), f"parent tenant {parent!r} is not in the tenant set",
                               "unknown-parent")
        for index, link in enumerate(item.tenant.spec.interconnects):
            yield from _flow_end(item, ("spec", "interconnects", index, "to"), link.to, by_name,
                                 f"interconnect target {link.to!r}", "interconnect with itself")
        yield from _acceptance_references(item, by_name)
    yield from _parent_cycles(items, by_name)


def _flow_end(item: Loaded, path: tuple[str | int, ...], peer: str, by_name: Mapping[str, Loaded], named: str,
              itself: str) -> Iterator[Problem]:
    """The other end of an interconnect (either half) is a tenant of the set, and not the tenant itself."""
    if peer not in by_name:
        yield item.problem(path, f"{named} is not in the tenant set", "unknown-tenant")
    elif peer == item.name:
        yield item.problem(path, f"a tenant cannot {itself}", "self-interconnect")


def _acceptance_references(item: Loaded, by_name: Mapping[str, Loaded]) -> Iterator[Problem]:
    """An accepted inbound flow names a tenant of the set (not itself) and security groups of its own file."""
    openstack = item.tenant.spec.openstack
    groups = {group.name for group in openstack.security_groups} if openstack is not None else set()
    for index, accept in enumerate(item.tenant.spec.accepted_interconnects):
        yield from _flow_end(item, ("spec", "acceptedInterconnects", index, "from"), accept.from_, by_name,
                             f"interconnect source {accept.from_!r}", "accept an interconnect from itself")
        for position, name in enumerate(accept.security_groups):
            if name not in groups:
                yield item.problem(("spec", "acceptedInterconnects", index, "securityGroups", position),
                                   f"unknown security group {name!r}", "unknown-security-group",
                                   f"spec.openstack.securityGroups defines: {', '.join(sorted(groups)) or 'none'}")


def _parent_cycles(items: list[Loaded], by_name: Mapping[str, Loaded]) -> Iterator[Problem]:
    reported: set[str] = set()
    for item in items:
        chain: list[str] = []
        current: str | None = item.name
        while current is not None and current in by_name and current not in chain:
            chain.append(current)
            current = by_name[current].tenant.metadata.parent
        if current is not None and current in chain and current not in reported:
            cycle = chain[chain.index(current):]
            reported.update(cycle)
            owner = by_name[current]
            yield owner.problem(("metadata", "parent"), "parent cycle: " + " -> ".join([*cycle, current]),
                                "parent-cycle")


def allocate_and_check_cidrs(items: list[Loaded], platform: Platform,
                             pinned: Mapping[tuple[str, str], IPv4Network]) -> tuple[
                                 dict[str, dict[str, IPv4Network]], list[Problem]]:
    """Every CIDR inside a pool, none overlapping (sort + sweep, O(n log n)); missing ones allocated.

    Allocation is deterministic (tenants by name, networks in file order, first free block of the pool's prefix
    length), and a CIDR pinned by an earlier apply is reused so a network never moves.
    """
    problems: list[Problem] = []
    pools = platform.spec.ip_pools
    claims: list[tuple[IPv4Network, Loaded, int]] = []
    for item in items:
        if item.tenant.spec.openstack is None:
            continue
        for index, network in enumerate(item.tenant.spec.openstack.networks):
            cidr = network.cidr or pinned.get((item.name, network.name))
            if cidr is None:
                continue
            if network.cidr is not None and not any(cidr.subnet_of(pool.cidr) for pool in pools):
                problems.append(item.problem(("spec", "openstack", "networks", index, "cidr"),
                                             f"{cidr} is outside every platform ipPool", "cidr-outside-pool",
                                             "pools: " + ", ".join(str(p.cidr) for p in pools)))
            claims.append((cidr, item, index))
    problems += _overlaps(claims)
    allocated = _allocate(items, pools, [claim[0] for claim in claims], pinned, problems)
    return allocated, problems


def _overlaps(claims: list[tuple[IPv4Network, Loaded, int]]) -> list[Problem]:
    problems = []
    ordered = sorted(claims, key=lambda claim: (int(claim[0].network_address), -claim[0].prefixlen))
    widest: tuple[IPv4Network, Loaded, int] | None = None
    for claim in ordered:
        cidr, item, index = claim
        if widest is not None and int(cidr.network_address) <= int(widest[0].broadcast_address):
            other, owner, _ = widest
            where = "another network of this tenant" if owner is item else f"tenant {owner.name} ({owner.label})"
            problems.append(item.problem(("spec", "openstack", "networks", index, "cidr"),
                                         f"{cidr} overlaps {other} of {where}", "cidr-overlap"))
        if widest is None or int(cidr.broadcast_address) > int(widest[0].broadcast_address):
            widest = claim
    return problems


def _allocate(items: list[Loaded], pools: list[IpPool], taken: list[IPv4Network],
              pinned: Mapping[tuple[str, str], IPv4Network], problems: list[Problem]
              ) -> dict[str, dict[str, IPv4Network]]:
    allocated: dict[str, dict[str, IPv4Network]] = defaultdict(dict)
    free = _FreeBlocks(pools, taken)
    for item in sorted(items, key=lambda i: i.name):
        if item.tenant.spec.openstack is None:
            continue
        for index, network in enumerate(item.tenant.spec.openstack.networks):
            fixed = network.cidr or pinned.get((item.name, network.name))
            block = fixed or free.next()
            if block is None:
                problems.append(item.problem(("spec", "openstack", "networks", index),
                                             "no free block left in the platform ipPools", "pool-exhausted"))
                continue
            allocated[item.name][network.name] = block
    return dict(allocated)


class _FreeBlocks:
    """Hands out the pools' free blocks in address order, in one pass over the sorted taken ranges."""

    def __init__(self, pools: list[IpPool], taken: list[IPv4Network]) -> None:
        self.pools = list(pools)
        self.taken = sorted((int(n.network_address), int(n.broadcast_address)) for n in taken)
        self.pool_index = 0
        self.taken_index = 0
        self.candidate = int(self.pools[0].cidr.network_address) if self.pools else 0

    def next(self) -> IPv4Network | None:
        while self.pool_index < len(self.pools):
            pool = self.pools[self.pool_index]
            step = 2 ** (32 - pool.prefix_length)
            end = int(pool.cidr.broadcast_address)
            block = self._skip_taken(step)
            if block + step - 1 <= end:
                self.candidate = block + step
                return IPv4Network((block, pool.prefix_length))
            self.pool_index += 1
            if self.pool_index < len(self.pools):
                self.candidate = int(self.pools[self.pool_index].cidr.network_address)
                self.taken_index = 0
        return None

    def _skip_taken(self, step: int) -> int:
        """The first aligned block at or after the candidate that overlaps no taken range."""
        block = -(-self.candidate // step) * step
        while self.taken_index < len(self.taken):
            low, high = self.taken[self.taken_index]
            if high < block:
                self.taken_index += 1
            elif low < block + step:
                block = -(-(high + 1) // step) * step
            else:
                break
        return block


def check_namespaces(items: list[Loaded]) -> Iterator[Problem]:
    """Namespaces start with `<tenant>-`, are unique across tenants, and fit the tenant-wide quota."""
    owners: dict[str, Loaded] = {}
    for item in items:
        kube = item.tenant.spec.kubernetes
        if kube is None:
            continue
        for index, namespace in enumerate(kube.namespaces):
            path: PathKey = ("spec", "kubernetes", "namespaces", index, "name")
            if not namespace.name.startswith(f"{item.name}-"):
                yield item.problem(path, f"namespace {namespace.name!r} must start with {item.name + '-'!r}",
                                   "namespace-prefix")
            owner = owners.setdefault(namespace.name, item)
            if owner is not item:
                yield item.problem(path, f"namespace {namespace.name!r} is also claimed by tenant {owner.name} "
                                   f"({owner.label})", "namespace-clash")
            elif sum(ns.name == namespace.name for ns in kube.namespaces[:index]):
                yield item.problem(path, f"namespace {namespace.name!r} is listed twice", "namespace-clash")
        yield from _namespaces_fit(item)


def _namespaces_fit(item: Loaded) -> Iterator[Problem]:
    kube = item.tenant.spec.kubernetes
    assert kube is not None
    for key, limit in kube.quota.items():
        if limit == "-1":
            continue
        total, unbounded_at = _namespaces_total(kube, key)
        if unbounded_at is not None:
            yield item.problem(("spec", "kubernetes", "namespaces", unbounded_at, "quota"),
                               f"must set {key} because the tenant-wide quota bounds it", "quota-unbounded")
        elif total > parse_quantity(limit):
            yield item.problem(("spec", "kubernetes", "quota", key), f"namespaces' quotas add up to "
                               f"{format_quantity(total)}, over the tenant-wide {limit}", "quota-exceeds")


def _namespaces_total(kube: KubernetesSpec, key: str) -> tuple[Decimal, int | None]:
    """The namespaces' quotas of one key added up, and the index of the first one that leaves it unbounded."""
    total = Decimal(0)
    for index, namespace in enumerate(kube.namespaces):
        value = namespace.quota.get(key)
        if value is None or value == "-1":
            return total, index
        total += parse_quantity(value)
    return total, None


def _sub_units(items: list[Loaded]) -> tuple[dict[str, Loaded], dict[str, list[Loaded]]]:
    """(tenants by name, sub-units by parent name) of the parents present in the set."""
    by_name = {item.name: item for item in items}
    children: dict[str, list[Loaded]] = defaultdict(list)
    for item in items:
        parent = item.tenant.metadata.parent
        if parent in by_name:
            children[parent].append(item)
    return by_name, children


def check_parent_quotas(items: list[Loaded], platform: Platform) -> Iterator[Problem]:
    """Sub-units' OpenStack and Kubernetes quotas, summed per key, fit in what their parent grants."""
    by_name, children = _sub_units(items)
    yield from _parent_kube_quotas(by_name, children)
    for parent_name, kids in children.items():
        parent_quota = effective_quota(by_name[parent_name].tenant, platform)
        sums: dict[tuple[str, str], int] = defaultdict(int)
        for child in kids:
            for service, values in effective_quota(child.tenant, platform).items():
                for key, value in values.items():
                    sums[(service, key)] += value if value >= 0 else 10**18
        for (service, key), total in sorted(sums.items()):
            granted = parent_quota.get(service, {}).get(key)
            if granted is None or granted < 0 or total <= granted:
                continue
            for child in kids:
                if key in effective_quota(child.tenant, platform).get(service, {}):
                    shown = "unlimited" if total >= 10**18 else str(total)
                    yield child.problem(("spec", "openstack", "quota", service, key),
                                        f"sub-units of {parent_name} ask for {shown} in all, over the "
                                        f"{granted} the parent grants", "quota-exceeds-parent")


def _parent_kube_quotas(by_name: Mapping[str, Loaded], children: Mapping[str, list[Loaded]]) -> Iterator[Problem]:
    """A key the parent's tenant-wide Kubernetes quota bounds is bounded for its sub-units, in sum, too."""
    for parent_name, kids in children.items():
        parent_kube = by_name[parent_name].tenant.spec.kubernetes
        if parent_kube is None:
            continue
        for key, granted in sorted(parent_kube.quota.items()):
            if granted == "-1":
                continue
            asks: list[tuple[Loaded, PathKey, Decimal]] = []
            for child in kids:
                ask = _kube_ask(child, key)
                if ask is None:
                    continue
                path, amount = ask
                if amount is None:
                    yield child.problem(path, f"must set {key}: parent {parent_name} bounds it to {granted}",
                                        "quota-unbounded")
                    break
                asks.append((child, path, amount))
            else:
                total = sum((amount for _, _, amount in asks), Decimal(0))
                if total > parse_quantity(granted):
                    for child, path, _ in asks:
                        yield child.problem(path, f"sub-units of {parent_name} ask for {format_quantity(total)} "
                                            f"of {key} in all, over the {granted} the parent grants",
                                            "quota-exceeds-parent")


def _kube_ask(child: Loaded, key: str) -> tuple[PathKey, Decimal | None] | None:
    """What a sub-unit asks of one Kubernetes key: its tenant-wide quota, else its namespaces' sum (None: unbounded).

    None when it has no Kubernetes part at all.
    """
    kube = child.tenant.spec.kubernetes
    if kube is None:
        return None
    wide = kube.quota.get(key)
    if wide is not None:
        path: PathKey = ("spec", "kubernetes", "quota", key)
        return path, None if wide == "-1" else parse_quantity(wide)
    total, unbounded_at = _namespaces_total(kube, key)
    if unbounded_at is not None:
        return ("spec", "kubernetes", "namespaces", unbounded_at, "quota"), None
    return ("spec", "kubernetes", "quota"), total
