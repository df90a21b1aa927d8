"""Hostile text is data everywhere; templates and policy files cannot read files or run code; costly CEL is refused.

- Jinja, shell, HTML and rich markup in tenant text come out exactly as written in JSON, SARIF, JUnit, the CLI
  tables, the OpenStack project description and the Kubernetes annotation: nothing renders or runs them.
- Control characters (ANSI/OSC escapes, C1, bidi overrides) are refused by the loader, naming file, line, field.
- Template names with `..`, absolute paths and symlinks out of `_templates/` are refused.
- Policy files with Python tags, custom tags or CEL calling unknown functions are refused at load.
- Pathological CEL (deep nesting, long source, deep or literal-heavy comprehensions) is refused at load, fast.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from gcloud.stacks.kubernetes_manifests import namespace_manifest
from gcloud.stacks.openstack_args import project_args

from gcloud.errors import InputError
from gcloud.model import Fleet, load_fleet
from gcloud.model.templates import render_template
from gcloud.policy.check import check_fleet
from gcloud.policy.formats import FORMATTERS
from gcloud.policy.loader import load_policies

REPO = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 5, 12)
HOSTILE = ("市数据局 {{ 7*7 }} {% raw %}x{% endraw %} ${HOME} $(id) `id` ;rm -rf / "
           "<script>alert(1)</script> [red]red[/red] [/] [link=file:///etc/passwd]l[/link] &amp; \\n")
"""Printable but meaningful to Jinja, a shell, a browser, rich and XML: must arrive exactly as written."""
GOVCLOUD = Path(sys.executable).parent / "govcloud"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the examples with hostile text in sjj's display name and zwfw's waiver reason."""
    for folder in ("tenants", "policies"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    shutil.copy(REPO / "platform.yaml", tmp_path / "platform.yaml")
    quoted = json.dumps(HOSTILE, ensure_ascii=False)
    edit(tmp_path / "tenants" / "sjj.yaml", "displayName: 市数据资源管理局（大数据局）", f"displayName: {quoted}")
    reason = "reason: 面向公众的政务服务门户，仅开放 443，前置 WAF"
    edit(tmp_path / "tenants" / "zwfw.yaml", reason, f"reason: {quoted}")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name}: {old!r} is out of date"
    path.write_text(text.replace(old, new), encoding="utf-8")


def fleet_of(root: Path) -> Fleet:
    return load_fleet([root / "tenants"], root / "platform.yaml")


def test_hostile_text_is_kept_verbatim_by_the_model_and_the_cloud_mappings(repo: Path) -> None:
    fleet = fleet_of(repo)
    sjj = fleet.get("sjj")
    assert sjj.tenant.metadata.display_name == HOSTILE
    assert sjj.effective["metadata"]["displayName"] == HOSTILE
    assert project_args(sjj.effective, fleet.platform_data).description == HOSTILE
    kube = fleet.get("scjgj").effective  # a tenant with namespaces, given sjj's hostile name
    namespace = kube["spec"]["kubernetes"]["namespaces"][0]
    annotations = namespace_manifest({**kube, "metadata": sjj.effective["metadata"]}, namespace)["metadata"]
    assert HOSTILE in annotations["annotations"].values()


