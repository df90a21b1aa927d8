"""`govcloud quota ...` as typed: exit codes, JSON documents, Chinese kept, no cloud SDK on import."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli import quota

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("tenants", "policies"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "platform.yaml", tmp_path / "platform.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GOVCLOUD_STATE_DIR", str(tmp_path / "state"))
    # no cloud configured: usage must come out "unknown", not fail the request
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "missing-clouds.yaml"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    quota.register(app)
    result = CliRunner().invoke(app, ["quota", *args])
    return result.exit_code, result.output


def test_request_approve_list_show(project: Path) -> None:
    code, out = run("request", "czj", "--set", "compute.cores=300", "--reason", "年底决算", "--requester", "李四",
                    "--output", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["status"]["state"] == "open" and doc["spec"]["reason"] == "年底决算"
    assert "gov-east" in doc["status"]["usage"]["unknown"]
    rid = doc["metadata"]["id"]
    code, out = run("show", rid)
    assert code == 0 and "256 cores" not in out and "64 cores" in out and "300 cores" in out, out
    assert run("approve", rid, "--approver", "刘洋", "--role", "ops")[0] == 0
    code, out = run("approve", rid, "--approver", "孙立", "--role", "security")
    assert code == 0 and "govcloud apply tenants/czj.yaml" in out, out
    code, out = run("list", "--status", "approved", "--output", "json")
    assert [item["metadata"]["id"] for item in json.loads(out)] == [rid]
    assert "cores: 300" in (project / "tenants" / "czj.yaml").read_text(encoding="utf-8")


def test_refused_request_exits_1_and_bad_input_raises_for_exit_2(project: Path) -> None:
    code, out = run("request", "xhczj", "--set", "compute.cores=60", "--reason", "r", "--requester", "沈浩")
    assert code == 1 and "parent would need: compute.cores 48 -> 60" in out, out
    app = typer.Typer()
    quota.register(app)
    result = CliRunner().invoke(app, ["quota", "request", "czj", "--set", "compute.cpus=1", "--reason", "r",
                                      "--requester", "x"])
    from gcloud.errors import InputError

    assert isinstance(result.exception, InputError)  # cli.app.main maps it to exit 2


def test_importing_the_command_loads_no_cloud_sdk() -> None:
    code = ("import sys, cli.quota; heavy = [m for m in ('openstack', 'kubernetes', 'ruamel', 'pulumi') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
