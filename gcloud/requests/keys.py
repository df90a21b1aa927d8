"""`--set KEY=VALUE`: which field of the tenant file a quota key names, its value now, the tenant after the change.

Keys, as people say them:
- `compute.cores`, `blockStorage.gigabytes`, `network.floatingIps`: the OpenStack quota (spec.openstack.quota);
  the value now is the effective one (the tier's, overridden by the tenant's own).
- `kubernetes.quota.requests.cpu`: the tenant-wide Kubernetes quota (spec.kubernetes.quota).
- `kubernetes.namespaces.<namespace>.pods`: one namespace's quota.
The new values are checked with the tenant file's own schema (the same pydantic models), so a request can
never ask for what the file could not hold.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from gcloud.errors import InputError, Problem, SourceLocation
from gcloud.model import Tenant, TenantDocument
from gcloud.model.parse import validation_problems
from gcloud.model.quantity import parse_quantity
from gcloud.model.quota import QuotaSet
from gcloud.model.yamlsrc import PathKey, load_yaml

from .model import QuotaChange, QuotaValue

OPTION = "--set"


def _aliases(model: type[BaseModel]) -> dict[str, str]:
    """camelCase key -> field name."""
    return {info.alias or name: name for name, info in model.model_fields.items()}


def openstack_keys() -> dict[str, list[str]]:
    """Service -> its quota keys, camelCase, from the tenant file's schema."""
    result: dict[str, list[str]] = {}
    for service, name in _aliases(QuotaSet).items():
        annotation = QuotaSet.model_fields[name].annotation
        model = next(arg for arg in getattr(annotation, "__args__", (annotation,)) if arg is not type(None))
        assert isinstance(model, type) and issubclass(model, BaseModel)
        result[service] = list(_aliases(model))
    return result


@dataclass(frozen=True)
class QuotaKey:
    """A parsed key: its name as typed, where it lives in the tenant file, and whether it is a Kubernetes one."""

    key: str
    path: PathKey
    kubernetes: bool

    @property
    def service(self) -> str:
        return "kubernetes" if self.kubernetes else str(self.path[3])

    @property
    def leaf(self) -> str:
        return str(self.path[-1])


def _bad(message: str, hint: str = "", code: str = "invalid-quota-key") -> InputError:
    return InputError([Problem(SourceLocation(OPTION), "", message, code, hint)])


def parse_key(key: str, tenant: Tenant) -> QuotaKey:
    """The tenant-file path a key names; InputError for a key the schema does not know."""
    service, _, rest = key.partition(".")
    known = openstack_keys()
    if service in known:
        if rest not in known[service]:
            raise _bad(f"unknown {service} quota key {rest!r}", f"{service} keys: {', '.join(known[service])}")
        if tenant.spec.openstack is None:
            raise _bad(f"tenant {tenant.metadata.name} has no spec.openstack, so no {key} quota")
        return QuotaKey(key, ("spec", "openstack", "quota", service, rest), kubernetes=False)
    if service == "kubernetes":
        return _kube_key(key, rest, tenant)
    raise _bad(f"unknown quota key {key!r}", "e.g. compute.cores, network.floatingIps, kubernetes.quota.pods, "
               "kubernetes.namespaces.<namespace>.requests.cpu")


def _kube_key(key: str, rest: str, tenant: Tenant) -> QuotaKey:
    kube = tenant.spec.kubernetes
    if kube is None:
        raise _bad(f"tenant {tenant.metadata.name} has no spec.kubernetes, so no {key} quota")
    scope, _, name = rest.partition(".")
    if scope == "quota" and name:
        return QuotaKey(key, ("spec", "kubernetes", "quota", name), kubernetes=True)
    namespace, _, quota_key = name.partition(".")
    if scope == "namespaces" and quota_key:
        for index, item in enumerate(kube.namespaces):
            if item.name == namespace:
                return QuotaKey(key, ("spec", "kubernetes", "namespaces", index, "quota", quota_key), kubernetes=True)
        names = ", ".join(item.name for item in kube.namespaces) or "none"
        raise _bad(f"tenant {tenant.metadata.name} has no namespace {namespace!r}", f"namespaces: {names}")
    raise _bad(f"unknown Kubernetes quota key {key!r}",
               "kubernetes.quota.<key> (tenant-wide) or kubernetes.namespaces.<namespace>.<key>")


