"""The edge of `doctor --mlps`: read the files platform.yaml's `spec.deployment` names (and etcd), then check.

Every cluster and cloud of platform.yaml gets every check: one whose settings cannot be read fails, saying why,
because an assessor takes an unverifiable setting as a missing one. Nothing read is echoed beyond the options
checked: config files hold service passwords and the encryption key, so a file that does not parse is reported
by line number, never with its text, and etcd values are looked at for their prefix only.
"""

from __future__ import annotations

import base64
import configparser
import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gcloud.model.platform import EtcdAccess, KubernetesDeployment, OpenStackDeployment, Platform

from . import kubernetes as kube
from . import openstack as ostack
from .checks import MlpsReport, Setting, SettingCheck

NEEDED = {**kube.NEEDED, **ostack.NEEDED}
CLUSTER_SETTINGS = (Setting.AUDIT_POLICY, Setting.AUDIT_RETENTION, Setting.SECRETS_ENCRYPTION)
KEYSTONE_SETTINGS = (Setting.KEYSTONE_LOCKOUT, Setting.KEYSTONE_PASSWORD_EXPIRY,
                     Setting.KEYSTONE_PASSWORD_COMPLEXITY, Setting.KEYSTONE_INACTIVE_ACCOUNTS)
SAMPLE_LIMIT = 1000
"""Secrets read from etcd at most (their count is asked separately): enough to find old plaintext ones."""


class Unreadable(Exception):
    """A settings file that cannot be read or parsed; the message names the file and never quotes it."""


def check_platform(platform: Platform, base_dir: Path, *, timeout: float = 3.0,
                   label: str = "platform.yaml") -> MlpsReport:
    """Every setting of every cluster and cloud platform.yaml (`label`) declares; relative paths from `base_dir`."""
    deployment = platform.spec.deployment
    clusters = {entry.cluster: entry for entry in (deployment.kubernetes if deployment else [])}
    clouds = {entry.cloud: entry for entry in (deployment.openstack if deployment else [])}
    checks: list[SettingCheck] = []
    for cluster in platform.spec.kubernetes.clusters:
        target = f"kubernetes {cluster.name}"
        entry = clusters.get(cluster.name)
        if entry is None:
            checks += _unread(target, CLUSTER_SETTINGS,
                              f"not read: spec.deployment.kubernetes has no entry for {cluster.name}", label)
        else:
            checks += _cluster(target, entry, base_dir, cluster.identity, timeout)
    for cloud in platform.spec.openstack.clouds:
        checks += _cloud(cloud.name, clouds.get(cloud.name), base_dir, label)
    return MlpsReport(tuple(checks))


def _unread(target: str, settings: tuple[Setting, ...], problem: str, source: str) -> list[SettingCheck]:
    return [SettingCheck(target, setting, False, problem, source, NEEDED[setting]) for setting in settings]


