"""`govcloud doctor` on a machine without the engine or passphrase: says what is missing and how to get it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gcloud.engine.settings import checkout_dir


@pytest.fixture
def bare_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No engine anywhere govcloud looks, no passphrase, no clouds."""
    for name in ("GOVCLOUD_PULUMI_BIN", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE",
                 "PULUMI_BACKEND_URL", "GOVCLOUD_STATE_DIR", "OS_AUTH_URL", "OS_CLOUD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOVCLOUD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "no-clouds.yaml"))
    return tmp_path


def test_doctor_without_engine_names_what_is_missing_and_the_fix(run_cli: Any, bare_machine: Path) -> None:
    result = run_cli("doctor", "--output", "json", cwd=bare_machine)
    assert result.code == 1
    report = json.loads(result.stdout)
    checks = {check["name"]: check for check in report["checks"]}
    assert report["ok"] is False and report["engine"] is None and report["passphraseSet"] is False
    engine = checks["pulumi engine"]
    assert engine["status"] == "missing" and engine["required"]
    assert str(bare_machine / "cache" / "pulumi") in engine["detail"]
    assert "scripts/bootstrap.sh" in engine["hint"]
    assert checks["passphrase"]["status"] == "missing" and "PULUMI_CONFIG_PASSPHRASE" in checks["passphrase"]["hint"]
    assert checks["pulumi sdk"]["status"] == "ok"
    checkout = checkout_dir()  # from any folder, a checkout's own state (beside its Pulumi.yaml)
    assert checkout is not None and report["stateDir"] == str(checkout / ".govcloud" / "state")


def test_doctor_table_prints_a_fix_line_per_problem_and_never_the_passphrase(
        run_cli: Any, bare_machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "do-not-print-me")
    result = run_cli("doctor", cwd=bare_machine)
    assert result.code == 1
    assert "fix pulumi engine: run scripts/bootstrap.sh" in " ".join(result.stdout.split())
    assert "do-not-print-me" not in result.stdout + result.stderr
    assert "set (PULUMI_CONFIG_PASSPHRASE)" in result.stdout