def test_hostile_text_is_data_in_json_sarif_and_junit(repo: Path) -> None:
    result = check_fleet(fleet_of(repo), load_policies(repo / "policies"), TODAY)
    # the hostile approver is no listed approver: the waiver is void, and its findings carry the text as data
    carried = [f for f in result.findings if f.tenant == "zwfw" and (HOSTILE in f.note or HOSTILE in f.message)]
    assert carried
    document = json.loads(FORMATTERS["json"](result))
    assert any(HOSTILE in text for text in _strings(document))
    sarif = json.loads(FORMATTERS["sarif"](result))
    assert any(HOSTILE in text for text in _strings(sarif))
    junit = FORMATTERS["junit"](result)
    assert "<script>" not in junit  # escaped as XML text, so the parser gives it back
    texts = [node.text or "" for node in ET.fromstring(junit).iter()]
    assert all("<script>" not in text or HOSTILE in text for text in texts)  # whole, never cut into markup
    assert "<script>alert(1)</script>" in FORMATTERS["table"](result)  # plain text table: shown as written


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "GOVCLOUD_DEBUG"} | {"COLUMNS": "400"}
    return subprocess.run([str(GOVCLOUD), *args], cwd=root, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_cli_tables_show_markup_as_text(repo: Path) -> None:
    """rich must not read `[red]` or `[/]` in a display name as markup (an unmatched tag used to crash it)."""
    done = cli(repo, "validate", "tenants")
    assert done.returncode == 0, done.stderr
    assert "[red]red[/red]" in done.stdout and "[/]" in done.stdout and "<script>" in done.stdout
    as_json = cli(repo, "validate", "tenants", "--output", "json")
    assert HOSTILE in [t["displayName"] for t in json.loads(as_json.stdout)["tenants"]]
    shown = cli(repo, "policy", "check", "tenants", "--today", TODAY.isoformat())
    assert shown.returncode in (0, 1) and "Traceback" not in shown.stderr


CONTROL = {
    "ansi clear screen": "\\e[2J",
    "osc 8 hyperlink": "\\e]8;;http://evil.example\\e\\\\click\\e]8;;\\e\\\\",
    "8-bit csi": "\\x9b31m",
    "bell": "\\a",
    "carriage return": "\\r",
    "nul": "\\0",
    "bidi override": "\\u202e",
    "line separator": "\\u2028",
}


@pytest.mark.parametrize("kind", sorted(CONTROL))
def test_control_characters_in_text_are_refused_naming_file_line_and_field(kind: str, repo: Path) -> None:
    edit(repo / "tenants" / "daj.yaml", "displayName: 市档案馆", f'displayName: "市档案馆{CONTROL[kind]}"')
    with pytest.raises(InputError) as caught:
        fleet_of(repo)
    [problem] = caught.value.problems
    assert problem.code == "control-character"
    assert problem.location.file.endswith("daj.yaml") and problem.location.line == 6
    assert problem.field == "metadata.displayName"


def test_tab_newline_and_chinese_punctuation_are_still_text(repo: Path) -> None:
    edit(repo / "tenants" / "daj.yaml", "displayName: 市档案馆", 'displayName: "市档案馆\\t（本部）\\n“一号楼”"')
    assert fleet_of(repo).get("daj").tenant.metadata.display_name == "市档案馆\t（本部）\n“一号楼”"


# templates ------------------------------------------------------------------------------------------------


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "_templates"
    shutil.copytree(REPO / "tenants" / "_templates", folder)
    (tmp_path / "secret.txt").write_text("top secret\n", encoding="utf-8")
    return folder


VARIABLES = {"name": "sjt", "displayName": "市审计局", "ownerName": "王敏", "ownerEmail": "wm@sjt.hz.gov.cn"}


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "../secret", "..", "department/../level3",
                                  "department.yaml.j2", "", "*"])
def test_template_names_outside_the_folder_are_refused(name: str, templates: Path) -> None:
    with pytest.raises(InputError) as caught:
        render_template(templates, name, VARIABLES)
    assert caught.value.problems[0].code == "unknown-template"


def test_a_template_symlinked_out_of_the_folder_is_refused(templates: Path) -> None:
    (templates / "evil.yaml.j2").symlink_to(templates.parent / "secret.txt")
    with pytest.raises(InputError) as caught:
        render_template(templates, "evil", VARIABLES)
    assert caught.value.problems[0].code == "template-outside"
    assert "top secret" not in str(caught.value)


