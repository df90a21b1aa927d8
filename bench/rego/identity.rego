package govcloud.baseline

# GOV-IAM-002: three distinct administrators (system, security, audit) at level 3 and above.
violations contains [t.metadata.name, "GOV-IAM-002"] if {
	some t in tenants
	level3(t)
	not three_distinct_admins(t)
}

# GOV-IAM-003: access only for the tenant's own identity-provider groups ("<tenant>-...").
violations contains [t.metadata.name, "GOV-IAM-003"] if {
	some t in tenants
	some g in object.get(t.spec, "access", [])
	not startswith(g.group, concat("", [t.metadata.name, "-"]))
}

admin_roles := ["systemAdmin", "securityAdmin", "auditAdmin"]

three_distinct_admins(t) if {
	admins := [a | some role in admin_roles; a := object.get(t.spec.contacts, role, null); a != null]
	count(admins) == 3
	count({lower(a.email) | some a in admins}) == 3
	count({lower(a.name) | some a in admins}) == 3
}