def _path(base: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else base / path


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else type(err).__name__
        raise Unreadable(f"cannot read {path}: {reason}") from None


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(_read(path))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise Unreadable(f"{path} is not valid YAML{where}") from None


# --- Kubernetes -----------------------------------------------------------------------------------------------


def _cluster(target: str, entry: KubernetesDeployment, base: Path, identity: str | None,
             timeout: float) -> list[SettingCheck]:
    manifest = entry.api_server_manifest
    flags_path = _path(base, manifest or entry.api_server_args or "")
    try:
        flags = kube.manifest_flags(_yaml(flags_path)) if manifest else kube.args_file_flags(_read(flags_path))
    except (Unreadable, ValueError) as err:
        message = str(err) if isinstance(err, Unreadable) else f"{flags_path}: {err}"
        return _unread(target, CLUSTER_SETTINGS, message, str(flags_path))
    return [_audit_policy(target, flags_path, flags, identity),
            kube.check_audit_retention(target, str(flags_path), flags),
            _encryption(target, flags_path, flags, entry.etcd, timeout)]


def _named(flags_path: Path, flags: dict[str, str], flag: str) -> tuple[Path | None, str]:
    """The file a flag names (relative to the flags file's folder), and how the report says where it was read."""
    value = flags.get(flag)
    if not value:
        return None, str(flags_path)
    path = _path(flags_path.parent, value)
    return path, f"{path} (--{flag} in {flags_path})"


def _audit_policy(target: str, flags_path: Path, flags: dict[str, str], identity: str | None) -> SettingCheck:
    path, source = _named(flags_path, flags, "audit-policy-file")
    if path is None:
        return kube.check_audit_policy(target, source, None,
                                       read_problem="no --audit-policy-file: the API server audits nothing")
    try:
        policy = _yaml(path)
    except Unreadable as err:
        return kube.check_audit_policy(target, source, None, read_problem=str(err))
    return kube.check_audit_policy(target, source, policy, platform_identity=identity)


def _encryption(target: str, flags_path: Path, flags: dict[str, str], etcd: EtcdAccess | None,
                timeout: float) -> SettingCheck:
    path, source = _named(flags_path, flags, "encryption-provider-config")
    if path is None:
        return kube.check_secrets_encryption(target, source, None, problem=(
            "no --encryption-provider-config: Secrets are stored in etcd in plaintext"))
    try:
        provider = kube.secrets_provider(_yaml(path))
        mode = path.stat().st_mode & 0o777
    except (Unreadable, ValueError, OSError) as err:
        message = str(err) if isinstance(err, Unreadable) else f"{path}: {err}"
        return kube.check_secrets_encryption(target, source, None, problem=message)
    sample, sample_problem = None, None
    if etcd is not None:
        source += f"; etcd {etcd.endpoint}"
        try:
            sample = _etcd_sample(etcd, flags.get("etcd-prefix", "/registry"), timeout)
        except Unreadable as err:
            sample_problem = str(err)
    return kube.check_secrets_encryption(target, source, provider, config_mode=mode, sample=sample,
                                         sample_problem=sample_problem)


def _etcd_sample(etcd: EtcdAccess, prefix: str, timeout: float) -> kube.EtcdSample:
    """The Secrets etcd holds, through its JSON gateway (/v3/kv/range): a count, then up to SAMPLE_LIMIT values."""
    start = f"{prefix.rstrip('/')}/secrets/".encode()
    end = start[:-1] + bytes([start[-1] + 1])
    client = _EtcdClient(etcd, timeout)
    total = int(client.range(start, end, count_only=True).get("count", 0))
    found = client.range(start, end, limit=SAMPLE_LIMIT).get("kvs", [])
    values = ((base64.b64decode(kv["key"]).decode(errors="replace")[len(start):],
               base64.b64decode(kv.get("value", ""))[:len(kube.ENCRYPTED_PREFIX)]) for kv in found)
    return kube.EtcdSample.of(etcd.endpoint, total, values)


@dataclass(frozen=True)
class _EtcdClient:
    etcd: EtcdAccess
    timeout: float

    def range(self, start: bytes, end: bytes, *, limit: int = 0, count_only: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"key": base64.b64encode(start).decode(), "range_end": base64.b64encode(end).decode()}
        if limit:
            body["limit"] = limit
        if count_only:
            body["count_only"] = True
        url = self.etcd.endpoint.rstrip("/") + "/v3/kv/range"
        request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._tls()) as response:
                document: dict[str, Any] = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError, ssl.SSLError) as err:
            reason = getattr(err, "reason", None) or err
            raise Unreadable(f"cannot read {url}: {reason}") from None
        return document

    def _tls(self) -> ssl.SSLContext | None:
        if not self.etcd.endpoint.startswith("https://"):
            return None
        context = ssl.create_default_context(cafile=self.etcd.ca)
        if self.etcd.cert:
            context.load_cert_chain(self.etcd.cert, self.etcd.key)
        return context


# --- OpenStack ------------------------------------------------------------------------------------------------


def _cloud(name: str, entry: OpenStackDeployment | None, base: Path, label: str) -> list[SettingCheck]:
    target = f"openstack {name}"
    checks: list[SettingCheck] = []
    for conf_name, field, settings in ((entry and entry.keystone_conf, "keystoneConf", KEYSTONE_SETTINGS),
                                       (entry and entry.cinder_conf, "cinderConf", (Setting.CINDER_VOLUME_CLEAR,))):
        if not conf_name:
            problem = f"names no {field} for {name}" if entry else f"has no entry for {name}"
            checks += _unread(target, settings, f"not read: spec.deployment.openstack {problem}", label)
            continue
        path = _path(base, conf_name)
        try:
            conf, source = _ini(path)
        except Unreadable as err:
            checks += _unread(target, settings, str(err), str(path))
            continue
        if settings is KEYSTONE_SETTINGS:
            checks += [check(target, source, conf) for check in ostack.KEYSTONE_CHECKS]
        else:
            checks.append(ostack.check_volume_clear(target, source, conf))
    return checks


def _ini(path: Path) -> tuple[configparser.RawConfigParser, str]:
    """The file and, as oslo.config reads them after it, the `*.conf` files of `<file>.d/`."""
    extra_dir = path.with_name(path.name + ".d")
    extra = sorted(extra_dir.glob("*.conf")) if extra_dir.is_dir() else []
    texts = [_read(file) for file in (path, *extra)]
    try:
        conf = ostack.parse_ini(texts)
    except configparser.Error as err:
        line = getattr(err, "lineno", None)
        raise Unreadable(f"{path} (or {extra_dir}) is not an INI file" + (f" (line {line})" if line else "")) from None
    source = str(path) + (f" + {len(extra)} file(s) of {extra_dir}" if extra else "")
    return conf, source
