"""`doctor --mlps`: each platform setting passing on the sandbox's own rendered files and failing when changed.

The files are the ones the sandbox writes (KubernetesSandbox.write_apiserver_files, OpenStackLayout's configs),
laid out where the example platform.yaml points, so the example's paths are checked too. No network: the etcd
proof is fed through a stub of the etcd gateway.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cli.app import app
from gcloud.errors import InputError
from gcloud.mlps import MlpsReport, Setting, SettingCheck
from gcloud.mlps import kubernetes as kube
from gcloud.mlps.checks import CLAUSES
from gcloud.mlps.read import KEYSTONE_SETTINGS, _EtcdClient, check_platform
from gcloud.model import load_platform
from gcloud.policy.clauses import clause_table
from gcloud.sandbox.kube_build import KubeBinaries
from gcloud.sandbox.kubernetes import KubernetesSandbox
from gcloud.sandbox.openstack_config import OpenStackLayout, Ports
from gcloud.sandbox.process import SandboxDirs

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Unit-test-pw_7f3a9c"


class Deployment:
    """A copy of the example platform.yaml beside a sandbox's rendered files (no etcd entry unless asked)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.platform = root / "platform.yaml"
        document = yaml.safe_load((REPO / "platform.yaml").read_text())
        del document["spec"]["deployment"]["kubernetes"][0]["etcd"]
        self.platform.write_text(yaml.safe_dump(document, allow_unicode=True))
        box = root / ".govcloud" / "sandbox"
        self.kube = KubernetesSandbox(SandboxDirs(box / "kubernetes"), port_offset=0,
                                      binaries=KubeBinaries(root / "bin"))
        self.kube.dirs.ensure()
        self.kube.write_apiserver_files()
        layout = OpenStackLayout(SandboxDirs(box / "openstack"), Ports.with_offset(0), False, PASSWORD)
        self.keystone_conf, self.cinder_conf = layout.conf("keystone"), layout.conf("cinder")
        for path, text in layout.config_files().items():
            if path in (self.keystone_conf, self.cinder_conf):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)

    def report(self) -> MlpsReport:
        return check_platform(load_platform(self.platform), self.root)

    def check(self, setting: Setting) -> SettingCheck:
        return next(check for check in self.report().checks if check.setting is setting)

    def failing(self) -> list[Setting]:
        return [check.setting for check in self.report().checks if not check.ok]

    def edit_flags(self, **changes: str | None) -> None:
        """Change (None: drop) API server flags in the args file."""
        lines = self.kube.apiserver_args_file.read_text().splitlines()
        kept = [line for line in lines if line.split("=", 1)[0].lstrip("-").replace("-", "_") not in changes]
        kept += [f"--{name.replace('_', '-')}={value}" for name, value in changes.items() if value is not None]
        self.kube.apiserver_args_file.write_text("\n".join(kept) + "\n")

    def edit_ini(self, path: Path, section: str, **options: str) -> None:
        text = path.read_text()
        extra = "".join(f"{key} = {value}\n" for key, value in options.items())
        path.write_text(text + f"\n[{section}]\n{extra}")


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    return Deployment(tmp_path)


def test_the_sandbox_settings_pass_every_check(deployment: Deployment) -> None:
    report = deployment.report()
    assert report.ok, [(c.setting, c.found) for c in report.failed]
    assert sorted(c.setting for c in report.checks) == sorted(Setting)
    sources = {check.setting: check.source for check in report.checks}
    assert str(deployment.kube.audit_policy_file) in sources[Setting.AUDIT_POLICY]
    assert "--audit-policy-file in" in sources[Setting.AUDIT_POLICY]
    assert str(deployment.kube.encryption_config_file) in sources[Setting.SECRETS_ENCRYPTION]
    assert sources[Setting.KEYSTONE_LOCKOUT] == str(deployment.keystone_conf)
    assert sources[Setting.CINDER_VOLUME_CLEAR] == str(deployment.cinder_conf)
    assert "locked after 5 wrong passwords, for 1800 s" in deployment.check(Setting.KEYSTONE_LOCKOUT).found


