"""Pulumi dynamic providers for govcloud's cloud objects (OpenStack via openstacksdk, Kubernetes via its client).

Modules: `openstack` (project, groups, role assignments, quotas), `openstack_network` (networks, subnets,
router, security groups), `kubernetes` (namespaced objects by server-side apply), `credentials` (clients from a
cloud or context name, at run time), `retry` (transient errors), `conventions` (names, tags, labels, quota keys).
Nothing is imported here: the pure `conventions` module must stay importable without Pulumi or a cloud SDK.
"""
