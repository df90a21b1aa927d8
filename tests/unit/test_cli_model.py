"""validate, schema and tenant commands through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path


def test_validate_examples(run_cli, workspace: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("validate", "tenants", "--output", "json")
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert {t["name"] for t in document["tenants"]} >= {"czj", "gaj"}
    assert "市财政局" in result.stdout  # Chinese intact, not \\u-escaped


def test_validate_table_keeps_chinese(run_cli, workspace: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("validate")
    assert result.code == 0
    assert "市数据资源管理局（大数据局）" in result.stdout


def test_schema_is_json(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("schema")
    assert result.code == 0
    assert json.loads(result.stdout)["title"].startswith("govcloud tenant")


def test_tenant_show_effective(run_cli, workspace: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("tenant", "show", "xhczj", "--output", "json")
    assert result.code == 0
    effective = json.loads(result.stdout)
    assert effective["spec"]["openstack"]["quota"]["compute"]["cores"] == 16  # from tier small
    assert effective["metadata"]["parent"] == "czj"


def test_tenant_show_unknown_is_bad_input(run_cli, workspace: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("tenant", "show", "nobody")
    assert result.code == 2
    assert "no tenant named 'nobody'" in result.stderr


def test_tenant_new_writes_a_valid_file(run_cli, workspace: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("tenant", "new", "sjt", "--template", "department", "--display-name", "市审计局",
                     "--set", "ownerName=王敏", "--set", "ownerEmail=wangmin@sjt.hz.gov.cn")
    assert result.code == 0, result.stderr
    assert "displayName: \"市审计局\"" in (workspace / "tenants/sjt.yaml").read_text(encoding="utf-8")
    assert run_cli("validate").code == 0


def test_tenant_new_refuses_invalid_result_and_writes_nothing(run_cli, workspace: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("tenant", "new", "czj-x", "--template", "department", "--display-name", "x",
                     "--set", "ownerName=a", "--set", "ownerEmail=not-an-email")
    assert result.code == 2
    assert "tenants/czj-x.yaml" in result.stderr and "spec.contacts.owner.email" in result.stderr
    assert not (workspace / "tenants/czj-x.yaml").exists()


def test_tenant_new_missing_variable(run_cli, workspace: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("tenant", "new", "sjt", "--template", "department", "--display-name", "x")
    assert result.code == 2
    assert "ownerName" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_command_has_help_with_example(run_cli) -> None:  # type: ignore[no-untyped-def]
    for command in (["validate"], ["schema"], ["tenant", "show"], ["tenant", "new"]):
        result = run_cli(*command, "--help")
        assert result.code == 0
        assert "Example" in result.stdout, command


def test_a_narrow_terminal_folds_chinese_names_instead_of_cutting_them() -> None:
    from rich.console import Console

    from cli.output import table

    name = "市数据资源管理局（市大数据发展管理中心）"
    grid = table("tenant", "name", "change", "status", "detail")
    grid.add_row("sjj", name, "new", "ok", "19 create in 4.1 s, with a long detail that has to wrap as well")
    console = Console(width=50, record=True, highlight=False)
    console.print(grid)
    text = console.export_text()
    assert "…" not in text
    rest = iter("".join(text.split()))
    assert all(char in rest for char in name)  # every character, in order, though folded over lines