def test_every_cited_clause_is_in_the_shipped_table() -> None:
    table = clause_table()
    assert {key for keys in CLAUSES.values() for key in keys} <= set(table.index)
    assert set(CLAUSES) == set(Setting)


def test_a_platform_without_deployment_fails_every_check_saying_why(tmp_path: Path) -> None:
    document = yaml.safe_load((REPO / "platform.yaml").read_text())
    del document["spec"]["deployment"]
    (tmp_path / "platform.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))
    report = check_platform(load_platform(tmp_path / "platform.yaml"), tmp_path)
    assert not report.ok and len(report.failed) == len(Setting)
    assert all("spec.deployment" in check.found and check.needed for check in report.checks)


# --- audit policy -----------------------------------------------------------------------------------------


def test_no_audit_policy_flag_fails_the_policy_check_only(deployment: Deployment) -> None:
    deployment.edit_flags(audit_policy_file=None)
    assert deployment.failing() == [Setting.AUDIT_POLICY]
    assert "audits nothing" in deployment.check(Setting.AUDIT_POLICY).found


def _write_policy(deployment: Deployment, rules: list[dict[str, Any]], **top: Any) -> None:
    policy = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", **top, "rules": rules}
    deployment.kube.audit_policy_file.write_text(yaml.safe_dump(policy))


@pytest.mark.parametrize(("rules", "top", "gap"), [
    ([{"level": "None"}], {}, "a department user creating a RoleBinding: not recorded"),
    ([{"level": "RequestResponse"}], {}, "anyone reading a Secret: level RequestResponse writes the secret"),
    ([{"level": "Metadata"}], {"omitStages": ["ResponseComplete"]}, "ResponseComplete omitted"),
    ([{"level": "None", "userGroups": ["system:masters"]}, {"level": "Metadata"}], {},
     "a cluster admin deleting a Namespace: not recorded"),
    ([{"level": "Metadata", "resources": [{"group": ""}]}], {}, "a department user deleting a NetworkPolicy"),
    ([{"level": "Metadata", "verbs": ["create", "update", "patch", "delete"]}], {}, "reading a Pod's log"),
])
def test_an_audit_policy_that_misses_what_level_3_records_fails(deployment: Deployment, rules: list[dict[str, Any]],
                                                               top: dict[str, Any], gap: str) -> None:
    _write_policy(deployment, rules, **top)
    assert deployment.failing() == [Setting.AUDIT_POLICY]
    assert gap in deployment.check(Setting.AUDIT_POLICY).found


def test_a_catch_all_metadata_policy_passes(deployment: Deployment) -> None:
    _write_policy(deployment, [{"level": "Metadata"}], omitStages=["RequestReceived"])
    assert deployment.report().ok


def test_the_policy_is_matched_as_the_api_server_matches_it() -> None:
    log = kube.Probe("log", "u", ("g",), "get", "", "pods", "log", "ns")
    policy = {"rules": [{"level": "None", "resources": [{"group": "", "resources": ["pods"]}]},
                        {"level": "Request", "resources": [{"group": "", "resources": ["*/log"]}]}]}
    assert kube.audit_outcome(policy, log) == ("Request", frozenset())
    policy = {"omitStages": ["RequestReceived"], "rules": [
        {"level": "Metadata", "namespaces": ["other"]},
        {"level": "RequestResponse", "resources": [{"group": "", "resources": ["pods/*"]}], "omitStages": ["Panic"]}]}
    assert kube.audit_outcome(policy, log) == ("RequestResponse", frozenset({"RequestReceived", "Panic"}))
    named = {"rules": [{"level": "Metadata", "resources": [{"group": "", "resources": ["pods"],
                                                            "resourceNames": ["one"]}]}]}
    assert kube.audit_outcome(named, log)[0] == "None"
    probe_url = {"rules": [{"level": "Metadata", "nonResourceURLs": ["/version"]}]}
    assert kube.audit_outcome(probe_url, log)[0] == "None"


def test_the_platform_identity_is_probed(deployment: Deployment) -> None:
    identity = "system:serviceaccount:govcloud:govcloud"
    _write_policy(deployment, [{"level": "None", "userGroups": ["system:serviceaccounts:govcloud"]},
                               {"level": "Metadata"}])
    check = kube.check_audit_policy("k", "s", yaml.safe_load(deployment.kube.audit_policy_file.read_text()),
                                    platform_identity=identity)
    assert not check.ok and f"the platform's identity {identity}" in check.found


def test_a_broken_policy_file_fails_by_line_without_quoting_it(deployment: Deployment) -> None:
    deployment.kube.audit_policy_file.write_text("rules: [\n  {level: Metadata\n")
    check = deployment.check(Setting.AUDIT_POLICY)
    assert not check.ok and "is not valid YAML (line" in check.found and "Metadata" not in check.found


# --- audit retention --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("flags", "found"), [
    ({"audit_log_maxage": "30"}, "--audit-log-maxage 30 days"),
    ({"audit_log_maxage": None}, "unset: no retention declared"),
    ({"audit_log_path": "-"}, "standard output"),
    ({"audit_log_path": None}, "no audit log is written"),
    ({"audit_log_maxage": "half a year"}, "is not a number"),
])
def test_audit_logs_kept_less_than_six_months_fail_retention_only(deployment: Deployment,
                                                                  flags: dict[str, str | None], found: str) -> None:
    deployment.edit_flags(**flags)
    assert deployment.failing() == [Setting.AUDIT_RETENTION]
    assert found in deployment.check(Setting.AUDIT_RETENTION).found


