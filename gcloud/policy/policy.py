"""A loaded policy: the reviewed text plus its compiled rule and message, and the scope it applies to."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gcloud.errors import SourceLocation

from .celexpr import Expression, Template
from .celsyntax import Binding
from .native import RULE_GLOBALS, NativeRule, compile_rule
from .schema import PolicySpec

TENANT_GLOBALS = frozenset(RULE_GLOBALS)
FLEET_GLOBALS = frozenset({"tenants", "usage", "platform", "today"})
"""`tenants`: every effective tenant; `usage`: their quotas summed per cloud and cluster (see usage.py)."""


@dataclass(frozen=True)
class Policy:
    """One policy, compiled; `fleet` policies run once over all tenants, the others once per tenant."""

    spec: PolicySpec
    rule: Expression
    message: Template
    fleet: bool
    source: SourceLocation
    offenders: Expression | None = None
    """A fleet rule's tenants a failure is about (schema: `offenders`)."""

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def severity(self) -> str:
        return self.spec.severity

    @property
    def enforcement(self) -> str:
        return self.spec.enforcement

    @property
    def waivable(self) -> bool:
        return self.spec.waivable

    @property
    def bindings(self) -> frozenset[Binding]:
        """Variables the rule and message read, so a context carries (and converts) only what is used."""
        return frozenset().union(*(part.bindings for part in self._parts()))

    @property
    def functions(self) -> frozenset[str]:
        return frozenset().union(*(part.functions for part in self._parts()))

    @property
    def python_rule(self) -> NativeRule | None:
        """A tenant rule compiled to Python (native.py), or None: a fleet rule, or a rule beyond that form."""
        return None if self.fleet else compile_rule(self.rule.source)

    @property
    def engine(self) -> str:
        """What evaluates the rule: "python" (`python_rule`; the CEL library still judges values outside it and
        reports every error) or "cel"."""
        return "cel" if self.python_rule is None else "python"

    def _parts(self) -> tuple[Expression | Template, ...]:
        return (self.rule, self.message) if self.offenders is None else (self.rule, self.message, self.offenders)

    def applies_to(self, tenant: Mapping[str, Any]) -> bool:
        """True when the tenant's MLPS level and labels are in this policy's scope."""
        scope = self.spec.applies_to
        spec = tenant.get("spec") or {}
        if scope.mlps_levels and spec.get("mlpsLevel") not in scope.mlps_levels:
            return False
        labels = (tenant.get("metadata") or {}).get("labels") or {}
        return all(labels.get(key) == value for key, value in scope.labels.items())

    def scope_text(self) -> str:
        """The scope in words, for `policy list` and `policy explain`."""
        if self.fleet:
            return "fleet (once over all tenants)"
        scope = self.spec.applies_to
        parts = []
        if scope.mlps_levels:
            parts.append("MLPS level " + ", ".join(str(level) for level in sorted(scope.mlps_levels)))
        parts += [f"label {key}={value}" for key, value in sorted(scope.labels.items())]
        return " and ".join(parts) if parts else "every tenant"


@dataclass(frozen=True)
class PolicySet:
    """Policies by id, in a stable order (by id)."""

    policies: tuple[Policy, ...]

    def __iter__(self) -> Iterator[Policy]:
        return iter(self.policies)

    def __len__(self) -> int:
        return len(self.policies)

    def get(self, policy_id: str) -> Policy | None:
        return next((policy for policy in self.policies if policy.id == policy_id), None)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(policy.id for policy in self.policies)

    def tenant_policies(self) -> Sequence[Policy]:
        return [policy for policy in self.policies if not policy.fleet]

    def fleet_policies(self) -> Sequence[Policy]:
        return [policy for policy in self.policies if policy.fleet]
