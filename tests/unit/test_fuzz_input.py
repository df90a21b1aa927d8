"""Property-based fuzzing of everything that reads a user's file: hostile input ends in a result or an InputError.

Seeded (`derandomize=True`, no example database), so every CI run tries the same cases; the counts below add up
to FUZZ_CASES per run, in about 30 s on the 2-core CI machine. The in-process properties: the YAML loader on
random bytes, random YAML structures (which must round-trip or be refused) and mutations of the example tenant
files; load_fleet (the effective-spec builder) and check_fleet (the policy engine) on mutated tenants;
render_template on hostile values; the loader's memory on bombs. The real CLI then runs on a few generated
hostile files: exit 0, 1 or 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gcloud.errors import InputError
from gcloud.model import Fleet, load_fleet
from gcloud.model.templates import available_templates, render_template
from gcloud.model.yamlsrc import load_yaml
from gcloud.policy.check import check_fleet
from gcloud.policy.finding import CheckResult
from gcloud.policy.loader import load_policies

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = {path.name: path.read_text(encoding="utf-8") for path in sorted((REPO / "tenants").glob("*.yaml"))}
TODAY = dt.date(2026, 5, 12)

CASES = {"bytes": 1500, "structures": 800, "mutations": 1000, "fleet": 400, "templates": 600}
FUZZ_CASES = sum(CASES.values())
"""Cases hypothesis generates per run (4,300); the README's reliability table quotes this figure."""


def fuzz(cases: int) -> settings:
    """The same seeded cases on every run; no deadline (the CI machine is shared), no saved examples."""
    return settings(max_examples=cases, derandomize=True, database=None, deadline=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


HOSTILE = [
    "{{ 7*7 }}", "{% for x in range(9) %}x{% endfor %}", "${{ 7*7 }}", "$(id)", "`id`", "; rm -rf / #",
    "<script>alert(1)</script>", "[red]red[/red]", "[/]", "[link=file:///etc/passwd]x[/link]", "\x1b[2J",
    "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\", "\x9b31m", "\u202etxt.exe", "\x00", "\r\n",
    "&anchor", "*alias", "!!python/object/apply:os.system [id]", "<<: {}", "- list", "key: value", "'", '"',
    "\\", "%TAG", "---", "...", "#", "市财政局", "𝕏", "\ufeff", "\u2028",
]
"""Text that means something to Jinja, a shell, a browser, rich, a terminal or YAML itself."""

hostile_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40),
                         st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=4).map("".join))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), hostile_text,
                    st.floats(allow_nan=False), st.dates())
structures = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(hostile_text, inner, max_size=5)), max_leaves=30)


def load_or_refuse(path: Path) -> Any:
    """The loader's contract: data, or an InputError that names the file. Anything else fails the test."""
    try:
        return load_yaml(path, "fuzz.yaml").data
    except InputError as err:
        assert err.problems and all(problem.location.file == "fuzz.yaml" for problem in err.problems)
        return err


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@fuzz(CASES["bytes"])
@given(raw=st.one_of(st.binary(max_size=300),
                     st.sampled_from(sorted(EXAMPLES.values())).flatmap(
                         lambda text: st.binary(max_size=20).map(lambda junk: text.encode()[:len(junk) * 40] + junk))))
def test_random_bytes_load_or_are_refused(raw: bytes, scratch: Path) -> None:
    path = scratch / "fuzz.yaml"
    path.write_bytes(raw)
    load_or_refuse(path)


def _plain(value: Any) -> bool:
    """No control character anywhere: the loader must give such a structure back exactly."""
    if isinstance(value, str):
        return not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]",
                             value)
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(_plain(key) and _plain(item) for key, item in value.items())
    return True