def test_a_webhook_backend_keeps_the_records(deployment: Deployment) -> None:
    deployment.edit_flags(audit_log_path=None, audit_webhook_config_file="/etc/kubernetes/audit-webhook.yaml")
    assert deployment.check(Setting.AUDIT_RETENTION).ok


def test_the_sandbox_keeps_180_days(deployment: Deployment) -> None:
    found = deployment.check(Setting.AUDIT_RETENTION).found
    assert "kube-apiserver-audit.log, kept 180 days; at most 10 old files of 100 MB" in found


# --- Secrets at rest --------------------------------------------------------------------------------------


def _encryption(deployment: Deployment) -> tuple[dict[str, Any], str]:
    config = yaml.safe_load(deployment.kube.encryption_config_file.read_text())
    return config, config["resources"][0]["providers"][0]["aescbc"]["keys"][0]["secret"]


def test_the_sandbox_key_is_owner_only_and_never_reported(deployment: Deployment) -> None:
    assert deployment.kube.encryption_config_file.stat().st_mode & 0o777 == 0o600
    _, key = _encryption(deployment)
    assert len(base64.b64decode(key)) == 32
    result = CliRunner().invoke(app, ["doctor", "--mlps", "--platform", str(deployment.platform), "-o", "json"])
    assert key not in result.output and PASSWORD not in result.output
    deployment.kube.encryption_config_file.chmod(0o644)
    check = deployment.check(Setting.SECRETS_ENCRYPTION)
    assert not check.ok and "mode 0644: others can read the key" in check.found and key not in check.found


@pytest.mark.parametrize("first", [{"identity": {}}, None])
def test_secrets_written_in_plaintext_fail_encryption_only(deployment: Deployment, first: Any) -> None:
    config, _ = _encryption(deployment)
    if first is None:
        config["resources"][0]["resources"] = ["configmaps"]
    else:
        config["resources"][0]["providers"].insert(0, first)
    deployment.kube.encryption_config_file.write_text(yaml.safe_dump(config))
    assert deployment.failing() == [Setting.SECRETS_ENCRYPTION]
    assert "secrets written with identity: stored in plaintext" in deployment.check(Setting.SECRETS_ENCRYPTION).found


