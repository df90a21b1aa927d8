"""An installed wheel works as a checkout does: the project file ships inside the package, and govcloud runs from
any current folder.

The wheel is built from this checkout (no build isolation: no download) and unpacked into a folder put first on
the path, ahead of the editable install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_a_wheel_carries_the_project_file_and_runs_from_anywhere(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(REPO)], capture_output=True, text=True, timeout=300,
                           check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (tmp_path / "dist").glob("govcloud-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "gcloud/engine/Pulumi.yaml" in names and "gcloud/cli/app.py" in names
        assert archive.read("gcloud/engine/Pulumi.yaml") == (REPO / "Pulumi.yaml").read_bytes()
        assert not any(name.startswith(("cli/", "stacks/")) for name in names)  # no generic top-level names
        archive.extractall(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "GOVCLOUD_STATE_DIR": str(tmp_path / "state")}
    probe = subprocess.run([sys.executable, "-c", (
        "import json, gcloud; from gcloud.engine.settings import checkout_dir, project_file;"
        "print(json.dumps([gcloud.__file__, str(project_file()), checkout_dir()]))")], cwd=elsewhere, env=env,
        capture_output=True, text=True, timeout=60, check=False)
    where, project, checkout = json.loads(probe.stdout)
    assert where.startswith(str(tmp_path / "site")) and checkout is None
    assert project == str(tmp_path / "site" / "gcloud" / "engine" / "Pulumi.yaml")
    done = subprocess.run([sys.executable, "-m", "gcloud.cli", "validate", str(REPO / "tenants" / "czj.yaml"),
                           "--platform", str(REPO / "platform.yaml"), "--output", "json"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert [t["name"] for t in json.loads(done.stdout)["tenants"]] == ["czj"]