def parse_assignments(assignments: list[str], tenant: Tenant) -> list[tuple[QuotaKey, QuotaValue]]:
    """`["compute.cores=128", ...]` -> keys and typed values (ints for OpenStack, quantities for Kubernetes)."""
    if not assignments:
        raise _bad("nothing to change", "give at least one --set KEY=VALUE, e.g. --set compute.cores=128",
                   code="no-change")
    parsed: dict[str, tuple[QuotaKey, QuotaValue]] = {}
    for text in assignments:
        key, sep, raw = text.partition("=")
        if not sep or not raw.strip():
            raise _bad(f"{text!r} is not KEY=VALUE", "e.g. --set compute.cores=128")
        quota_key = parse_key(key.strip(), tenant)
        if quota_key.key in parsed:
            raise _bad(f"{quota_key.key} is set twice", code="duplicate-quota-key")
        parsed[quota_key.key] = (quota_key, _typed(quota_key, raw.strip()))
    return list(parsed.values())


def _typed(key: QuotaKey, raw: str) -> QuotaValue:
    if key.kubernetes:
        return raw
    try:
        return int(raw)
    except ValueError:
        raise _bad(f"{key.key}={raw!r}: an OpenStack quota is a whole number", code="invalid-quota-value") from None


def current_value(key: QuotaKey, doc: TenantDocument) -> QuotaValue | None:
    """The value in force now: the effective spec's (OpenStack: the tier's unless the tenant overrides it)."""
    node: Any = doc.effective
    for part in key.path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
        if node is None:
            return None
    return node if isinstance(node, int | str) else None


def changed_tenant(doc: TenantDocument, values: list[tuple[QuotaKey, QuotaValue]]) -> Tenant:
    """The tenant as it would be, validated by the tenant file's schema; InputError naming the key otherwise."""
    data = copy.deepcopy(load_yaml(doc.path, doc.label).data)
    for key, value in values:
        set_path(data, key.path, value)
    try:
        return Tenant.model_validate(data)
    except ValidationError as err:
        problems = validation_problems(doc.source, doc.label, err)
        raise InputError([Problem(SourceLocation(OPTION), problem.field, problem.message, problem.code)
                          for problem in problems]) from None


def set_path(data: Any, path: PathKey, value: Any) -> None:
    """Set a nested value, creating mappings on the way (a tenant without its own quota block gets one)."""
    node = data
    for part in path[:-1]:
        child = node[part] if isinstance(part, int) else node.get(part)
        if child is None:
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def compare(current: QuotaValue | None, requested: QuotaValue) -> int:
    """-1 for a decrease, 0 for no change, 1 for an increase (-1 means unlimited).

    An unset value (the cloud's default, which nobody reviewed) counts as lower than anything asked: setting it
    is never waved through as a decrease.
    """
    if current is None:
        return 1

    def amount(value: QuotaValue) -> Decimal:
        if str(value) == "-1":
            return Decimal("Infinity")
        return Decimal(value) if isinstance(value, int) else parse_quantity(value)

    before, after = amount(current), amount(requested)
    return (after > before) - (after < before)


def changes(doc: TenantDocument, values: list[tuple[QuotaKey, QuotaValue]]) -> list[tuple[QuotaKey, QuotaChange]]:
    """What the request asks, beside what holds now; keys asked at their current value are dropped (all: refused)."""
    result = [(key, QuotaChange(key=key.key, current=current_value(key, doc), requested=value))
              for key, value in values]
    kept = [(key, change) for key, change in result if compare(change.current, change.requested) != 0]
    if not kept:
        raise _bad(f"{', '.join(key.key for key, _ in result)}: already at the value asked", code="no-change")
    return kept