def test_no_encryption_flag_fails(deployment: Deployment) -> None:
    deployment.edit_flags(encryption_provider_config=None)
    assert deployment.failing() == [Setting.SECRETS_ENCRYPTION]


def _with_etcd(deployment: Deployment, monkeypatch: pytest.MonkeyPatch, values: dict[str, bytes]) -> None:
    document = yaml.safe_load(deployment.platform.read_text())
    document["spec"]["deployment"]["kubernetes"][0]["etcd"] = {"endpoint": "http://127.0.0.1:1"}
    deployment.platform.write_text(yaml.safe_dump(document, allow_unicode=True))

    def fake_range(_self: Any, start: bytes, end: bytes, *, limit: int = 0, count_only: bool = False) -> Any:
        assert (start, end) == (b"/registry/secrets/", b"/registry/secrets0")
        if count_only:
            return {"count": str(len(values))}
        return {"kvs": [{"key": base64.b64encode(b"/registry/secrets/" + k.encode()).decode(),
                         "value": base64.b64encode(v).decode()} for k, v in values.items()]}

    monkeypatch.setattr(_EtcdClient, "range", fake_range)


def test_etcd_shows_every_secret_encrypted(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_etcd(deployment, monkeypatch, {"dept/a": b"k8s:enc:aescbc:v1:key1:\x00", "dept/b": b"k8s:enc:kms:v2"})
    check = deployment.check(Setting.SECRETS_ENCRYPTION)
    assert check.ok and "2 of 2 Secrets read, all k8s:enc:" in check.found and "etcd http://127.0.0.1:1" in check.source


def test_a_secret_stored_before_encryption_fails(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = b'k8s\x00\n\x0c\n\x02v1\x12\x06Secret{"password": "hunter2-plain"}'
    _with_etcd(deployment, monkeypatch, {"dept/old": plain, "dept/new": b"k8s:enc:aescbc:v1:key1:..."})
    check = deployment.check(Setting.SECRETS_ENCRYPTION)
    assert not check.ok and "1 of 2 Secrets in etcd stored in plaintext (dept/old)" in check.found
    assert "hunter2" not in json.dumps(check.__dict__, default=str)


def test_an_unreachable_etcd_fails_the_proof(deployment: Deployment) -> None:
    document = yaml.safe_load(deployment.platform.read_text())
    document["spec"]["deployment"]["kubernetes"][0]["etcd"] = {"endpoint": "http://127.0.0.1:9"}
    deployment.platform.write_text(yaml.safe_dump(document, allow_unicode=True))
    check = deployment.check(Setting.SECRETS_ENCRYPTION)
    assert not check.ok and "etcd: cannot read http://127.0.0.1:9/v3/kv/range" in check.found


def test_a_static_pod_manifest_is_read_like_the_args_file(deployment: Deployment) -> None:
    flags = deployment.kube.apiserver_args_file.read_text().split()
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kube-apiserver"}, "spec": {"containers": [
        {"name": "sidecar", "command": ["sleep"]},
        {"name": "kube-apiserver", "command": ["kube-apiserver", *flags[:3]], "args": flags[3:]}]}}
    (deployment.root / "kube-apiserver.yaml").write_text(yaml.safe_dump(manifest))
    document = yaml.safe_load(deployment.platform.read_text())
    entry = document["spec"]["deployment"]["kubernetes"][0]
    del entry["apiServerArgs"]
    entry["apiServerManifest"] = "kube-apiserver.yaml"
    deployment.platform.write_text(yaml.safe_dump(document, allow_unicode=True))
    report = deployment.report()
    assert report.ok and "kube-apiserver.yaml" in report.checks[1].source


def test_flags_parse_as_pflag_does() -> None:
    assert kube.args_file_flags("# comment\nkube-apiserver --a=1 --b 2\n--c\n--a='x y'\n") == \
        {"a": "x y", "b": "2", "c": "true"}


