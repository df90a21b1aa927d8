package govcloud.baseline

# GOV-QUOTA-001: no unlimited (-1) OpenStack quota.
violations contains [t.metadata.name, "GOV-QUOTA-001"] if {
	some t in tenants
	some section in object.get(openstack(t), "quota", {})
	some value in section
	value < 0
}

# GOV-QUOTA-004: every namespace has a requests.cpu, requests.memory and pods quota.
violations contains [t.metadata.name, "GOV-QUOTA-004"] if {
	some t in tenants
	some n in namespaces(t)
	some key in ["requests.cpu", "requests.memory", "pods"]
	not key in object.keys(object.get(n, "quota", {}))
}
