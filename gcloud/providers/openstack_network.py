"""Neutron objects of a tenant as Pulumi dynamic resources: networks, subnets, router, interfaces, security groups.

All are created inside the tenant's project (`project_id=...`, with a token of that project when govcloud's
identity is the least-privilege one of gcloud.privileges), so they count against the tenant's quota and are
visible to its members. A create first looks for the object it would make (by name in the
project; a subnet by its network and CIDR), which is what an interrupted run, or a create whose answer was lost,
left behind, and adopts it; the project belongs to govcloud, so such an object in it is ours.

That find-or-create, update, read-back and delete shape is written once, in `_NeutronProvider` (read and delete by
id) and `_AdoptingProvider` (create and update); each provider only says how its kind is found, created, updated,
read back and deleted. Router interfaces (identified by router and subnet, not by an id) stand apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from .base import FOREIGN, GovProvider, inputs_of, keep_foreign, member
from .openstack import ensure, first, found, gone, project_connection
from .retry import ProviderError, status_of, with_retry

if TYPE_CHECKING:
    from openstack.connection import Connection


class _NeutronProvider(GovProvider):
    """Read back and delete by id, alike for every kind: a missing object reads as gone, and deleting one is done."""

    kind: ClassVar[str]
    """What the messages call it: "network", "security group rule"."""

    def _get(self, conn: Connection, id_: str) -> Any:
        raise NotImplementedError

    def _live(self, conn: Connection, id_: str, thing: Any, p: Mapping[str, Any]) -> dict[str, Any]:
        """The inputs as the live object has them: what a refresh records, so that drift shows up in the diff."""
        return {}

    def _remove(self, conn: Connection, id_: str) -> None:
        """Delete it, failing with a 404 when it is gone (which `gone` then counts as done)."""
        raise NotImplementedError

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = inputs_of(props)
        conn = project_connection(p)
        thing = found(f"read {self.kind} {id_}", lambda: self._get(conn, id_))
        if thing is None:
            return ReadResult("", {})
        return ReadResult(id_, {**p, **self._live(conn, id_, thing, p), **self._members(conn, id_, p)})

    def _members(self, conn: Connection, id_: str, p: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        conn = project_connection(inputs_of(_props))
        gone(f"delete {self.kind} {_id}", lambda: self._remove(conn, _id))


class _AdoptingProvider(_NeutronProvider):
    """An object that is edited in place: a create adopts a leftover (see the module) and updates it to the inputs.

    The outputs are the inputs plus `_computed`; `_finish` runs after every create and update.
    """

    def _create(self, conn: Connection, p: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def _find(self, conn: Connection, p: Mapping[str, Any]) -> Iterable[Any]:
        """The listing, filtered to what a create would make; its first entry is adopted."""
        raise NotImplementedError

    def _update(self, conn: Connection, target: str, p: Mapping[str, Any]) -> object:
        """Set the updatable inputs on the object with id `target`."""
        raise NotImplementedError

    def _label(self, p: Mapping[str, Any]) -> str:
        """How the create message names it."""
        return str(p["name"])

    def _computed(self, conn: Connection, p: Mapping[str, Any]) -> dict[str, Any]:
        """Outputs that are not inputs (the `computed_keys`), worked out before the object is written."""
        return {}

    def _finish(self, conn: Connection, id_: str, p: Mapping[str, Any]) -> None:
        """What the object needs beyond its own attributes, once it exists with them."""

    def _foreign(self, conn: Connection, id_: str, p: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """Members of this container that govcloud did not make; None for a kind that holds nothing."""
        return None

    def _members(self, conn: Connection, id_: str, p: Mapping[str, Any]) -> dict[str, Any]:
        foreign = self._foreign(conn, id_, p)
        return {} if foreign is None else {FOREIGN: foreign}

    def _evict_one(self, conn: Connection, item: Mapping[str, Any]) -> None:
        """Remove one foreign member, failing with a 404 when it is gone already."""
        raise NotImplementedError

    def _evict(self, conn: Connection, olds: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Remove the foreign members a refresh found (unless this run keeps them); the ones left."""
        foreign: list[dict[str, Any]] = list(olds.get(FOREIGN) or [])
        if keep_foreign():
            return foreign
        for item in foreign:
            gone(f"remove foreign {item['summary']}", partial(self._evict_one, conn, item))
        return []

    def _write(self, conn: Connection, target: str, p: Mapping[str, Any]) -> None:
        with_retry(f"update {self.kind} {p['name']}", lambda: self._update(conn, target, p))

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = inputs_of(props)
        conn = project_connection(p)
        outs = {**p, **self._computed(conn, p)}
        thing, created = ensure(f"create {self.kind} {self._label(p)}", first(lambda: self._find(conn, p)),
                                lambda: self._create(conn, outs))
        thing_id = str(thing.id)
        if not created:
            self._write(conn, thing_id, outs)
        self._finish(conn, thing_id, outs)
        return CreateResult(thing_id, outs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        p = inputs_of(_news)
        conn = project_connection(p)
        outs = {**p, **self._computed(conn, p)}
        self._write(conn, _id, outs)
        self._finish(conn, _id, outs)
        return UpdateResult({**outs, FOREIGN: self._evict(conn, _olds)})


class NetworkProvider(_AdoptingProvider):
    """A tenant network; `shared` is declared (False) so that sharing it by hand shows up as drift."""

    replace_keys = frozenset({"cloud", "projectId"})
    kind = "network"

    def _create(self, conn: Connection, p: Mapping[str, Any]) -> Any:
        return conn.network.create_network(name=p["name"], project_id=p["projectId"], description=p["description"],
                                           is_shared=p["shared"])

    def _find(self, conn: Connection, p: Mapping[str, Any]) -> Iterable[Any]:
        return conn.network.networks(name=p["name"], project_id=p["projectId"])

    def _update(self, conn: Connection, target: str, p: Mapping[str, Any]) -> object:
        return conn.network.update_network(target, name=p["name"], description=p["description"],
                                           is_shared=p["shared"])

    def _get(self, conn: Connection, id_: str) -> Any:
        return conn.network.get_network(id_)

    def _live(self, conn: Connection, id_: str, network: Any, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": network.name, "description": network.description or "", "projectId": network.project_id,
                "shared": bool(network.is_shared)}

    def _remove(self, conn: Connection, id_: str) -> None:
        conn.network.delete_network(id_, ignore_missing=False)

    def _foreign(self, conn: Connection, id_: str, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every RBAC share of the network: govcloud shares none, so each one opens it to another project."""
        shares = with_retry(f"list RBAC policies of network {id_}",
                            lambda: list(conn.network.rbac_policies(object_id=id_, object_type="network")))
        return [member("NetworkRBAC", str(share.id), f"network shared ({share.action}) with project "
                       f"{share.target_project_id}", action=share.action, target=share.target_project_id)
                for share in shares]

    def _evict_one(self, conn: Connection, item: Mapping[str, Any]) -> None:
        conn.network.delete_rbac_policy(item["id"], ignore_missing=False)


class SubnetProvider(_AdoptingProvider):
    """An IPv4 subnet; a new CIDR or network means a new subnet (deleted first: CIDRs may not overlap)."""

    replace_keys = frozenset({"cloud", "projectId", "networkId", "cidr"})
    delete_before_replace = True
    kind = "subnet"

    def _label(self, p: Mapping[str, Any]) -> str:
        return f"{p['name']} {p['cidr']}"

    def _create(self, conn: Connection, p: Mapping[str, Any]) -> Any:
        return conn.network.create_subnet(
            name=p["name"], project_id=p["projectId"], network_id=p["networkId"], ip_version=4, cidr=p["cidr"],
            gateway_ip=p["gatewayIp"], dns_nameservers=p["dnsNameservers"], is_dhcp_enabled=p["enableDhcp"])

    def _find(self, conn: Connection, p: Mapping[str, Any]) -> Iterable[Any]:
        return conn.network.subnets(network_id=p["networkId"], cidr=p["cidr"])

    def _update(self, conn: Connection, target: str, p: Mapping[str, Any]) -> object:
        return conn.network.update_subnet(target, name=p["name"], gateway_ip=p["gatewayIp"],
                                          dns_nameservers=p["dnsNameservers"], is_dhcp_enabled=p["enableDhcp"])

    def _get(self, conn: Connection, id_: str) -> Any:
        return conn.network.get_subnet(id_)

    def _live(self, conn: Connection, id_: str, subnet: Any, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": subnet.name, "cidr": subnet.cidr, "gatewayIp": subnet.gateway_ip,
                "dnsNameservers": list(subnet.dns_nameservers or []), "enableDhcp": bool(subnet.is_dhcp_enabled),
                "networkId": subnet.network_id}

    def _remove(self, conn: Connection, id_: str) -> None:
        conn.network.delete_subnet(id_, ignore_missing=False)


class RouterProvider(_AdoptingProvider):
    """The tenant's router with its gateway on a platform external network (`snat` per the tenant file)."""

    replace_keys = frozenset({"cloud", "projectId"})
    computed_keys = frozenset({"externalNetworkId"})
    kind = "router"

    def _computed(self, conn: Connection, p: Mapping[str, Any]) -> dict[str, Any]:
        external = found(f"find external network {p['externalNetwork']}", lambda: conn.network.find_network(
            p["externalNetwork"], ignore_missing=False))
        if external is None or not external.is_router_external:
            raise ProviderError(f"external network {p['externalNetwork']!r} does not exist or is not external "
                                f"(platform.yaml spec.openstack.clouds[].externalNetworks)")
        return {"externalNetworkId": str(external.id)}

    @staticmethod
    def _gateway(p: Mapping[str, Any]) -> dict[str, Any]:
        return {"network_id": p["externalNetworkId"], "enable_snat": bool(p["snat"])}

    def _create(self, conn: Connection, p: Mapping[str, Any]) -> Any:
        return conn.network.create_router(name=p["name"], project_id=p["projectId"],
                                          external_gateway_info=self._gateway(p))

    def _find(self, conn: Connection, p: Mapping[str, Any]) -> Iterable[Any]:
        return conn.network.routers(name=p["name"], project_id=p["projectId"])

    def _update(self, conn: Connection, target: str, p: Mapping[str, Any]) -> object:
        return conn.network.update_router(target, name=p["name"], external_gateway_info=self._gateway(p))

    def _get(self, conn: Connection, id_: str) -> Any:
        return conn.network.get_router(id_)

    def _live(self, conn: Connection, id_: str, router: Any, p: Mapping[str, Any]) -> dict[str, Any]:
        info = router.external_gateway_info or {}
        live_network = info.get("network_id") or ""
        external = p["externalNetwork"] if live_network == p.get("externalNetworkId") else live_network
        return {"name": router.name, "externalNetwork": external, "externalNetworkId": live_network,
                "snat": bool(info.get("enable_snat"))}

    def _remove(self, conn: Connection, id_: str) -> None:
        conn.network.delete_router(id_, ignore_missing=False)


class RouterInterfaceProvider(GovProvider):
    """One subnet attached to the tenant's router; removing a network detaches only its own interface."""

    replace_keys = frozenset({"cloud", "routerId", "subnetId"})

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = inputs_of(props)
        conn = project_connection(p)
        ensure(f"attach subnet {p['subnetId']} to router {p['routerId']}",
               lambda: True if self._attached(conn, p) else None,
               lambda: conn.network.add_interface_to_router(p["routerId"], subnet=p["subnetId"]))
        return CreateResult(f"{p['routerId']}:{p['subnetId']}", p)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        """Only `projectId` can change in place (state written before it was an input): nothing to do."""
        return UpdateResult(inputs_of(_news))

    @staticmethod
    def _attached(conn: Connection, p: Mapping[str, Any]) -> bool:
        ports = conn.network.ports(device_id=p["routerId"])
        return any(ip.get("subnet_id") == p["subnetId"] for port in ports for ip in port.fixed_ips or [])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = inputs_of(props)
        conn = project_connection(p)
        attached = with_retry(f"list ports of router {p['routerId']}", lambda: self._attached(conn, p))
        return ReadResult(id_, p) if attached else ReadResult("", {})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = inputs_of(_props)
        conn = project_connection(p)
        gone(f"detach subnet {p['subnetId']} from router {p['routerId']}",
             lambda: conn.network.remove_interface_from_router(p["routerId"], subnet=p["subnetId"]))


def is_default_egress(rule: Any) -> bool:
    """Neutron's allow-all egress rules, added to every new security group (one IPv4, one IPv6)."""
    return bool(rule.direction == "egress" and rule.protocol is None and rule.port_range_min is None
                and rule.remote_ip_prefix is None and rule.remote_group_id is None
                and getattr(rule, "remote_address_group_id", None) is None)


def _create_rule_once(conn: Connection, **rule: Any) -> None:
    """Create a rule; Neutron's 409 "already exists" means a retried or concurrent create already made it."""
    try:
        conn.network.create_security_group_rule(**rule)
    except Exception as exc:
        if status_of(exc) != 409:
            raise


class SecurityGroupProvider(_AdoptingProvider):
    """A security group; `removeDefaultEgress` deletes Neutron's allow-all egress rules (and puts them back).

    A container: `rules` are the rules the stack declares (each also its own SecurityGroupRule resource); any
    other rule in the group is foreign, reported by a refresh and removed by the update after it.
    """

    replace_keys = frozenset({"cloud", "projectId"})
    kind = "security group"

    def _create(self, conn: Connection, p: Mapping[str, Any]) -> Any:
        return conn.network.create_security_group(name=p["name"], project_id=p["projectId"],
                                                  description=p["description"])

    def _find(self, conn: Connection, p: Mapping[str, Any]) -> Iterable[Any]:
        return conn.network.security_groups(name=p["name"], project_id=p["projectId"])

    def _update(self, conn: Connection, target: str, p: Mapping[str, Any]) -> object:
        return conn.network.update_security_group(target, name=p["name"], description=p["description"])

    @staticmethod
    def _defaults(conn: Connection, group_id: str) -> list[Any]:
        rules = with_retry(f"list rules of security group {group_id}",
                           lambda: list(conn.network.security_group_rules(security_group_id=group_id)))
        return [rule for rule in rules if is_default_egress(rule)]

    def _finish(self, conn: Connection, id_: str, p: Mapping[str, Any]) -> None:
        """Delete or restore the default egress rules, as `removeDefaultEgress` says."""
        defaults = self._defaults(conn, id_)
        if p["removeDefaultEgress"]:
            for rule in defaults:
                gone(f"delete default egress rule {rule.id}",
                     partial(conn.network.delete_security_group_rule, rule, ignore_missing=False))
            return
        for ethertype in sorted({"IPv4", "IPv6"} - {rule.ether_type for rule in defaults}):
            with_retry(f"restore default {ethertype} egress of {p['name']}",
                       partial(_create_rule_once, conn, security_group_id=id_, direction="egress",
                               ethertype=ethertype, project_id=p["projectId"]))

    def _get(self, conn: Connection, id_: str) -> Any:
        return conn.network.get_security_group(id_)

    def _live(self, conn: Connection, id_: str, group: Any, p: Mapping[str, Any]) -> dict[str, Any]:
        present = {rule.ether_type for rule in self._defaults(conn, id_)}
        # What the live group amounts to, in the input's terms: any default left when they should be gone reads
        # as False, a missing one when they should be there reads as True; either way the diff repairs it.
        flag = not present if p["removeDefaultEgress"] else present != {"IPv4", "IPv6"}
        return {"name": group.name, "description": group.description or "", "removeDefaultEgress": flag}

    def _remove(self, conn: Connection, id_: str) -> None:
        conn.network.delete_security_group(id_, ignore_missing=False)

    def _foreign(self, conn: Connection, id_: str, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rules nobody declared: not one of the group's `rules` inputs, nor a default egress rule it keeps."""
        expected = {rule_key(rule) for rule in p.get("rules") or []}
        keep_defaults = not p["removeDefaultEgress"]
        rules = with_retry(f"list rules of security group {id_}",
                           lambda: list(conn.network.security_group_rules(security_group_id=id_)))
        return [rule_member(rule) for rule in rules
                if live_rule_key(rule) not in expected and not (keep_defaults and is_default_egress(rule))]

    def _evict_one(self, conn: Connection, item: Mapping[str, Any]) -> None:
        conn.network.delete_security_group_rule(item["id"], ignore_missing=False)


RuleKey = tuple[str, str, str | None, int | None, int | None, str | None]


def rule_key(args: Mapping[str, Any]) -> RuleKey:
    """What makes a declared rule the rule it is (the SecurityGroupRule inputs)."""
    return (args["direction"], args["ethertype"], args.get("protocol") or None, args.get("portMin"),
            args.get("portMax"), args.get("remoteCidr"))


def live_rule_key(rule: Any) -> RuleKey:
    return (rule.direction, rule.ether_type, rule.protocol or None, rule.port_range_min, rule.port_range_max,
            rule.remote_ip_prefix)


def rule_member(rule: Any) -> dict[str, Any]:
    """A foreign rule, with the fields the live policy view maps back to a tenant-file rule."""
    ports = ("" if rule.port_range_min is None else
             f" {rule.port_range_min}" + ("" if rule.port_range_max in (None, rule.port_range_min)
                                          else f"-{rule.port_range_max}"))
    remote = rule.remote_ip_prefix or (f"group {rule.remote_group_id}" if rule.remote_group_id else "anywhere")
    return member("SecurityGroupRule", str(rule.id),
                  f"rule {rule.direction} {rule.protocol or 'any'}{ports} from {remote}",
                  direction=rule.direction, protocol=rule.protocol or "any", portMin=rule.port_range_min,
                  portMax=rule.port_range_max, remoteCidr=rule.remote_ip_prefix)


class SecurityGroupRuleProvider(_NeutronProvider):
    """One rule; Neutron rules cannot be edited, so every change is a replacement."""

    replace_keys = frozenset({"cloud", "projectId", "securityGroupId", "direction", "ethertype", "protocol",
                              "portMin", "portMax", "remoteCidr", "description"})
    kind = "security group rule"

    @staticmethod
    def _attrs(p: Mapping[str, Any]) -> dict[str, Any]:
        return {"security_group_id": p["securityGroupId"], "direction": p["direction"], "ethertype": p["ethertype"],
                "protocol": p.get("protocol") or None, "port_range_min": p.get("portMin"),
                "port_range_max": p.get("portMax"), "remote_ip_prefix": p["remoteCidr"],
                "project_id": p["projectId"], "description": p.get("description", "")}

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = inputs_of(props)
        conn = project_connection(p)
        attrs = self._attrs(p)
        rule: Any
        try:
            rule = with_retry(f"create rule in security group {p['securityGroupId']}",
                              lambda: conn.network.create_security_group_rule(**attrs))
        except ProviderError as err:
            if status_of(err.__cause__ or err) != 409:
                raise
            rule = self._same(conn, attrs)
            if rule is None:
                raise
        return CreateResult(str(rule.id), p)

    @staticmethod
    def _same(conn: Connection, attrs: Mapping[str, Any]) -> Any | None:
        """The identical rule Neutron says already exists (a retried create)."""
        keys = ("direction", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix")
        rules = with_retry("list security group rules", lambda: list(conn.network.security_group_rules(
            security_group_id=attrs["security_group_id"])))
        return next((rule for rule in rules if rule.ether_type == attrs["ethertype"]
                     and all(getattr(rule, key) == attrs[key] for key in keys)), None)

    def _get(self, conn: Connection, id_: str) -> Any:
        return conn.network.get_security_group_rule(id_)

    def _remove(self, conn: Connection, id_: str) -> None:
        conn.network.delete_security_group_rule(id_, ignore_missing=False)


# --- Resources ------------------------------------------------------------------------------------------------

class Network(Resource, module="govcloud-openstack", name="Network"):
    def __init__(self, name: str, *, cloud: str, project_id: pulumi.Input[str], network_name: str,
                 description: str = "", opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(NetworkProvider(), name, {
            "cloud": cloud, "projectId": project_id, "name": network_name, "description": description,
            "shared": False}, opts)


class Subnet(Resource, module="govcloud-openstack", name="Subnet"):
    def __init__(self, name: str, *, cloud: str, project_id: pulumi.Input[str], network_id: pulumi.Input[str],
                 args: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(SubnetProvider(), name, {
            "cloud": cloud, "projectId": project_id, "networkId": network_id, **args}, opts)


class Router(Resource, module="govcloud-openstack", name="Router"):
    def __init__(self, name: str, *, cloud: str, project_id: pulumi.Input[str], router_name: str,
                 external_network: str, snat: bool, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RouterProvider(), name, {
            "cloud": cloud, "projectId": project_id, "name": router_name, "externalNetwork": external_network,
            "snat": snat}, opts)


class RouterInterface(Resource, module="govcloud-openstack", name="RouterInterface"):
    def __init__(self, name: str, *, cloud: str, project_id: pulumi.Input[str], router_id: pulumi.Input[str],
                 subnet_id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RouterInterfaceProvider(), name, {
            "cloud": cloud, "projectId": project_id, "routerId": router_id, "subnetId": subnet_id}, opts)


class SecurityGroup(Resource, module="govcloud-openstack", name="SecurityGroup"):
    def __init__(self, name: str, *, cloud: str, project_id: pulumi.Input[str], group_name: str,
                 description: str, remove_default_egress: bool, rules: list[Mapping[str, Any]],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(SecurityGroupProvider(), name, {
            "cloud": cloud, "projectId": project_id, "name": group_name, "description": description,
            "removeDefaultEgress": remove_default_egress, "rules": [dict(rule) for rule in rules]}, opts)


class SecurityGroupRule(Resource, module="govcloud-openstack", name="SecurityGroupRule"):
    def __init__(self, name: str, *, cloud: str, project_id: pulumi.Input[str],
                 security_group_id: pulumi.Input[str], args: Mapping[str, Any],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(SecurityGroupRuleProvider(), name, {
            "cloud": cloud, "projectId": project_id, "securityGroupId": security_group_id, **args}, opts)
