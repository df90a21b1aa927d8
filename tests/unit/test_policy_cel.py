"""CEL as policies use it: compile-time refusals, templates, and the rewrite that must not change meaning."""

from __future__ import annotations

from typing import Any

import cel
import pytest

from gcloud.policy.celexpr import ExpressionError, compile_expression, compile_template, render_value
from gcloud.policy.celsyntax import bind, literal_iterations, shape, tokens
from gcloud.policy.evaluate import make_context
from gcloud.policy.functions import (
    FUNCTION_NAMES,
    cidr_contains,
    cidr_is_private,
    days_between,
    email_in_domains,
    ports_include,
    quantity,
    unique,
)
from gcloud.policy.policy import TENANT_GLOBALS

TENANT: dict[str, Any] = {
    "metadata": {"name": "czj", "labels": {"environment": "prod"}, "orgCode": None},
    "spec": {
        "mlpsLevel": 3,
        "contacts": {"owner": {"name": "张三", "email": "Zhang@czj.gov.cn"}, "auditAdmin": None},
        "openstack": None,
        "kubernetes": {"namespaces": [{"name": "czj-prod", "podSecurity": "restricted", "limitRange": None}],
                       "quota": {}},
        "access": [{"group": "czj-admins", "role": "admin"}],
    },
}
PLATFORM = {"spec": {"mlpsLevel": 3, "adminNetworks": ["10.0.0.0/16"]}}


def compiled(source: str) -> Any:
    return compile_expression(source, TENANT_GLOBALS, FUNCTION_NAMES)


def run_rewritten(source: str) -> Any:
    expression = compiled(source)
    roots = {"tenant": TENANT, "platform": PLATFORM, "today": "2026-01-01"}
    return expression.evaluate(make_context(bind(expression.bindings, roots)))


def run_plain(source: str) -> Any:
    return cel.compile(source).execute(cel.Context({"tenant": TENANT, "platform": PLATFORM, "today": "2026-01-01"},
                                                   {}))


SAME_MEANING = [
    "tenant.spec.mlpsLevel >= 3",
    "tenant.spec.openstack == null",
    "tenant.spec.kubernetes != null",
    "null == tenant.spec.openstack",
    "tenant.spec.contacts.auditAdmin == null && tenant.spec.contacts.owner != null",
    "tenant.spec.openstack == null || tenant.spec.openstack.networks.size() > 0",
    "has(tenant.spec.openstack)",
    "has(tenant.spec.nothing)",
    "has(tenant.metadata.labels.environment)",
    "tenant.metadata.labels['environment'] == 'prod'",
    "'environment' in tenant.metadata.labels",
    "tenant.spec.kubernetes.namespaces.all(n, n.podSecurity == 'restricted' && n.limitRange == null)",
    "tenant.spec.access.map(g, g.group + ':' + g.role)",
    "tenant.metadata.name.startsWith('cz') && size(tenant.metadata.name) == 3",
    "tenant.spec.mlpsLevel <= platform.spec.mlpsLevel",
    "[tenant.spec.contacts.owner, tenant.spec.contacts.auditAdmin].filter(p, p != null).size()",
    "tenant.spec.kubernetes.quota == {}",
    "tenant.spec.mlpsLevel + 1 == 4 ? 'four' : \"other\"",
    "'tenant.spec.openstack == null'",  # a string that looks like a chain stays a string
]


@pytest.mark.parametrize("source", SAME_MEANING)
def test_rewrite_keeps_meaning(source: str) -> None:
    assert run_rewritten(source) == run_plain(source)


@pytest.mark.parametrize("source", [
    "tenant.spec.openstack.networks.size() > 0",  # select through null
    "tenant.spec.nothing == 1",                   # absent key
    "tenant.spec.contacts.auditAdmin.email == 'x'",
])
def test_rewrite_keeps_errors_errors(source: str) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the evaluator raises several types; any is an error
        run_plain(source)
    with pytest.raises(Exception):  # noqa: B017
        run_rewritten(source)


def test_short_circuit_never_touches_an_unbound_chain() -> None:
    assert run_rewritten("tenant.spec.openstack == null || tenant.spec.openstack.securityGroups.size() > 9")


