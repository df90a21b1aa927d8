"""What makes checks fast must not change a finding: cut-down values, message contexts, positions kept from
loading, the remembered YAML tags."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_policy_evaluate import PLATFORM, policies_from, policy  # tests/unit is on sys.path

import gcloud.policy.evaluate as evaluate
from gcloud.errors import SourceLocation
from gcloud.model.yamlsrc import load_yaml
from gcloud.policy import cellib as cel
from gcloud.policy.celsyntax import Elements, Keys, needs, project, tokens
from gcloud.policy.evaluate import Checker, Subject
from gcloud.policy.finding import Finding
from gcloud.policy.functions import UnsupportedRegex, quick_matches
from gcloud.policy.policy import Policy, PolicySet


@pytest.fixture(autouse=True, params=["python", "cel"])
def rule_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here twice: tenant rules in their Python form where they have one (native.py), and all in CEL."""
    if request.param == "cel":
        monkeypatch.setattr(Policy, "python_rule", property(lambda self: None))
    return str(request.param)


def read(source: str) -> Any:
    return needs(tokens(source), frozenset({"xs"}))["xs"]


def test_a_list_read_only_through_its_macros_needs_only_the_fields_they_select() -> None:
    assert read("xs.all(n, n.a == 1) && size(xs) > 0") == Elements(Keys({"a": None}))
    assert read("xs.all(g, g.rules.all(r, r.port > 0 && has(r.cidr)))") == Elements(
        Keys({"rules": Elements(Keys({"port": None, "cidr": None}))}))
    assert read("size(xs.filter(g, g.role == 1)) <= 2") == Elements(Keys({"role": None}))
    assert read("xs.all(n, n.a.b == 1) && xs.exists(m, m.a == 2)") == Elements(Keys({"a": None}))


@pytest.mark.parametrize("source", [
    "xs.all(n, n == 1)", "xs[0].a == 1", "1 in xs", "xs.filter(n, n.a == 1) == []", "xs.map(i, v, v.a)",
    "xs.all(n, n.startsWith(\"a\"))", "f(xs)", "xs.size() > 1",
])
def test_any_other_read_needs_the_whole_value(source: str) -> None:
    assert read(source) is None


def test_cutting_keeps_missing_keys_missing_and_leaves_maps_and_scalars_whole() -> None:
    need = Elements(Keys({"a": None, "c": Keys({"d": None})}))
    assert project(need, [{"a": 1, "b": 2, "c": {"d": 3, "e": 4}}, {"b": 1}, "text"]) == [
        {"a": 1, "c": {"d": 3}}, {}, "text"]
    assert project(need, {"k": 1}) == {"k": 1}  # a macro over a map iterates its keys: never cut


def subject(name: str, spec: dict[str, Any]) -> Subject:
    data = {"metadata": {"name": name, "labels": {}}, "spec": {"mlpsLevel": 3, "exceptions": [], **spec}}
    return Subject(name, f"tenants/{name}.yaml", data, lambda field: SourceLocation(f"tenants/{name}.yaml", 2, 1))


def findings(policies: PolicySet, subjects: list[Subject]) -> tuple[Finding, ...]:
    checker = Checker(policies, PLATFORM, dt.date(2026, 1, 1))
    return checker.check(subjects, lambda field: SourceLocation("platform.yaml", 9, 3)).findings


RULES = (
    policy("T-A-001", "tenant.spec.items.all(i, i.size > 1)",
           message="{tenant.metadata.name}: {tenant.spec.items.map(i, i.name)}"),
    policy("T-A-002", "tenant.spec.items.exists(i, i.missing == 1)"),  # no such key: an error finding
    policy("T-A-003", "size(tenant.spec.items.filter(i, i.size > 2)) < 1",
           message="{tenant.spec.items.filter(i, has(i.note)).map(i, i.name + \" \" + i.note)}"),
)


def fleet(count: int) -> list[Subject]:
    return [subject(f"t{n:03d}", {"items": [{"name": f"i{n}", "size": n % 4, "note": "x"}, {"name": "j", "size": 2}]})
            for n in range(count)]


