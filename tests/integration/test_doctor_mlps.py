"""`govcloud doctor --mlps` on the real sandbox: every setting passes, and each one flipped fails that check alone.

The platform file is the example's, pointed at this sandbox's own files (the API server's flags file, keystone.conf,
cinder.conf) and its etcd. A flip copies one deployment file, changes one setting and points a copied platform at
the copy; the Secrets-at-rest flip is live: a Secret stored in etcd in plaintext, as one written before encryption
was enabled stays. Beside that, the settings are shown to be the ones in force: the running kube-apiserver's
command line is the flags file, its audit log records a Secret's creation without its value, Keystone locks a user
out after five wrong passwords and gives a new password a 90-day expiry.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from kubernetes import client, config

from gcloud.passwords import new_password
from gcloud.sandbox import process
from gcloud.sandbox.kubernetes import APISERVER, CONTEXT
from gcloud.sandbox.openstack_config import SANDBOX_PASSWORD_REGEX
from tests.integration.conftest import SandboxInfo

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GOVCLOUD = Path(sys.executable).parent / "govcloud"
SETTINGS = ("audit-policy", "audit-retention", "secrets-encryption", "keystone-lockout", "keystone-password-expiry",
            "keystone-password-complexity", "keystone-inactive-accounts", "cinder-volume-clear")


@dataclass
class Deployment:
    """The sandbox's deployment files, a platform file naming them, and a way to run doctor on a variant."""

    sandbox: SandboxInfo
    work: Path
    secret: tuple[str, str] = ("", "")
    """(namespace, value) of the Secret created through the API."""

    @property
    def args_file(self) -> Path:
        return self.sandbox.sandbox.kubernetes.apiserver_args_file

    @property
    def keystone_conf(self) -> Path:
        return self.sandbox.root / "openstack" / "etc" / "keystone" / "keystone.conf"

    @property
    def cinder_conf(self) -> Path:
        return self.sandbox.root / "openstack" / "etc" / "cinder" / "cinder.conf"

    def platform(self, name: str = "platform", **files: Path) -> Path:
        """A copy of the example platform.yaml whose deployment names these files (default: the sandbox's)."""
        document = yaml.safe_load((REPO / "platform.yaml").read_text())
        document["spec"]["deployment"] = {
            "kubernetes": [{"cluster": CONTEXT, "apiServerArgs": str(files.get("args", self.args_file)),
                            "etcd": {"endpoint": self.sandbox.sandbox.kubernetes.etcd_endpoint}}],
            "openstack": [{"cloud": self.sandbox.cloud,
                           "keystoneConf": str(files.get("keystone", self.keystone_conf)),
                           "cinderConf": str(files.get("cinder", self.cinder_conf))}],
        }
        path = self.work / f"{name}.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
        return path

    def doctor(self, platform: Path) -> tuple[int, dict[str, Any]]:
        run = subprocess.run([str(GOVCLOUD), "doctor", "--mlps", "--platform", str(platform), "--output", "json"],
                             capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode in (0, 1), run.stderr
        return run.returncode, json.loads(run.stdout)

    def failing(self, platform: Path) -> tuple[list[str], dict[str, dict[str, Any]]]:
        code, document = self.doctor(platform)
        checks = {check["setting"]: check for check in document["checks"]}
        failed = [check["setting"] for check in document["checks"] if not check["ok"]]
        assert code == (1 if failed else 0) and document["ok"] is (not failed)
        return failed, checks

    def copy(self, source: Path, edit: Callable[[str], str], name: str) -> Path:
        """A copy of a deployment file with one change (mode kept: configs hold passwords and keys)."""
        target = self.work / name
        shutil.copy2(source, target)
        text = source.read_text()
        changed = edit(text)
        assert changed != text, f"the edit changed nothing in {source}"
        target.write_text(changed)
        return target

    def flags_with(self, flag: str, value: str, name: str) -> Path:
        """A copy of the API server's flags file with one flag's value replaced."""
        def edit(text: str) -> str:
            return "\n".join(f"--{flag}={value}" if line.startswith(f"--{flag}=") else line
                             for line in text.splitlines()) + "\n"
        return self.copy(self.args_file, edit, name)


def _admin(sandbox: SandboxInfo) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(sandbox.kubeconfig), context=CONTEXT,
                                         persist_config=False)


