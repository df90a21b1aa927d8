"""`govcloud doctor`'s checks as values: what is installed, where state lives, which clouds answer.

Each check says whether it is required (a missing required thing makes doctor fail) and how to fix it. Cloud
probes run in parallel with a short timeout: every cloud of clouds.yaml (openstacksdk: connect and get a token)
and every context of the kubeconfig (the API server's version endpoint). Clouds and contexts the platform file
names are marked `expected`, so a missing one is reported even when it is absent from the files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from gcloud.engine.errors import BOOTSTRAP_HINT, EngineError
from gcloud.engine.settings import OFFLINE_ENV, find_passphrase, state_location
from gcloud.engine.toolchain import find_engine, find_launcher, sdk_version

if TYPE_CHECKING:
    from gcloud.mlps import MlpsReport


class Health(StrEnum):
    """How one doctor check came out."""

    OK = "ok"
    MISSING = "missing"
    WARN = "warn"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: Health
    detail: str
    hint: str = ""
    required: bool = False


@dataclass(frozen=True)
class CloudProbe:
    """Whether one OpenStack cloud or Kubernetes context answered, and what it said."""

    kind: str
    name: str
    answered: bool
    detail: str
    expected: bool = False
    hint: str = ""


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[Check, ...]
    clouds: tuple[CloudProbe, ...]
    facts: dict[str, str | bool | None]
    """Machine-readable essentials: sdk/engine versions, engine path, backend URL, passphrase set."""

    @property
    def ok(self) -> bool:
        """False when something required is missing (clouds that do not answer are warnings only)."""
        return all(c.status is Health.OK for c in self.checks if c.required)


def diagnose(project_dir: Path | None = None, *, environ: Mapping[str, str] | None = None,
             expected_clouds: Iterable[str] = (), expected_contexts: Iterable[str] = (),
             timeout: float = 3.0) -> DoctorReport:
    """Run every check; never raises for what it finds."""
    env = os.environ if environ is None else environ
    passphrase = passphrase_check(env)
    from gcloud.state.health import backend_checks  # here, not at the top: it builds this module's Check values

    checks = (*engine_checks(env), passphrase, state_check(project_dir, env), *backend_checks(project_dir, env))
    import requests  # noqa: F401  # once, here: both probe threads import it, and two imports at once race
    with ThreadPoolExecutor(max_workers=2) as pool:
        openstack = pool.submit(probe_openstack, set(expected_clouds), timeout)
        kubernetes = pool.submit(probe_kubernetes, set(expected_contexts), timeout)
        clouds = (*openstack.result(), *kubernetes.result())
    return DoctorReport(checks, clouds, _facts(env, project_dir, passphrase.status is Health.OK))


def diagnose_mlps(platform_path: Path, *, timeout: float = 3.0) -> MlpsReport:
    """`doctor --mlps`: the platform's own level-3 settings (audit, Secrets at rest, Keystone login rules, Cinder
    wiping), read from the files platform.yaml's `spec.deployment` names; InputError when the file is bad."""
    from gcloud.mlps.read import check_platform
    from gcloud.model import load_platform

    platform = load_platform(platform_path)
    return check_platform(platform, platform_path.resolve().parent, timeout=timeout, label=str(platform_path))


def _facts(env: Mapping[str, str], project_dir: Path | None, passphrase_set: bool) -> dict[str, str | bool | None]:
    try:
        engine: Path | None = find_engine(env)[0]
    except EngineError:
        engine = None
    state_dir, url = state_location(project_dir, env)
    return {"sdkVersion": sdk_version(), "engineVersion": sdk_version() if engine else None,
            "engine": str(engine) if engine else None, "backendUrl": url, "stateDir": str(state_dir),
            "passphraseSet": passphrase_set}


def engine_checks(env: Mapping[str, str]) -> tuple[Check, ...]:
    """SDK version, engine binary (pinned to the SDK's version) and the dynamic-provider launcher."""
    sdk = Check("pulumi sdk", Health.OK, f"pulumi (Python) {sdk_version()}", required=True)
    try:
        binary, source = find_engine(env)
    except EngineError as err:
        return (sdk, Check("pulumi engine", Health.MISSING, err.message, err.hint, required=True),
                Check("plugin launcher", Health.MISSING, "not checked: no engine", BOOTSTRAP_HINT, required=True))
    engine = Check("pulumi engine", Health.OK, f"v{sdk_version()} at {binary} (from {source})", required=True)
    try:
        launcher = Check("plugin launcher", Health.OK, str(find_launcher(binary, env)), required=True)
    except EngineError as err:
        launcher = Check("plugin launcher", Health.MISSING, err.message, err.hint, required=True)
    offline = Check("offline settings", Health.OK, f"no update checks, plugin downloads, registry or Neo "
                    f"({len(OFFLINE_ENV)} PULUMI_* variables set for every engine run)")
    return sdk, engine, launcher, offline


def passphrase_check(env: Mapping[str, str]) -> Check:
    """Whether a passphrase is configured (its value is never read into the report)."""
    try:
        source = find_passphrase(env).source
    except EngineError as err:
        return Check("passphrase", Health.MISSING, err.message, err.hint, required=True)
    return Check("passphrase", Health.OK, f"set ({source})", required=True)