# --- Keystone and Cinder ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "found"), [
    ({"lockout_failure_attempts": "0"}, "unlimited wrong passwords"),
    ({"lockout_failure_attempts": "10"}, "more than 5 tries"),
    ({"lockout_duration": "60"}, "only for 60 s"),
])
def test_a_weak_lockout_fails_lockout_only(deployment: Deployment, options: dict[str, str], found: str) -> None:
    deployment.edit_ini(deployment.keystone_conf, "security_compliance", **options)
    assert deployment.failing() == [Setting.KEYSTONE_LOCKOUT]
    assert found in deployment.check(Setting.KEYSTONE_LOCKOUT).found


@pytest.mark.parametrize(("options", "found"), [
    ({"password_regex": ""}, "password_regex unset: any password is accepted"),
    ({"password_regex": "^.{8,}"}, "accepts 7 of 8 weak passwords (for one: 15 characters, 1 character class)"),
    ({"password_regex": "^(?=.*[0-9])(?=.*[a-zA-Z]).{7,}"}, "accepts 3 of 8 weak passwords"),
    ({"password_regex": "^(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])(?=.*[!@#%^&*]).{12,}"},
     "refuses the passwords govcloud makes"),
    ({"password_regex": "^(?=.*[a-z]"}, "does not compile (missing ), unterminated subpattern)"),
])
def test_a_weak_or_broken_password_rule_fails_complexity_only(deployment: Deployment, options: dict[str, str],
                                                              found: str) -> None:
    deployment.edit_ini(deployment.keystone_conf, "security_compliance", **options)
    assert deployment.failing() == [Setting.KEYSTONE_PASSWORD_COMPLEXITY]
    assert found in deployment.check(Setting.KEYSTONE_PASSWORD_COMPLEXITY).found


def test_the_complexity_samples_are_weak_and_the_sandbox_rule_takes_every_password_govcloud_makes() -> None:
    import re

    from gcloud.mlps.openstack import MIN_PASSWORD_LENGTH, WEAK_PASSWORDS, _classes
    from gcloud.passwords import new_password
    from gcloud.sandbox.openstack_config import SANDBOX_PASSWORD_REGEX

    assert all(len(sample) < MIN_PASSWORD_LENGTH or _classes(sample) <= 2 for sample in WEAK_PASSWORDS)
    assert all(re.match(SANDBOX_PASSWORD_REGEX, new_password()) for _ in range(2_000))


@pytest.mark.parametrize(("value", "found"), [
    ("", "unused accounts stay enabled"), ("365", "disable_user_account_days_inactive = 365"),
])
def test_unused_accounts_left_enabled_fail_inactivity_only(deployment: Deployment, value: str, found: str) -> None:
    deployment.edit_ini(deployment.keystone_conf, "security_compliance", disable_user_account_days_inactive=value)
    assert deployment.failing() == [Setting.KEYSTONE_INACTIVE_ACCOUNTS]
    assert found in deployment.check(Setting.KEYSTONE_INACTIVE_ACCOUNTS).found


def test_a_conf_d_file_overrides_keystone_conf_as_oslo_config_does(deployment: Deployment) -> None:
    extra = deployment.keystone_conf.with_name("keystone.conf.d")
    extra.mkdir()
    (extra / "90-site.conf").write_text("[security_compliance]\npassword_expires_days = 365\n")
    check = deployment.check(Setting.KEYSTONE_PASSWORD_EXPIRY)
    assert not check.ok and check.found == "password_expires_days = 365" and "+ 1 file(s) of" in check.source
    assert deployment.failing() == [Setting.KEYSTONE_PASSWORD_EXPIRY]


def test_a_broken_keystone_conf_is_reported_without_its_text(deployment: Deployment) -> None:
    deployment.keystone_conf.write_text(f"password = {PASSWORD}\n[database]\n")
    report = deployment.report()
    assert set(deployment.failing()) == set(KEYSTONE_SETTINGS)
    assert all(PASSWORD not in check.found + check.source for check in report.checks)
    assert "is not an INI file (line 1)" in deployment.check(Setting.KEYSTONE_LOCKOUT).found