@fuzz(CASES["structures"])
@given(value=structures, flow=st.booleans())
def test_random_structures_round_trip_or_are_refused_for_control_characters(value: Any, flow: bool,
                                                                             scratch: Path) -> None:
    path = scratch / "fuzz.yaml"
    path.write_text(yaml.safe_dump(value, allow_unicode=True, default_flow_style=flow), encoding="utf-8")
    loaded = load_or_refuse(path)
    if isinstance(loaded, InputError):
        codes = {problem.code for problem in loaded.problems}
        assert not _plain(value) or codes <= {"empty-file", "yaml-too-deep"}, loaded
        assert _plain(value) or codes <= {"control-character", "empty-file"}, loaded
    else:
        assert loaded == value


def _mutations(text: str) -> st.SearchStrategy[str]:
    """Edits a reviewer might miss: a line dropped, doubled, cut, re-indented, or a value made hostile."""
    lines = text.splitlines(keepends=True)
    index = st.integers(0, len(lines) - 1)

    def swap_value(i: int, new: str) -> str:
        key, sep, _ = lines[i].partition(": ")
        line = f"{key}: {json.dumps(new, ensure_ascii=False)}\n" if sep else lines[i]
        return "".join([*lines[:i], line, *lines[i + 1:]])

    return st.one_of(
        index.map(lambda i: "".join(lines[:i] + lines[i + 1:])),
        index.map(lambda i: "".join(lines[:i + 1] + lines[i:])),
        index.map(lambda i: "".join(lines[:i])),
        st.tuples(index, st.integers(-4, 4)).map(
            lambda t: "".join([*lines[:t[0]], " " * max(0, len(lines[t[0]]) - len(lines[t[0]].lstrip()) + t[1])
                               + lines[t[0]].lstrip(), *lines[t[0] + 1:]])),
        st.tuples(index, hostile_text).map(lambda t: swap_value(*t)),
        st.tuples(index, st.sampled_from(["&a ", "*a ", "!!binary ", "? ", "- ", "{", "[", "'", "<<: "])).map(
            lambda t: "".join([*lines[:t[0]], t[1] + lines[t[0]], *lines[t[0] + 1:]])),
    )


mutated_tenant = st.sampled_from(sorted(EXAMPLES)).flatmap(
    lambda name: st.tuples(st.just(name), _mutations(EXAMPLES[name])))


@fuzz(CASES["mutations"])
@given(case=mutated_tenant)
def test_mutated_tenant_files_load_or_are_refused(case: tuple[str, str], scratch: Path) -> None:
    path = scratch / "fuzz.yaml"
    path.write_text(case[1], encoding="utf-8", errors="surrogatepass")
    load_or_refuse(path)


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    shutil.copytree(REPO / "tenants", root / "tenants")
    shutil.copy(REPO / "platform.yaml", root / "platform.yaml")
    return root


@pytest.fixture(scope="module")
def policies() -> Any:
    return load_policies(REPO / "policies")


@fuzz(CASES["fleet"])
@given(case=mutated_tenant)
def test_mutated_tenants_give_an_effective_spec_and_a_policy_result_or_an_input_error(
        case: tuple[str, str], fleet_dir: Path, policies: Any) -> None:
    name, text = case
    target = fleet_dir / "tenants" / name
    target.write_text(text, encoding="utf-8")
    try:
        try:
            fleet = load_fleet([fleet_dir / "tenants"], fleet_dir / "platform.yaml")
        except InputError as err:
            assert err.problems
            return
        assert isinstance(fleet, Fleet)
        for doc in fleet.tenants:
            json.dumps(doc.effective, ensure_ascii=False)  # what the engine and policies get is plain JSON
            assert len(doc.digest) == 64
        result = check_fleet(fleet, policies, TODAY)
        assert isinstance(result, CheckResult)
        names = {doc.name for doc in fleet.tenants} | {""}  # "": a fleet rule's finding (capacity, flows)
        assert all(finding.message and finding.tenant in names for finding in result.findings)
    finally:
        target.write_text(EXAMPLES[name], encoding="utf-8")


TEMPLATES = REPO / "tenants" / "_templates"