def test_rewrite_converts_only_what_is_read() -> None:
    expression = compiled("tenant.spec.contacts.owner.email.endsWith('.gov.cn') && tenant.spec.openstack == null")
    names = {binding.root for binding in expression.bindings}
    assert names == {"tenant"}
    paths = {binding.path for binding in expression.bindings}
    assert paths == {("spec", "contacts", "owner", "email"), ("spec", "openstack")}
    marker = next(binding for binding in expression.bindings if binding.path == ("spec", "openstack"))
    assert marker.null_marker


@pytest.mark.parametrize(("source", "needle"), [
    ("tenant.spec.(", "does not compile"),
    ("tenant.spec.x +", "does not compile"),
    ("tenantt.spec.mlpsLevel > 1", "unknown variable 'tenantt'"),
    ("tenants.size() > 0 && tenant.spec.x", "unknown variable 'tenants'"),
    ("split(tenant.metadata.name, '-')", "unknown function 'split'"),
    ("tenant.spec.access.all(tenant, tenant.role == 'x')", "shadows the global 'tenant'"),
    ("a.all(x, b.all(y, c.all(z, d.all(w, true))))", "nest 4 deep"),
    ("   ", "empty"),
    ("x" * 5000, "over the 4000 limit"),
])
def test_compile_refuses(source: str, needle: str) -> None:
    with pytest.raises(ExpressionError, match=None) as caught:
        compiled(source)
    assert needle in str(caught.value)


def test_template_renders_values_and_literal_braces() -> None:
    template = compile_template("{tenant.metadata.name} has {{braces}} and {tenant.spec.access.map(g, g.group)} "
                                "{tenant.spec.nothing}", TENANT_GLOBALS, FUNCTION_NAMES)
    context = make_context(bind(template.bindings, {"tenant": TENANT}))
    assert template.render(context) == "czj has {braces} and czj-admins {?tenant.spec.nothing}"


@pytest.mark.parametrize(("text", "needle"), [("{tenant.spec.(}", "does not compile"), ("a } b", "unmatched"),
                                              ("{tenant", "unclosed")])
def test_template_refuses(text: str, needle: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_template(text, TENANT_GLOBALS, FUNCTION_NAMES)
    assert needle in str(caught.value)


def test_render_value() -> None:
    assert render_value([["a", "b"], [], ["c"]]) == "a, b, c"
    assert render_value(None) == "null"
    assert render_value(True) == "true"
    assert render_value(8192.0) == "8192"
    assert render_value({"a": 1}) == "a=1"


def test_shape_counts_nesting_and_bound_names() -> None:
    form = shape(tokens("a.all(x, x.b.exists(y, [1].map(z, z) == y)) && f(q)"))
    assert form.depth == 3
    assert form.bound == {"x", "y", "z"}


def test_functions() -> None:
    assert cidr_contains("10.0.0.0/16", "10.0.1.0/24") and not cidr_contains("10.0.0.0/16", "10.0.0.0/8")
    assert not cidr_contains("10.0.0.0/16", "not-a-cidr")
    assert cidr_is_private("192.168.1.0/24") and not cidr_is_private("0.0.0.0/0")
    assert not cidr_is_private("203.0.113.0/24"), "documentation ranges are not the government network"
    assert ports_include(None, 22) and ports_include("20-30", 22) and not ports_include("443", 22)
    assert quantity("64Gi") == 64 * 2**30 and quantity("500m") == 0.5 and quantity("-1") == float("inf")
    assert days_between("2026-01-01", "2026-03-01") == 59
    assert unique(["Li@x.gov.cn", "wang@x.gov.cn"]) and not unique(["Li@x.gov.cn", "li@X.gov.cn"])
    assert email_in_domains("a@czj.hz.GOV.cn", ["gov.cn"]) and not email_in_domains("a@notgov.cn", ["gov.cn"])


@pytest.mark.parametrize(("source", "steps"), [
    ("[1, 2, 3].all(x, [4, 5].exists(y, x < y))", 6),            # a nest multiplies
    ("[1, 2, 3].all(x, true) && [1, 2].all(y, true)", 3),        # siblings do not
    ("tenant.spec.access.all(g, [1, 2].exists(x, x > 0))", 2),   # data is bounded elsewhere
    ("tenant.spec.access[0].all(x, true)", 0),                   # an index, not a literal list
    ("[].all(x, true)", 0),
])
def test_literal_iterations_counts_the_steps_of_the_costliest_nest(source: str, steps: int) -> None:
    assert literal_iterations(tokens(source)) == steps
