"""No secret reaches anything a run leaves behind: the whole flow through the real CLI, then every artefact searched.

Two example tenants (`daj`, OpenStack only; `scjgj`, Kubernetes only) are applied, verified, checked for drift
and reported on when those commands exist, and destroyed, each by `govcloud` in a process of its own with a
known passphrase (random, seeded). Then every byte the run left is searched: each command's stdout and stderr,
every file of the workspace (state folder: Pulumi checkpoints, backups, history, workspace and PULUMI_HOME
files, logs, the audit log, reports) and of the runs' TMPDIR. Searched for: the passphrase; every password,
secret and token in the sandbox's clouds.yaml; the kube client key and any token in the kubeconfig; and any
Keystone (Fernet) token or Kubernetes service-account token (JWT), whoever issued it.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from gcloud.engine.runner import StackJob, run_stacks
from gcloud.engine.settings import EngineSettings
from gcloud.plan.record import read_record
from gcloud.providers import credentials

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TENANTS = ("daj", "scjgj")
SEED = 20260512
PASSPHRASE = "".join(random.Random(SEED).choices(string.ascii_letters + string.digits, k=40))
GOVCLOUD = Path(sys.executable).parent / "govcloud"
HOSTILE_NAME = "市档案馆 {{ 7*7 }} $(id) `id`;rm -rf / <script>alert(1)</script> [red]x[/red]"
"""daj's display name in this run: Keystone must get it verbatim as the project description (nothing renders it)."""

TOKEN_PATTERNS = {
    "keystone fernet token": re.compile(rb"gAAAAA[A-Za-z0-9_\-]{60,}"),
    "kubernetes service-account token": re.compile(rb"eyJhbGciOi[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"),
}
SECRET_KEYS = re.compile(r"password|secret|token|passphrase|client-key-data|credential", re.IGNORECASE)


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Flow:
    """What the flow did and everything it left."""

    root: Path
    tmp: Path
    runs: list[Run] = field(default_factory=list)
    commands: set[str] = field(default_factory=set)
    description: str = ""

    def run(self, env: dict[str, str], *args: str) -> Run:
        done = subprocess.run([str(GOVCLOUD), *args], cwd=self.root, env=env, capture_output=True, text=True,
                              timeout=900, check=False)
        result = Run(args, done.returncode, done.stdout, done.stderr)
        self.runs.append(result)
        return result

    def artefacts(self) -> Iterator[tuple[str, bytes]]:
        """(name, content) of every output and every file left in the workspace and the runs' TMPDIR."""
        for index, run in enumerate(self.runs):
            yield f"run {index} `{' '.join(run.args)}` stdout", run.stdout.encode()
            yield f"run {index} `{' '.join(run.args)}` stderr", run.stderr.encode()
        for folder in (self.root, self.tmp):
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.is_symlink() and not path.is_socket():
                    yield str(path.relative_to(folder.parent)), path.read_bytes()


def _collect(value: Any, found: set[str], secret: bool = False) -> None:
    """Every string under a key that names a secret, anywhere in a YAML document."""
    if isinstance(value, dict):
        for key, item in value.items():
            _collect(item, found, secret or bool(SECRET_KEYS.search(str(key))))
    elif isinstance(value, list):
        for item in value:
            _collect(item, found, secret)
    elif secret and isinstance(value, str | int) and len(str(value)) >= 6:
        found.add(str(value))


def known_secrets(sandbox: Any) -> dict[str, bytes]:
    """The passphrase, clouds.yaml's passwords and the kubeconfig's keys and tokens (raw and decoded)."""
    found: set[str] = set()
    _collect(yaml.safe_load(sandbox.clouds_yaml.read_text(encoding="utf-8")), found)
    passwords = sorted(found)
    kube: set[str] = set()
    users = []
    for path in (sandbox.kubeconfig, Path(sandbox.env["KUBECONFIG"])):  # the admin's, govcloud's token
        kubeconfig = yaml.safe_load(path.read_text(encoding="utf-8"))
        _collect(kubeconfig, kube)
        users += kubeconfig.get("users") or []
    for user in users:
        key_file = (user.get("user") or {}).get("client-key")
        if key_file:
            kube.add(Path(key_file).read_text(encoding="utf-8"))
    secrets: dict[str, bytes] = {"passphrase": PASSPHRASE.encode(),
                                 "passphrase (base64)": base64.b64encode(PASSPHRASE.encode())}
    for index, password in enumerate(passwords):
        secrets[f"clouds.yaml secret {index}"] = password.encode()
    for index, item in enumerate(sorted(kube)):
        text = item
        if "PRIVATE KEY" not in text:
            try:
                text = base64.b64decode(item, validate=True).decode()
            except ValueError:
                secrets[f"kubeconfig token {index}"] = item.encode()
                continue
        body = [line for line in text.splitlines() if line and not line.startswith("-----")]
        secrets[f"kubeconfig client key {index}"] = max(body, key=len).encode()  # one line of the key itself
        secrets[f"kubeconfig client key {index} (base64)"] = item.encode()[:64]
    return secrets


