"""The approved tenant file differs from the original only in the lines that hold the changed values."""

from __future__ import annotations

import difflib
import io
from pathlib import Path

import pytest
import yaml

from gcloud.requests.edit import edit_tenant_text

TENANTS = Path(__file__).resolve().parents[2] / "tenants"


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True)))
    return [d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")]


def test_changed_values_change_only_their_lines() -> None:
    before = (TENANTS / "czj.yaml").read_text(encoding="utf-8")
    after = edit_tenant_text(before, [
        (("spec", "openstack", "quota", "compute", "cores"), 128),
        (("spec", "kubernetes", "namespaces", 1, "quota", "pods"), "80"),
    ])
    removed, added = changed_lines(before, after)
    holding = [line for line in before.splitlines(keepends=True) if "cores: 48" in line or 'pods: "50"' in line]
    assert len(holding) == 2 and removed == holding  # exactly the two lines that hold the values
    assert added == [line.replace("cores: 48", "cores: 128").replace('pods: "50"', 'pods: "80"') for line in holding]

    swapped = {line: line.replace("cores: 48", "cores: 128").replace('pods: "50"', 'pods: "80"') for line in holding}
    assert after == "".join(swapped.get(line, line) for line in before.splitlines(keepends=True))  # byte for byte


def test_a_new_key_is_added_in_its_mapping_style_and_nothing_else_moves() -> None:
    before = (TENANTS / "xhczj.yaml").read_text(encoding="utf-8")
    after = edit_tenant_text(before, [
        (("spec", "openstack", "quota", "compute", "cores"), 24),
        (("spec", "openstack", "quota", "network", "floatingIps"), 1),
    ])
    removed, added = changed_lines(before, after)
    assert removed == []
    assert added == ["    quota:\n", "      compute: {cores: 24}\n", "      network: {floatingIps: 1}\n"]
    assert yaml.safe_load(after)["spec"]["openstack"]["quota"] == {"compute": {"cores": 24},
                                                                  "network": {"floatingIps": 1}}
    assert "# A district sub-unit" in after  # comments stay


def test_a_round_trip_dump_alone_would_rewrite_untouched_lines() -> None:
    """Why the edit splices text at ruamel.yaml's node positions instead of dumping its round-trip tree."""
    from ruamel.yaml import YAML

    before = (TENANTS / "czj.yaml").read_text(encoding="utf-8")
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    data = rt.load(before)
    data["spec"]["openstack"]["quota"]["compute"]["cores"] = 128
    out = io.StringIO()
    rt.dump(data, out)
    removed, _ = changed_lines(before, out.getvalue())
    assert len(removed) > 1  # the aligned contacts lines lose their spacing


def test_an_edit_that_would_not_hold_the_value_is_refused() -> None:
    with pytest.raises(ValueError):
        edit_tenant_text("spec:\n  openstack:\n    quota: [1, 2]\n", [(("spec", "openstack", "quota", "compute"), 1)])