@fuzz(CASES["templates"])
@given(template=st.sampled_from(available_templates(TEMPLATES)), display=hostile_text, owner=hostile_text,
       email=hostile_text)
def test_template_values_stay_data(template: str, display: str, owner: str, email: str, scratch: Path) -> None:
    """Whatever a user types arrives in the file as exactly that value, or is refused; never as keys or code."""
    try:
        data = _rendered(template, display, owner, email, scratch)
    except InputError as err:
        assert err.problems
        return
    assert data["metadata"]["displayName"] == display
    people = list((data["spec"].get("contacts") or {}).values())
    assert all(person["name"] == owner and person["email"] == email for person in people)
    assert _keys(data) == _keys(_rendered(template, "名称", "王敏", "wangmin@x.gov.cn", scratch))


def _rendered(template: str, display: str, owner: str, email: str, scratch: Path) -> Any:
    variables = {"name": "fuzz", "displayName": display}
    for role in ("owner", "systemAdmin", "securityAdmin", "auditAdmin"):
        variables |= {f"{role}Name": owner, f"{role}Email": email}
    text = render_template(TEMPLATES, template, variables)
    path = scratch / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    data = load_or_refuse(path)
    if isinstance(data, InputError):
        pytest.fail(f"a rendered template did not load: {data}")
    return data


def _keys(value: Any) -> Any:
    """The key structure of loaded data, without its scalar values."""
    if isinstance(value, dict):
        return {key: _keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_keys(item) for item in value]
    return None


def _peak_mib(action: Callable[[], object]) -> float:
    tracemalloc.start()
    with contextlib.suppress(InputError):
        action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


BOMBS = {
    "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)),
    "deep nesting": "a: " + "[" * 990 + "]" * 990 + "\n",
    "wide mapping": "".join(f"k{i}: {i}\n" for i in range(60_000))[: 1024 * 1024 - 10],
    "long string": "a: " + "x" * (1024 * 1024 - 10),
    "many anchors": "".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" if i else "a0: &a0 [x]\n" for i in range(40)),
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_loader_memory_stays_bounded(kind: str, tmp_path: Path) -> None:
    """Under 64 MiB of Python allocations for any file the size limit lets through (a tenant file takes ~0.1)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMBS[kind], encoding="utf-8")
    assert _peak_mib(lambda: load_yaml(path, "bomb.yaml")) < 64


GOVCLOUD = Path(sys.executable).parent / "govcloud"
CLI_FILES = {
    "markup.yaml": EXAMPLES["daj.yaml"].replace("displayName: 市档案馆", 'displayName: "[/red] [link=x]y[/link]"'),
    "ansi.yaml": EXAMPLES["daj.yaml"].replace("displayName: 市档案馆", 'displayName: "\\e[2J\\e]8;;http://e\\e\\\\"'),
    "deep.yaml": BOMBS["deep nesting"],
    "bomb.yaml": BOMBS["alias bomb"],
    "binary.yaml": "\x00\x01\x02",
    "jinja.yaml": EXAMPLES["daj.yaml"].replace("displayName: 市档案馆", 'displayName: "{{ 7*7 }} $(id) <b>"'),
}


@pytest.mark.parametrize("name", sorted(CLI_FILES))
def test_the_real_cli_never_shows_a_traceback(name: str, tmp_path: Path) -> None:
    shutil.copy(REPO / "platform.yaml", tmp_path / "platform.yaml")
    folder = tmp_path / "tenants"
    folder.mkdir()
    (folder / "daj.yaml").write_text(CLI_FILES[name], encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "GOVCLOUD_DEBUG"}
    output = "json" if name in ("deep.yaml", "binary.yaml") else "table"
    done = subprocess.run([str(GOVCLOUD), "validate", "tenants", "--output", output], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 1, 2), (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert "internal error" not in done.stderr
    assert "\x1b" not in done.stdout + done.stderr