def test_cut_values_find_and_say_exactly_what_whole_values_do(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    policies = policies_from(tmp_path, *RULES)
    fast = findings(policies, fleet(12))
    monkeypatch.setattr(evaluate, "reads", lambda expressions: {})
    assert fast == findings(policies, fleet(12))
    assert {f.policy_id for f in fast} == {"T-A-001", "T-A-002", "T-A-003"}
    error = next(f for f in fast if f.policy_id == "T-A-002")
    assert error.message == "rule could not be evaluated: no such key missing"
    quoted = next(f for f in fast if f.policy_id == "T-A-003")
    assert quoted.message == "i3 x"  # the message reads the whole value, not the rule's cut


FORKED = """
import datetime as dt, json, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from test_policy_evaluate import PLATFORM, policies_from
from test_policy_speed import RULES, fleet
import gcloud.policy.evaluate as evaluate
from gcloud.errors import SourceLocation
from gcloud.policy.evaluate import Checker
policies = policies_from(Path(sys.argv[2]), *RULES)
where = lambda field: SourceLocation("platform.yaml", 9, 3)
one = Checker(policies, PLATFORM, dt.date(2026, 1, 1)).check(fleet(40), where)
here, run = set(), Checker._check_run
def spy(self, subjects):
    here.add(os.getpid())  # a worker adds to its own copy
    return run(self, subjects)
Checker._check_run = spy
evaluate.FORK_THRESHOLD, evaluate.fork_workers = 10, lambda: 2
forked = Checker(policies, PLATFORM, dt.date(2026, 1, 1)).check(fleet(40), where)
print(json.dumps({"same_findings": forked.findings == one.findings, "findings": len(one.findings),
                  "same_evaluated": forked.evaluated == one.evaluated, "judged": forked.evaluated["T-A-001"],
                  "ran_here": bool(here)}))
"""


def test_forked_workers_find_and_record_exactly_what_one_process_does(tmp_path: Path) -> None:
    """Above FORK_THRESHOLD the tenants are checked in runs on forked workers: same findings, `evaluated` in the
    tenants' order, and no run checked in the parent. In a fresh interpreter: this one may hold threads."""
    done = subprocess.run([sys.executable, "-c", FORKED, str(Path(__file__).parent), str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=True)
    seen = json.loads(done.stdout)
    assert seen["same_findings"] and seen["findings"] >= 30 and seen["same_evaluated"]
    assert seen["judged"] == [f"t{n:03d}" for n in range(40)]
    assert not seen["ran_here"], "the runs were checked in the workers, not in the parent"


TENANT = """\
metadata:
  name: aa
  flags: {a: "true", b: true, c: yes, d: 012, e: "012"}
spec:
  items:
    - {name: one, size: 1}
    - name: two
      tags: [x, y]
"""


def test_positions_kept_from_loading_are_the_ones_a_second_parse_finds(tmp_path: Path) -> None:
    path = tmp_path / "aa.yaml"
    path.write_text(TENANT, encoding="utf-8")
    doc = load_yaml(path)
    assert doc.packed_positions
    reparsed = dataclasses.replace(doc, packed_positions=b"")
    assert doc.positions == reparsed.positions
    assert doc.position(("spec", "items", 1, "tags", 1)) == (8, 17)


def test_positions_left_to_demand_are_the_ones_loading_records(tmp_path: Path) -> None:
    """A fleet's loader keeps no positions (keep_positions=False): found on demand, they are the same."""
    path = tmp_path / "aa.yaml"
    path.write_text(TENANT, encoding="utf-8")
    lazy = load_yaml(path, keep_positions=False)
    assert not lazy.packed_positions
    assert lazy.data == load_yaml(path).data
    assert lazy.positions == load_yaml(path).positions
    assert lazy.position(("spec", "items", 1, "tags", 1)) == (8, 17)


def test_remembered_tags_resolve_as_the_first_time(tmp_path: Path) -> None:
    path = tmp_path / "aa.yaml"
    path.write_text(TENANT, encoding="utf-8")
    first, second = load_yaml(path).data, load_yaml(path).data
    assert first == second
    assert second["metadata"]["flags"] == {"a": "true", "b": True, "c": True, "d": 10, "e": "012"}


MATCHING = (
    policy("T-M-001", "tenant.spec.items.all(i, i.name.matches(\"^[ij][0-9]*$\"))"),
    policy("T-M-002", "tenant.spec.items.all(i, i.name.matches(\"^(i|j)[0-9]+$\"))"),  # outside the quick subset
    policy("T-M-003", "tenant.spec.items.exists(i, i.name.matches(\"[\"))"),  # not a regex: CEL's error
    policy("T-M-004", "tenant.metadata.name.matches(\"^t00[0-4]$\") || size(tenant.spec.items) > 5"),
)


def as_written(policies: PolicySet) -> PolicySet:
    return PolicySet(tuple(dataclasses.replace(p, rule=dataclasses.replace(p.rule, quick=None)) for p in policies))


def test_matches_compiled_once_finds_and_says_exactly_what_cel_does(tmp_path: Path) -> None:
    policies = policies_from(tmp_path, *MATCHING)
    assert {p.id for p in policies if p.rule.quick is not None} == {"T-M-001", "T-M-002", "T-M-003", "T-M-004"}
    quick = findings(policies, fleet(12))
    assert quick == findings(as_written(policies), fleet(12))
    assert {(f.policy_id, f.status.value) for f in quick} == {
        ("T-M-002", "fail"), ("T-M-003", "error"), ("T-M-004", "fail")}


@pytest.mark.parametrize("pattern", ["^(a+)+$", "a|b", "a*b*", "[a-z]+\\d", "\\w", "[[a]]", "a{1,3}", "x" * 300,
                                     "(?i)a", "a$b"])
def test_patterns_outside_the_shared_subset_are_left_to_cel(pattern: str) -> None:
    with pytest.raises(UnsupportedRegex):
        quick_matches("aaa", pattern)


def test_quick_patterns_mean_what_re2_means() -> None:
    assert quick_matches("t001-admins", "^t001-[a-z0-9]+$")
    assert not quick_matches("t001-admins\n", "^t001-[a-z0-9]+$")  # RE2's $ is the end of the text
    assert quick_matches("x@czj.gov.cn", "\\.gov\\.cn$") and not quick_matches("x@czjgov.cn", "\\.gov\\.cn$")
    with pytest.raises(UnsupportedRegex):
        quick_matches("a" * 300, "a")


@pytest.mark.parametrize(("pattern", "texts"), [
    ("^t001-[a-z0-9]+$", ["t001-ab", "t001-", "t0012-ab", "t001-AB", "xt001-ab", "t001-ab\n", "t001"]),
    ("^a.b", ["a.b", "axb", "ab", "a.bc"]),
    ("^a\\.b$", ["a.b", "axb", "a.b\n"]),
    ("^ab?c", ["ac", "abc", "abbc", "xabc"]),
    ("^t0-x", ["t0-x", "t0-xyz", "t0x"]),
    ("^", ["", "anything"]),
    ("gov\\.cn$", ["a.gov.cn", "gov.cnx", "govxcn"]),
])
def test_a_literal_prefix_split_off_means_what_cel_means(pattern: str, texts: list[str]) -> None:
    """Anchored patterns share one compiled regex per shape (the literal prefix is compared as text): the
    answers are CEL's own, for texts that match, fail at the prefix, fail after it, or end in a newline."""
    program = cel.compile("t.matches(p)")
    for text in texts:
        assert quick_matches(text, pattern) is program.execute(cel.Context({"t": text, "p": pattern}, {})), text


def test_patterns_differing_only_in_their_literal_prefix_share_one_compiled_regex() -> None:
    from gcloud.policy.functions import _quick_regex

    first, second = _quick_regex("^t00001-[a-z0-9]+$"), _quick_regex("^t00002-[a-z0-9]+$")
    assert first is not None and second is not None
    assert (first.prefix, second.prefix) == ("t00001-", "t00002-") and first.rest is second.rest
