# Rego translations of govcloud baseline rules, for bench/bench_policy_peer.py: what a security team that does
# not use govcloud would run with OPA or Conftest over the same tenants.
#
# The same rules read either input: effective specs (`opa eval -i effective.json`, input.tenants and
# input.platform) or the raw tenant files as Conftest would load them (`-d` a folder holding raw/<name>/ and
# platform/, so data.raw.<name> and data.platform). Raw files omit what govcloud's loader fills in (a rule
# without remoteCidr means 0.0.0.0/0, podSecurity defaults to restricted, ...), so the rules read those keys with
# the same defaults. `violations` is the set of [tenant, policy id] pairs, which the benchmark compares with
# govcloud's findings.
package govcloud.baseline

tenants := input.tenants if input.tenants

tenants := [t | some t in data.raw] if not input.tenants

platform := input.platform if input.platform

platform := data.platform if not input.platform

level3(t) if t.spec.mlpsLevel in {3, 4}

openstack(t) := object.get(t.spec, "openstack", null)

kubernetes(t) := object.get(t.spec, "kubernetes", null)

ingress_rules(t) := [r |
	some g in object.get(openstack(t), "securityGroups", [])
	some r in object.get(g, "rules", [])
	r.direction == "ingress"
]

namespaces(t) := object.get(kubernetes(t), "namespaces", [])