def state_check(project_dir: Path | None, env: Mapping[str, str]) -> Check:
    """Where stacks live; a file backend whose folder cannot be created or written is a problem."""
    state_dir, url = state_location(project_dir, env)
    if not url.startswith("file://"):
        return Check("state", Health.OK, f"{url} (PULUMI_BACKEND_URL); workspace in {state_dir}", required=True)
    existing = next((p for p in (state_dir, *state_dir.parents) if p.exists()), None)
    if existing is None or not os.access(existing, os.W_OK):
        return Check("state", Health.MISSING, f"{state_dir} cannot be created (no write access to {existing})",
                     "set GOVCLOUD_STATE_DIR to a writable folder", required=True)
    note = "" if state_dir.exists() else " (created on first use)"
    return Check("state", Health.OK, f"{url}{note}", required=True)


def probe_openstack(expected: set[str], timeout: float) -> list[CloudProbe]:
    """Connect to every cloud of clouds.yaml (and OS_* variables) and get a token; reads os.environ, as the
    clients do (OS_CLIENT_CONFIG_FILE, OS_AUTH_URL...)."""
    from openstack.config import loader

    try:
        config = loader.OpenStackConfig()
    except Exception as err:  # a broken clouds.yaml is a finding, not a crash
        return [CloudProbe("openstack", "clouds.yaml", False, f"cannot be read: {err}", bool(expected),
                           "fix the file named by OS_CLIENT_CONFIG_FILE or ~/.config/openstack/clouds.yaml")]
    names = set(config.get_cloud_names()) if config.config_filename or os.environ.get("OS_AUTH_URL") else set()
    names.discard("defaults")
    where = config.config_filename or "no clouds.yaml found"
    probes = _parallel(sorted(names), lambda name: _openstack_one(name, name in expected, timeout, where))
    probes += [CloudProbe("openstack", name, False, f"not in clouds.yaml ({where})", True,
                          "add it to clouds.yaml (the sandbox writes one: govcloud sandbox env)")
               for name in sorted(expected - names)]
    return probes


def _openstack_one(name: str, expected: bool, timeout: float, where: str) -> CloudProbe:
    import openstack

    try:
        conn = openstack.connect(cloud=name, api_timeout=timeout, load_yaml_config=True)
        conn.session.timeout = timeout
        token = conn.authorize()
        project = conn.current_project_id or "-"
        conn.close()
    except Exception as err:
        return CloudProbe("openstack", name, False, f"does not answer: {_short(err)}", expected,
                          f"check the cloud's auth_url and credentials in {where}, and that Keystone is up")
    return CloudProbe("openstack", name, bool(token), f"token issued (project {project})", expected)


def probe_kubernetes(expected: set[str], timeout: float) -> list[CloudProbe]:
    """Ask every context of the kubeconfig (KUBECONFIG or ~/.kube/config) for the API server's version."""
    from kubernetes import config as kube_config

    # Named explicitly: the client reads KUBECONFIG once, when it is imported.
    where = os.environ.get("KUBECONFIG") or "~/.kube/config"
    try:
        contexts, _current = kube_config.list_kube_config_contexts(where)  # type: ignore[no-untyped-call]
    except Exception as err:
        contexts = []
        missing_file = "Invalid kube-config file. No configuration found." in str(err) or isinstance(err, OSError)
        if not missing_file:
            return [CloudProbe("kubernetes", "kubeconfig", False, f"cannot be read: {_short(err)}", bool(expected),
                               f"fix {where}")]
    names = {c["name"] for c in contexts or []}
    probes = _parallel(sorted(names), lambda name: _kube_one(name, name in expected, timeout, where))
    probes += [CloudProbe("kubernetes", name, False, f"no such context in {where}", True,
                          "add it to the kubeconfig (the sandbox writes one: govcloud sandbox env)")
               for name in sorted(expected - names)]
    return probes


def _kube_one(name: str, expected: bool, timeout: float, where: str) -> CloudProbe:
    from kubernetes import client
    from kubernetes import config as kube_config

    try:
        settings = client.Configuration()
        settings.retries = 0  # one try: a host that does not answer costs `timeout`, not four of them
        api = kube_config.new_client_from_config(where, context=name,  # type: ignore[no-untyped-call]
                                                 persist_config=False, client_configuration=settings)
        with api:
            info = client.VersionApi(api).get_code(_request_timeout=timeout)
    except Exception as err:
        return CloudProbe("kubernetes", name, False, f"does not answer: {_short(err)}", expected,
                          f"check the context's server and credentials in {where}, and that the API server is up")
    return CloudProbe("kubernetes", name, True, f"API server {info.git_version}", expected)


def _parallel(names: list[str], probe: Callable[[str], CloudProbe]) -> list[CloudProbe]:
    if not names:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
        return list(pool.map(probe, names))


_CAUSES = (("connection refused", "connection refused"), ("timed out", "timed out"),
           ("certificate_verify_failed", "TLS certificate not trusted"), ("401", "credentials refused (401)"),
           ("unauthorized", "credentials refused"), ("name or service not known", "host name not found"))


def _short(err: BaseException) -> str:
    """The usual causes in a few words; anything else as the first 160 characters of the error."""
    text = " ".join(str(err).split()) or type(err).__name__
    lowered = text.lower()
    for marker, cause in _CAUSES:
        if marker in lowered:
            return cause
    return text if len(text) <= 160 else text[:157] + "..."


for _noisy in ("keystoneauth", "openstack", "urllib3", "kubernetes"):
    # Client libraries log failed attempts as warnings; the report carries them, so nothing reaches stderr.
    logging.getLogger(_noisy).addHandler(logging.NullHandler())