@pytest.fixture(scope="module")
def flow(sandbox: Any, openstack_admin: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    """The whole flow, once; at the end whatever it did not destroy is destroyed, and its TMPDIR removed."""
    root = tmp_path_factory.mktemp("secrets")
    (root / "tenants").mkdir()
    for tenant in TENANTS:
        shutil.copy(REPO / "tenants" / f"{tenant}.yaml", root / "tenants" / f"{tenant}.yaml")
    text = (root / "tenants" / "daj.yaml").read_text(encoding="utf-8")
    (root / "tenants" / "daj.yaml").write_text(
        text.replace("displayName: 市档案馆", f"displayName: {json.dumps(HOSTILE_NAME, ensure_ascii=False)}"),
        encoding="utf-8")
    shutil.copytree(REPO / "policies", root / "policies")
    shutil.copy(REPO / "platform.yaml", root / "platform.yaml")
    keep = Path(tempfile.mkdtemp(prefix="gcs-pass-"))  # the passphrase file lives outside what is searched
    passphrase = keep / "passphrase"
    passphrase.write_text(PASSPHRASE + "\n", encoding="utf-8")
    passphrase.chmod(0o600)
    tmp = Path(tempfile.mkdtemp(prefix="gcs-"))  # short: the provider host's socket path must fit 108 bytes
    env = {key: value for key, value in os.environ.items()
           if key not in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND_URL", "GOVCLOUD_DEBUG")}
    env |= {**sandbox.env, "PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase), "GOVCLOUD_STATE_DIR": str(root / "state"),
            "TMPDIR": str(tmp)}
    result = Flow(root, tmp)
    try:
        help_text = result.run(env, "--help").stdout
        result.commands = {name for name in ("drift", "report") if re.search(rf"^│ {name}\b", help_text, re.M)}
        result.run(env, "apply", "--parallel", "2", "--yes", "--output", "json")
        project = openstack_admin.identity.find_project("daj", ignore_missing=True)
        result.description = project.description if project is not None else ""
        result.run(env, "verify", "--output", "json")
        if "drift" in result.commands:
            result.run(env, "drift", "--output", "json")
        if "report" in result.commands:
            result.run(env, "report", "--out", str(root / "report.html"))
            result.run(env, "report", "--format", "md", "--out", "-")
        for tenant in TENANTS:
            result.run(env, "destroy", tenant, "--confirm", tenant, "--output", "json")
        yield result
    finally:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            left = read_record(root / "state").tenants
            if left:
                run_stacks([StackJob(name, "destroy", remove=True) for name in sorted(left)], parallel=2,
                           settings=EngineSettings.from_environment(root))
            credentials.forget_clients()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(keep, ignore_errors=True)


def test_every_step_of_the_flow_succeeds(flow: Flow) -> None:
    """A flow that failed early would leave little to search: each step must have done its work."""
    steps = {run.args[0]: run for run in flow.runs[1:]}
    assert {"apply", "verify", "destroy"} | flow.commands <= set(steps)
    for run in flow.runs:
        assert run.returncode == 0, (run.args, run.stdout[-2000:], run.stderr[-2000:])
        assert "Traceback" not in run.stderr
    applied = json.loads(steps["apply"].stdout)
    assert sorted(o["tenant"] for o in applied["tenants"] if o["status"] == "ok") == sorted(TENANTS)


def test_no_secret_is_left_in_any_artefact(flow: Flow, sandbox: Any) -> None:
    secrets = known_secrets(sandbox)
    assert len(secrets) >= 4  # the passphrase twice, at least one cloud password, the kube client key
    assert any(name.startswith("kubeconfig token") for name in secrets)  # govcloud's ServiceAccount token
    leaks: list[str] = []
    files = scanned = 0
    for name, content in flow.artefacts():
        files += 1
        scanned += len(content)
        leaks += [f"{what} in {name}" for what, secret in secrets.items() if secret in content]
        leaks += [f"{what} in {name}" for what, pattern in TOKEN_PATTERNS.items() if pattern.search(content)]
    state_files = sum(1 for _ in (flow.root / "state").rglob("*.json"))
    print(json.dumps({"secrets_scan": {"artefacts": files, "bytes": scanned, "state_json_files": state_files,
                                       "secrets_searched": len(secrets) + len(TOKEN_PATTERNS),
                                       "found": len(leaks)}}))
    assert state_files > 0 and files > 2 * len(flow.runs)  # the state was there to search
    assert not leaks


def test_hostile_text_reaches_keystone_verbatim(flow: Flow) -> None:
    """Jinja, shell and HTML in a display name are data all the way to the cloud: nothing rendered or ran it."""
    assert flow.description == HOSTILE_NAME


def test_hostile_text_is_escaped_in_the_report(flow: Flow) -> None:
    """The HTML report shows the display name as text: no live <script>, no rendered Jinja."""
    if "report" not in flow.commands:
        pytest.fail("`govcloud report` is listed by --help but the flow did not run it")
    page = (flow.root / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{{ 7*7 }}" in page and "市档案馆" in page
