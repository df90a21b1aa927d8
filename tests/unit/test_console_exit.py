"""The `govcloud` command leaves by os._exit (no heap teardown): its output and exit codes must stay whole."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _govcloud(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gcloud.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def test_a_json_document_is_flushed_whole_before_the_quick_exit() -> None:
    done = _govcloud("validate", "tenants", "--output", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert len(document["tenants"]) == len(list((REPO / "tenants").glob("*.yaml")))
    assert any(tenant["displayName"] == "市财政局" for tenant in document["tenants"])


def test_exit_codes_survive_the_quick_exit(tmp_path: Path) -> None:
    shutil.copytree(REPO / "tenants", tmp_path / "tenants")
    shutil.copy(REPO / "platform.yaml", tmp_path / "platform.yaml")
    path = tmp_path / "tenants" / "czj.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("mlpsLevel: 3", "mlpsLevel: 9", 1), encoding="utf-8")
    done = _govcloud("validate", "tenants", cwd=tmp_path)
    assert done.returncode == 2
    assert "tenants/czj.yaml:" in done.stderr and "mlpsLevel" in done.stderr
    assert _govcloud("no-such-command", cwd=tmp_path).returncode == 2
