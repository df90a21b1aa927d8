package govcloud.baseline

# GOV-NET-001: no ingress from 0.0.0.0/0 at level 3 and above.
violations contains [t.metadata.name, "GOV-NET-001"] if {
	some t in tenants
	level3(t)
	some r in ingress_rules(t)
	remote_cidr(r) == "0.0.0.0/0"
}

# GOV-NET-004: SSH and RDP only from the platform's admin networks.
violations contains [t.metadata.name, "GOV-NET-004"] if {
	some t in tenants
	some r in ingress_rules(t)
	r.protocol != "icmp"
	some port in [22, 3389]
	ports_include(r, port)
	not from_admin_network(r)
}

# GOV-NET-009: no SNAT on a level-3 tenant's router.
violations contains [t.metadata.name, "GOV-NET-009"] if {
	some t in tenants
	level3(t)
	router := object.get(openstack(t), "router", null)
	router != null
	object.get(router, "snat", false) == true
}

remote_cidr(r) := object.get(r, "remoteCidr", "0.0.0.0/0")

from_admin_network(r) if {
	some a in object.get(platform.spec, "adminNetworks", [])
	net.cidr_contains(a, remote_cidr(r))
}

# A rule's ports: "22", "20-30", 22, or absent / null for every port.
ports_include(r, port) if object.get(r, "ports", null) == null

ports_include(r, port) if {
	bounds := split(sprintf("%v", [r.ports]), "-")
	to_number(bounds[0]) <= port
	port <= to_number(bounds[count(bounds) - 1])
}