@pytest.mark.parametrize("include", ["../secret.txt", "/etc/passwd", "linked.txt", "missing.yaml.j2"])
def test_a_template_cannot_include_files_from_outside(include: str, templates: Path) -> None:
    (templates / "linked.txt").symlink_to(templates.parent / "secret.txt")
    (templates / "reader.yaml.j2").write_text(f'{{% include "{include}" %}}\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        render_template(templates, "reader", VARIABLES)
    assert caught.value.problems[0].code == "template-outside"


def test_template_code_in_values_is_not_run(templates: Path) -> None:
    hostile = "{{ 7*7 }}{% include '/etc/passwd' %}"
    text = render_template(templates, "department", {**VARIABLES, "displayName": hostile})
    assert '"{{ 7*7 }}{% include \'/etc/passwd\' %}"' in text and "49" not in text and "root:" not in text


def test_template_values_with_control_characters_are_refused(templates: Path) -> None:
    with pytest.raises(InputError) as caught:
        render_template(templates, "department", {**VARIABLES, "displayName": "市审计局\x1b[2J"})
    assert "displayName" in str(caught.value) and "U+001B" in str(caught.value)


# policy files ----------------------------------------------------------------------------------------------


POLICY = """\
apiVersion: govcloud/v1
kind: PolicySet
policies:
  - id: GOV-TST-001
    title: a test policy
    severity: high
    enforcement: mandatory
    field: spec
    rule: {rule}
    message: {message}
    rationale: a test
    references: ["GB/T 22239-2019 8.1.4.1"]
    examples:
      pass:
        tenant: {{spec: {{mlpsLevel: 2, access: []}}}}
      fail:
        tenant: {{spec: {{mlpsLevel: 0, access: []}}}}
"""


def write_policy(folder: Path, rule: str, message: str = "failed") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "test.yaml"
    path.write_text(POLICY.format(rule=rule, message=message), encoding="utf-8")
    return folder


def test_the_policy_template_loads_as_written(tmp_path: Path) -> None:
    """The harness itself: a harmless rule in this template loads, so the refusals below are about the rule."""
    assert [p.id for p in load_policies(write_policy(tmp_path / "p", "tenant.spec.mlpsLevel >= 1")).policies] == [
        "GOV-TST-001"]


@pytest.mark.parametrize(("rule", "code"), [
    ("!!python/object/apply:os.system [id]", "yaml-tag"),
    ("!!python/name:os.system", "yaml-tag"),
    ("!include /etc/passwd", "yaml-tag"),
    ("!!binary aWQ=", "yaml-tag"),
    ('readFile("/etc/passwd") == ""', "cel-compile"),
    ('exec("id") == 0', "cel-compile"),
    ('env.HOME == ""', "cel-compile"),
    ('tenant.spec.matches("x") && system("id")', "cel-compile"),
])
def test_policy_files_cannot_run_code_or_read_files(rule: str, code: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_policies(write_policy(tmp_path / "p", rule))
    assert code in {problem.code for problem in caught.value.problems}, caught.value


def test_a_policy_message_cannot_call_unknown_functions(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_policies(write_policy(tmp_path / "p", '"true"', message='"{readFile(\'/etc/passwd\')}"'))
    assert "unknown function" in str(caught.value)


LITERAL = "[" + ", ".join(["0"] * 300) + "]"
PATHOLOGICAL = {
    "deep parentheses": "(" * 1500 + "true" + ")" * 1500,
    "deep lists": "[" * 900 + "]" * 900 + " == []",
    "over the length limit": " || ".join(["tenant.spec.mlpsLevel == 1"] * 200),
    "four nested comprehensions": "[1].all(a, [1].all(b, [1].all(c, [1].all(d, true))))",
    "cubic comprehension over literals": f"{LITERAL}.all(a, {LITERAL}.all(b, {LITERAL}.all(c, true)))",
    "square map over literals": f"size({LITERAL}.map(a, {LITERAL}.map(b, 'xxxxxxxxxxxxxxxx'))) > 0",
    "literal times data": f"{LITERAL}.all(a, tenant.spec.access.all(g, {LITERAL}.all(b, true)))",
}


@pytest.mark.parametrize("kind", sorted(PATHOLOGICAL))
def test_pathological_cel_is_refused_at_load_in_bounded_time(kind: str, tmp_path: Path) -> None:
    """Refused before anything runs (the evaluator cannot be interrupted); measured: the cubic one ran 19 s."""
    folder = write_policy(tmp_path / "p", json.dumps(PATHOLOGICAL[kind]))
    start = time.perf_counter()
    with pytest.raises(InputError) as caught:
        load_policies(folder)
    assert time.perf_counter() - start < 2.0
    [problem] = caught.value.problems
    assert problem.code in {"cel-compile", "cel-cost"} and problem.location.file.endswith("test.yaml")


def test_a_small_literal_comprehension_still_loads(tmp_path: Path) -> None:
    rule = "[22, 3389].all(p, tenant.spec.access.all(g, g.role != 'admin' || p > 0))"
    assert load_policies(write_policy(tmp_path / "p", json.dumps(rule))).policies
