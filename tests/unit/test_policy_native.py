"""Rules compiled to Python (native.py) answer exactly as CEL does, or leave the answer to CEL.

The main test runs every baseline tenant rule both ways over the example tenants, a generated fleet and
seeded mutations of them (nulls, missing keys, values of another type, floats for ints, public CIDRs): wherever
Python answers, CEL gives the same boolean and no error.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest

from bench.generate import generate_fleet
from gcloud.model import load_fleet
from gcloud.policy.celsyntax import bind
from gcloud.policy.evaluate import make_context
from gcloud.policy.loader import load_policies
from gcloud.policy.native import Defer, compile_rule
from gcloud.policy.policy import Policy

REPO = Path(__file__).resolve().parents[2]
TODAY = "2026-11-23"


def cel_answer(policy: Policy, tenant: Any, platform: Any) -> Any:
    """CEL's value for the rule on the whole values, or the exception it raised."""
    roots = {"tenant": tenant, "platform": platform, "today": TODAY}
    try:
        return policy.rule.evaluate(make_context(bind(policy.rule.bindings, roots), policy.rule.functions))
    except Exception as err:  # an error finding in the checker
        return err


def native_answer(policy: Policy, tenant: Any, platform: Any) -> Any:
    rule = compile_rule(policy.rule.source)
    assert rule is not None, policy.id
    try:
        return rule(tenant, platform, TODAY)
    except Exception as err:
        return err


MUTATIONS = ("null", "delete", "string", "int", "float", "bool", "list", "map", "public", "zero")


def mutate(value: Any, rng: random.Random) -> Any:
    """One random change somewhere in a copy of `value`."""
    result = copy.deepcopy(value)
    parent: Any = None
    key: Any = None
    node = result
    for _ in range(rng.randint(1, 7)):
        if isinstance(node, dict) and node:
            parent, key = node, rng.choice(sorted(node))
        elif isinstance(node, list) and node:
            parent, key = node, rng.randrange(len(node))
        else:
            break
        node = parent[key]
    if parent is None:
        return result
    kind = rng.choice(MUTATIONS)
    old = parent[key]
    new: Any = {
        "null": None, "string": str(old), "int": 1 if not isinstance(old, int) else old + 1,
        "float": float(old) if isinstance(old, int) and not isinstance(old, bool) else 0.0,
        "bool": not old if isinstance(old, bool) else True, "list": [], "map": {}, "public": "0.0.0.0/0",
        "zero": 0, "delete": None,
    }[kind]
    if kind == "delete" and isinstance(parent, dict):
        del parent[key]
    else:
        parent[key] = new
    return result


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Any], Any]:
    root = tmp_path_factory.mktemp("native")
    generate_fleet(root, 40, passing=False)
    generated = load_fleet([root / "tenants"], root / "platform.yaml", today=dt.date(2026, 11, 23))
    examples = load_fleet([REPO / "tenants"], REPO / "platform.yaml", today=dt.date(2026, 11, 23))
    plain = [doc.effective for doc in [*examples.tenants, *generated.tenants]]
    rng = random.Random(20261201)
    mutated = [mutate(rng.choice(plain), rng) for _ in range(600)]
    return plain + mutated, examples.platform_data


def test_every_python_answer_is_cels_answer(tenants: tuple[list[Any], Any]) -> None:
    data, platform = tenants
    policies = load_policies(REPO / "policies").tenant_policies()
    answered = deferred = 0
    for policy in policies:
        for tenant in data:
            mine = native_answer(policy, tenant, platform)
            if isinstance(mine, Exception):
                deferred += 1
                continue
            answered += 1
            assert mine is cel_answer(policy, tenant, platform), (policy.id, tenant)
    assert answered > 0.8 * (answered + deferred), "most evaluations stay in Python"
    assert deferred > 100, "the mutations reach values Python leaves to CEL"


def test_every_baseline_tenant_rule_compiles_and_valid_tenants_never_defer(tenants: tuple[list[Any], Any]) -> None:
    data, platform = tenants
    policies = load_policies(REPO / "policies").tenant_policies()
    assert all(compile_rule(policy.rule.source) is not None for policy in policies)
    examples = data[:9]
    assert not [(p.id, t["metadata"]["name"]) for p in policies for t in examples
                if isinstance(native_answer(p, t, platform), Exception)]