@pytest.fixture(scope="module")
def deployment(sandbox: SandboxInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The sandbox with one Secret created through the API (so etcd has something to show)."""
    found = Deployment(sandbox, tmp_path_factory.mktemp("mlps"))
    name, value = f"mlps-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(24)
    with _admin(sandbox) as api:
        core = client.CoreV1Api(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        core.create_namespaced_secret(name, client.V1Secret(metadata=client.V1ObjectMeta(name="probe"),
                                                            string_data={"password": value}))
        found.secret = (name, value)
        yield found
        core.delete_namespace(name)


def test_doctor_mlps_passes_on_the_sandbox(deployment: Deployment) -> None:
    failed, checks = deployment.failing(deployment.platform())
    assert failed == [] and sorted(checks) == sorted(SETTINGS)
    encryption = checks["secrets-encryption"]
    assert "secrets written with aescbc" in encryption["found"] and "Secrets read, all k8s:enc:" in encryption["found"]
    assert str(deployment.sandbox.sandbox.kubernetes.encryption_config_file) in encryption["source"]
    assert checks["keystone-lockout"]["source"] == str(deployment.keystone_conf)
    assert {"standard": "GB/T 22239-2019", "clause": "8.1.4.8 b)", "title": "数据保密性"} in encryption["clauses"]
    text = json.dumps(checks, ensure_ascii=False)
    assert deployment.secret[1] not in text
    key = yaml.safe_load(deployment.sandbox.sandbox.kubernetes.encryption_config_file.read_text())
    assert key["resources"][0]["providers"][0]["aescbc"]["keys"][0]["secret"] not in text


def test_the_flags_file_is_what_the_api_server_runs_with_and_its_audit_log_keeps_no_secret(
        deployment: Deployment) -> None:
    kube = deployment.sandbox.sandbox.kubernetes
    pid = process.read_pid(kube.dirs, APISERVER)
    assert pid is not None
    running = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[1:-1]
    assert running == deployment.args_file.read_text().splitlines()
    audit_log = kube.dirs.logs / f"{APISERVER}-audit.log"
    namespace, value = deployment.secret
    events = [json.loads(line) for line in audit_log.read_text().splitlines() if namespace in line]
    created = [e for e in events if e["verb"] == "create" and e["objectRef"].get("resource") == "secrets"]
    assert created and created[0]["level"] == "Metadata" and created[0]["stage"] == "ResponseComplete"
    assert created[0]["responseStatus"]["code"] == 201 and "requestObject" not in created[0]
    assert value not in audit_log.read_text()


def test_an_audit_policy_that_records_nothing_fails_only_the_policy_check(deployment: Deployment) -> None:
    policy = deployment.copy(deployment.sandbox.sandbox.kubernetes.audit_policy_file,
                             lambda text: text.split("rules:")[0] + "rules:\n  - level: None\n", "audit-policy.yaml")
    flags = deployment.flags_with("audit-policy-file", str(policy), "policy.args")
    failed, checks = deployment.failing(deployment.platform("policy", args=flags))
    assert failed == ["audit-policy"]
    assert "a department user creating a RoleBinding: not recorded" in checks["audit-policy"]["found"]
    assert str(policy) in checks["audit-policy"]["source"]


def test_audit_logs_kept_30_days_fail_only_retention(deployment: Deployment) -> None:
    flags = deployment.flags_with("audit-log-maxage", "30", "retention.args")
    failed, checks = deployment.failing(deployment.platform("retention", args=flags))
    assert failed == ["audit-retention"] and "--audit-log-maxage 30 days" in checks["audit-retention"]["found"]


def test_secrets_written_by_identity_fail_only_encryption(deployment: Deployment) -> None:
    original = deployment.sandbox.sandbox.kubernetes.encryption_config_file
    identity_first = "  - identity: {}\n  - aescbc:"
    config_copy = deployment.copy(original, lambda text: text.replace("  - aescbc:", identity_first, 1),
                                  "encryption-config.yaml")
    assert config_copy.stat().st_mode & 0o777 == 0o600
    flags = deployment.flags_with("encryption-provider-config", str(config_copy), "encryption.args")
    failed, checks = deployment.failing(deployment.platform("encryption", args=flags))
    assert failed == ["secrets-encryption"]
    assert "secrets written with identity: stored in plaintext" in checks["secrets-encryption"]["found"]


def _etcd(deployment: Deployment, verb: str, body: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(f"{deployment.sandbox.sandbox.kubernetes.etcd_endpoint}/v3/kv/{verb}",
                                     json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def test_a_secret_stored_in_plaintext_in_etcd_fails_only_encryption(deployment: Deployment) -> None:
    """Live: what a Secret written before encryption was enabled looks like in etcd (the API server still reads it
    through the identity provider), found by reading etcd itself."""
    namespace, _ = deployment.secret
    plain = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"k": base64.b64encode(b"v").decode()},
             "metadata": {"name": "old", "namespace": namespace, "uid": str(uuid.uuid4()),
                          "creationTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}}
    key = base64.b64encode(f"/registry/secrets/{namespace}/old".encode()).decode()
    _etcd(deployment, "put", {"key": key, "value": base64.b64encode(json.dumps(plain).encode()).decode()})
    try:
        with _admin(deployment.sandbox) as api:
            assert client.CoreV1Api(api).read_namespaced_secret("old", namespace).data == plain["data"]
        failed, checks = deployment.failing(deployment.platform("plaintext"))
        assert failed == ["secrets-encryption"]
        assert f"Secrets in etcd stored in plaintext ({namespace}/old)" in checks["secrets-encryption"]["found"]
    finally:
        _etcd(deployment, "deleterange", {"key": key})
    assert deployment.failing(deployment.platform("clean"))[0] == []


@pytest.mark.parametrize(("setting", "before", "after"), [
    ("keystone-lockout", "lockout_failure_attempts = 5", "lockout_failure_attempts = 0"),
    ("keystone-password-expiry", "password_expires_days = 90", "password_expires_days = 365"),
    ("keystone-password-complexity", f"password_regex = {SANDBOX_PASSWORD_REGEX}", "password_regex = ^.{8,}"),
    ("keystone-inactive-accounts", "disable_user_account_days_inactive = 90",
     "disable_user_account_days_inactive = 365"),
])
def test_a_weakened_keystone_conf_fails_only_that_check(deployment: Deployment, setting: str, before: str,
                                                        after: str) -> None:
    conf = deployment.copy(deployment.keystone_conf, lambda text: text.replace(before, after), f"{setting}.conf")
    failed, checks = deployment.failing(deployment.platform(setting, keystone=conf))
    assert failed == [setting] and checks[setting]["source"] == str(conf)


def test_cinder_keeping_deleted_data_fails_only_wiping(deployment: Deployment) -> None:
    conf = deployment.copy(deployment.cinder_conf,
                           lambda text: text.replace("volume_clear = zero", "volume_clear = none"), "cinder.conf")
    failed, checks = deployment.failing(deployment.platform("cinder", cinder=conf))
    assert failed == ["cinder-volume-clear"]
    assert "[fake] volume_clear = none: deleted volumes keep their data" in checks["cinder-volume-clear"]["found"]


def test_keystone_enforces_what_its_conf_says(openstack_admin: Any) -> None:
    """The file doctor read is the one Keystone runs with: five wrong passwords lock a user, passwords expire,
    a weak password is refused."""
    import openstack.exceptions

    with pytest.raises(openstack.exceptions.BadRequestException, match="upper- and lower-case letters"):
        openstack_admin.identity.create_user(name=f"mlps-weak-{uuid.uuid4().hex[:8]}", domain_id="default",
                                             password="gov2026cloud")
    password = new_password()
    user = openstack_admin.identity.create_user(name=f"mlps-lockout-{uuid.uuid4().hex[:8]}", domain_id="default",
                                                password=password)
    try:
        expires = datetime.fromisoformat(openstack_admin.identity.get_user(user.id).password_expires_at)
        assert abs(expires.replace(tzinfo=UTC) - datetime.now(UTC) - timedelta(days=90)) < timedelta(hours=1)
        auth_url = openstack_admin.config.get_auth_args()["auth_url"]

        def login(secret: str) -> Exception | None:
            auth = v3.Password(auth_url=auth_url, user_id=user.id, password=secret)
            try:
                ks_session.Session(auth=auth).get_token()
            except ks_exceptions.Unauthorized as err:
                return err
            return None

        assert login(password) is None
        assert all(login("wrong-" + password) is not None for _ in range(5))
        assert login(password) is not None, "the right password still worked after five wrong ones"
    finally:
        openstack_admin.identity.delete_user(user)