@pytest.mark.parametrize(("section", "options", "found"), [
    ("fake", {"volume_clear": "none"}, "[fake] volume_clear = none: deleted volumes keep their data"),
    ("fake", {"volume_clear_size": "100"}, "only the first 100 MiB wiped"),
])
def test_a_backend_that_keeps_deleted_data_fails_wiping_only(deployment: Deployment, section: str,
                                                             options: dict[str, str], found: str) -> None:
    deployment.edit_ini(deployment.cinder_conf, section, **options)
    assert deployment.failing() == [Setting.CINDER_VOLUME_CLEAR]
    assert found in deployment.check(Setting.CINDER_VOLUME_CLEAR).found


def test_cinder_options_resolve_as_cinder_volume_reads_them(deployment: Deployment) -> None:
    text = deployment.cinder_conf.read_text().replace("volume_clear = zero\n", "")
    text = text.replace("volume_clear_size = 0\n", "")
    deployment.cinder_conf.write_text(text + "\n[DEFAULT]\nvolume_clear = none\n")
    assert deployment.check(Setting.CINDER_VOLUME_CLEAR).ok  # [DEFAULT] is not a backend's section
    deployment.cinder_conf.write_text(text + "\n[backend_defaults]\nvolume_clear = none\n")
    assert not deployment.check(Setting.CINDER_VOLUME_CLEAR).ok


# --- the model and the command ----------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["kubernetes"][0].update(cluster="gov-k9s"), "cluster 'gov-k9s'"),
    (lambda d: d["kubernetes"][0].update(apiServerManifest="/m.yaml"), "apiServerManifest or apiServerArgs"),
])
def test_a_deployment_section_naming_nothing_real_is_bad_input(tmp_path: Path, change: Any, message: str) -> None:
    document = yaml.safe_load((REPO / "platform.yaml").read_text())
    change(document["spec"]["deployment"])
    (tmp_path / "platform.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))
    with pytest.raises(InputError) as raised:
        load_platform(tmp_path / "platform.yaml")
    assert message in str(raised.value)


def test_the_command_renders_each_check_and_exits_1_on_a_failure(deployment: Deployment) -> None:
    args = ["doctor", "--mlps", "--platform", str(deployment.platform)]
    ok = CliRunner().invoke(app, [*args, "-o", "json"])
    assert ok.exit_code == 0, ok.output
    document = json.loads(ok.output)
    assert document["ok"] is True and len(document["checks"]) == len(Setting)
    assert {"standard": "GB/T 22239-2019", "clause": "8.1.4.1 b)", "title": "身份鉴别"} in \
        next(c for c in document["checks"] if c["setting"] == "keystone-lockout")["clauses"]
    deployment.edit_ini(deployment.cinder_conf, "fake", volume_clear="none")
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 1
    assert "fail  openstack gov-east cinder-volume-clear" in table.output and "剩余信息保护" in table.output
    assert "ok    kubernetes gov-k8s audit-policy" in table.output
    assert f"1 of {len(Setting)} settings fall short of level 3" in table.output


def test_help_has_an_mlps_example() -> None:
    result = CliRunner().invoke(app, ["doctor", "--help"])
    assert "Example: govcloud doctor --mlps" in result.output


def test_copying_the_sandbox_files_elsewhere_keeps_the_result(deployment: Deployment, tmp_path_factory: Any) -> None:
    """What the integration test relies on: a copied deployment file, pointed at by a copied platform, is read."""
    other = tmp_path_factory.mktemp("copy")
    shutil.copy(deployment.cinder_conf, other / "cinder.conf")
    document = yaml.safe_load(deployment.platform.read_text())
    document["spec"]["deployment"]["openstack"][0]["cinderConf"] = str(other / "cinder.conf")
    deployment.platform.write_text(yaml.safe_dump(document, allow_unicode=True))
    assert deployment.check(Setting.CINDER_VOLUME_CLEAR).source == str(other / "cinder.conf")