@pytest.mark.parametrize(("source", "tenant"), [
    ("tenant.a == 1", {"a": True}),  # a bool is not an int in CEL
    ("tenant.a == 1", {"a": 1.0}),  # nor a double
    ("tenant.a in [1, 2]", {"a": True}),
    ("tenant.a < 2", {"a": "1"}),
    ("!tenant.a", {"a": ""}),  # no truthiness
    ("tenant.a && true", {"a": 1}),
    ("size(tenant.a) > 0", {"a": 5}),
    ("tenant.a.all(x, x)", {"a": "text"}),  # strings are not iterable in CEL
    ("tenant.a[0] == 1", {"a": [1], "b": 0} | {"a": []}),
    ("tenant.a.b == 1", {"a": None}),
    ("tenant.a == [1]", {"a": [1]}),  # deep equality is CEL's
    ("size(tenant.a.filter(k, k == \"x\")) == 1", {"a": {"x": 1}}),  # a map's order is CEL's
    ("tenant.a + 1 > 0", {"a": 2 ** 63 - 1}),  # int64 overflow
])
def test_python_defers_where_it_could_differ(source: str, tenant: dict[str, Any]) -> None:
    rule = compile_rule(source)
    assert rule is not None
    with pytest.raises((Defer, KeyError, IndexError, TypeError)):  # each one leaves the rule to CEL
        rule(tenant, {}, TODAY)


@pytest.mark.parametrize("source", [
    "tenant.a - 1 > 0", "-tenant.a < 0", "tenant.a / 2 == 1", "tenant.a % 2 == 0", "{\"a\": 1}.a == 1",
    "has(tenant.a)", "tenant.a.startsWith(\"x\")", "tenant.a.exists_one(x, x)", "tenant.a.map(x, x > 0, x)",
    "tenant.a == \"\\n\"", "tenant.a == r\"x\"", "tenant.a == 1u", "tenant.a == 0x10", "usage.x == 1",
    "other == 1", "tenant.a.all(tenant, true)", "unknownFn(tenant.a)",
])
def test_what_python_might_mean_otherwise_stays_in_cel(source: str) -> None:
    assert compile_rule(source) is None


def test_python_answers_like_cel_on_the_supported_forms() -> None:
    tenant = {"n": 3, "s": "abc", "l": [1, 2, 3], "m": {"x": 1, "y": 2}, "z": None, "f": 1.5, "b": True}
    cases = {
        "tenant.n == 3 && tenant.s != \"x\"": True, "tenant.n <= 2 || tenant.b": True, "tenant.z == null": True,
        "tenant.l.all(i, i > 0) && tenant.l.exists(i, i == 2)": True, "size(tenant.l.filter(i, i > 1)) == 2": True,
        "tenant.l.map(i, i + 1)[2] == 4": True, "\"x\" in tenant.m && !(\"q\" in tenant.m)": True,
        "tenant.m.all(k, tenant.m[k] > 0)": True, "tenant.s + \"d\" == \"abcd\"": True,
        "double(tenant.n) * 0.5 == 1.5": True, "tenant.f > 1.0 ? tenant.s.size() == 3 : false": True,
        "tenant.s.matches(\"^a[a-z]+$\")": True, "tenant.l + [4] == tenant.l": None, "today >= \"2026-01-01\"": True,
        "unique([tenant.s, \"x\", tenant.s])": False,
    }
    for source, expected in cases.items():
        rule = compile_rule(source)
        assert rule is not None, source
        if expected is None:
            with pytest.raises(Defer):
                rule(tenant, {}, TODAY)
            continue
        assert rule(tenant, {}, TODAY) is expected, source


def test_explain_says_what_runs_each_rule() -> None:
    """`policy explain` and its JSON name the engine: Python for the baseline's tenant rules, CEL for fleet rules
    and for a rule beyond the compiled form."""
    policies = load_policies(REPO / "policies")
    assert {policy.engine for policy in policies.tenant_policies()} == {"python"}
    assert {policy.engine for policy in policies.fleet_policies()} == {"cel"}
    assert compile_rule("has(tenant.spec.openstack)") is None
