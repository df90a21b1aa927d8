"""The offline commands people type many times a day load no engine, gRPC or cloud client.

Each command runs in a fresh interpreter (sys.modules of this test process already holds everything); the
check reads which top-level modules the run imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("pulumi", "grpc", "openstack", "keystoneauth1", "kubernetes", "cryptography", "selenium", "psycopg",
         "prompt_toolkit")
PROBE = """
import json, sys
from gcloud.cli.app import main
sys.argv = ["govcloud", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exit_:
    code = exit_.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted({name.split(".")[0] for name in sys.modules})}), file=sys.stderr)
"""


def _imported(*args: str) -> tuple[int, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


@pytest.mark.parametrize("args", [
    ("validate", "tenants"),
    ("validate", "tenants/czj.yaml"),
    ("policy", "check", "tenants"),
    ("schema",),
    ("tenant", "show", "czj"),
    ("--help",),
    ("apply", "--help"),
    ("quota", "--help"),
])
def test_offline_commands_import_no_engine_or_cloud_client(args: tuple[str, ...]) -> None:
    code, modules = _imported(*args)
    assert code in (0, 1, None), args
    assert not modules & set(HEAVY), f"{' '.join(args)} imported {sorted(modules & set(HEAVY))}"


def test_the_probe_sees_heavy_imports_when_a_command_needs_them() -> None:
    """The rule above could fail: `doctor` really loads the cloud clients."""
    _code, modules = _imported("doctor", "--timeout", "0.1")
    assert {"openstack", "kubernetes"} <= modules
