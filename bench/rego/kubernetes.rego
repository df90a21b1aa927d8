package govcloud.baseline

# GOV-K8S-001: pod security "restricted" in every namespace at level 3 and above.
violations contains [t.metadata.name, "GOV-K8S-001"] if {
	some t in tenants
	level3(t)
	some n in namespaces(t)
	pod_security(n) != "restricted"
}

# GOV-K8S-002: no privileged namespace, whatever the level.
violations contains [t.metadata.name, "GOV-K8S-002"] if {
	some t in tenants
	some n in namespaces(t)
	pod_security(n) == "privileged"
}

# GOV-K8S-004: images only from the platform's allowed registries (and a platform that allows none fails all).
violations contains [t.metadata.name, "GOV-K8S-004"] if {
	some t in tenants
	kubernetes(t) != null
	not registries_allowed(t)
}

pod_security(n) := object.get(n, "podSecurity", "restricted")

registries_allowed(t) if {
	allowed := object.get(platform.spec, "allowedRegistries", [])
	count(allowed) > 0
	every n in namespaces(t) {
		every r in object.get(n, "imageRegistries", []) {
			r in allowed
		}
	}
}
