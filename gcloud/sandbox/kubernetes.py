"""The sandbox's Kubernetes: etcd, kube-apiserver and kube-controller-manager on 127.0.0.1.

What a tenant stack needs from a cluster, and nothing more: namespaces, ResourceQuotas whose status is filled in,
default ServiceAccounts, namespace deletion that finishes, RBAC with the aggregated admin/edit/view roles. No
kubelet, no scheduler, no pods running. Every identity is a client certificate signed by a CA kept in the state
directory (made with `cryptography`, no openssl CLI): the admin in `system:masters`, the controller manager as
`system:kube-controller-manager`, and plain users in any groups on demand (`user_kubeconfig`), so tests can check
RBAC decisions as a department's user would meet them.

State (`SandboxDirs`): `etc/kubeconfig` (context `gov-k8s`, the name the example platform.yaml uses),
`etc/pki/`, `data/etcd/`, `logs/<service>.log`, `run/<service>.pid` and `run/kubernetes.json` (the port offset,
so a later status/down/env in the same directory finds the same ports). The API server runs as a level-3 cloud's
must: audited (`etc/audit-policy.yaml`, `logs/kube-apiserver-audit.log` kept 180 days) and with Secrets encrypted
in etcd (`etc/encryption-config.yaml`, aescbc, 0600); its flags are also written to `etc/kube-apiserver.args`,
where `govcloud doctor --mlps` reads them as it would a control-plane node's static-pod manifest.
"""

from __future__ import annotations

import base64
import datetime
import functools
import ipaddress
import json
import os
import secrets
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gcloud.errors import EnvironmentProblem
from gcloud.privileges import (
    SERVICE_ACCOUNT,
    SERVICE_ACCOUNT_NAMESPACE,
    SERVICE_ACCOUNT_USER,
    kubernetes_rbac_for,
    object_path,
)
from gcloud.sandbox import process
from gcloud.sandbox.kube_build import KubeBinaries
from gcloud.sandbox.process import LOOPBACK, Progress, SandboxDirs, ServiceStatus

CONTEXT = "gov-k8s"
"""Context (and cluster) name in the kubeconfig: the cluster the example platform.yaml names."""
ADMIN_USER = "govcloud-admin"
KUBERNETES_ROLES = ("admin", "edit", "view")
"""The ClusterRoles the example platform.yaml's role mapping names: govcloud's ClusterRole may bind these."""
TOKEN_SECONDS = 365 * 24 * 3600
"""govcloud's ServiceAccount token, minted at each `up` (the API server's own maximum applies if lower)."""
SERVICE_CIDR = "10.96.0.0/16"
"""Service cluster IPs: outside the example platform's tenant pool (10.16.0.0/12) and admin network."""
ISSUER = "https://kubernetes.default.svc.cluster.local"
CONTROLLERS = (
    "namespace-controller", "resourcequota-controller", "serviceaccount-controller",
    "serviceaccount-token-controller", "garbage-collector-controller",
    "clusterrole-aggregation-controller",  # fills the rules of the admin/edit/view roles tenants are bound to
    "root-ca-certificate-publisher-controller",  # kube-root-ca.crt in every namespace, as real clusters have
)
FRONT_PROXY_CA, FRONT_PROXY_CLIENT = "front-proxy-ca", "front-proxy-client"
ETCD, APISERVER, CONTROLLER_MANAGER = "etcd", "kube-apiserver", "kube-controller-manager"
SERVICES = (ETCD, APISERVER, CONTROLLER_MANAGER)
CERT_DAYS = 3650
GO_ENV = {"GOGC": "50"}
"""Collect garbage sooner: about 35 MB less resident for kube-apiserver, at idle CPU cost only."""
START_TIMEOUT = 120.0
AUDIT_LOG_MAXAGE_DAYS = 180
"""Audit logs kept 180 days: the six months of network logs the Cybersecurity Law (art. 21) asks for."""
AUDIT_POLICY = """\
# The sandbox API server's audit policy (govcloud doctor --mlps reads it through --audit-policy-file).
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None                      # probes, not user behaviour
    nonResourceURLs: [/healthz*, /readyz*, /livez*, /version]
  - level: None                      # the controllers' own reads and watches (their writes are kept)
    userGroups: [system:serviceaccounts:kube-system]
    verbs: [get, list, watch]
  - level: None                      # the API server's own loopback reads (its bootstrap writes are kept)
    users: [system:apiserver, system:kube-controller-manager]
    verbs: [get, list, watch]
  - level: Metadata                  # who touched which secret, never its value
    resources:
      - {group: "", resources: [secrets, configmaps, serviceaccounts/token]}
      - {group: authentication.k8s.io, resources: [tokenreviews]}
  - level: Request                   # every change, with what was asked
    verbs: [create, update, patch, delete, deletecollection]
  - level: Metadata                  # every other read, by everyone
"""


@dataclass(frozen=True)
class Ports:
    """Every port the Kubernetes half listens on, shifted by one offset so sandboxes can sit side by side."""

    offset: int = 0

    @property
    def etcd_client(self) -> int:
        return 23790 + self.offset

    @property
    def etcd_peer(self) -> int:
        return 23800 + self.offset

    @property
    def apiserver(self) -> int:
        return 6443 + self.offset

    @property
    def controller_manager(self) -> int:
        return 10257 + self.offset

    def of(self, service: str) -> tuple[int, ...]:
        return {
            ETCD: (self.etcd_client, self.etcd_peer),
            APISERVER: (self.apiserver,),
            CONTROLLER_MANAGER: (self.controller_manager,),
        }[service]


# --- certificates -------------------------------------------------------------------------------------------


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise EnvironmentProblem(f"{path} is not an EC private key", hint="remove the sandbox's etc/pki folder")
    return key


def _name(common: str, organizations: Sequence[str] = ()) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common)])


@dataclass(frozen=True)
class Pki:
    """The sandbox CA and the certificates it signs, as PEM files under one folder."""

    root: Path

    def cert(self, name: str) -> Path:
        return self.root / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.root / f"{name}.key"

    @property
    def sa_key(self) -> Path:
        return self.root / "service-account.key"

    @property
    def sa_pub(self) -> Path:
        return self.root / "service-account.pub"

    def ensure(self) -> None:
        """Create whatever is missing; a new CA re-issues everything it signs."""
        self.root.mkdir(parents=True, exist_ok=True)
        for ca, issued in (
            ("ca", (
                (APISERVER, _name(APISERVER), True),
                ("admin", _name(ADMIN_USER, ["system:masters"]), False),
                (CONTROLLER_MANAGER, _name("system:kube-controller-manager"), False),
            )),
            # requests the API server proxies to aggregated APIs carry the user in headers; only a
            # certificate from this second CA with this name may assert them
            (FRONT_PROXY_CA, ((FRONT_PROXY_CLIENT, _name(FRONT_PROXY_CLIENT), False),)),
        ):
            fresh = not (self.cert(ca).exists() and self.key(ca).exists())
            if fresh:
                key = _new_key()
                _write_key(self.key(ca), key)
                self.cert(ca).write_bytes(self._sign(
                    _name(f"govcloud-sandbox-{ca}"), key.public_key(), key, ca=True).public_bytes(
                        serialization.Encoding.PEM))
            for name, subject, server in issued:
                if fresh or not self.cert(name).exists():
                    self.issue(name, subject, server=server, ca=ca)
        if not (self.sa_key.exists() and self.sa_pub.exists()):
            key = _new_key()
            _write_key(self.sa_key, key)
            self.sa_pub.write_bytes(key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def issue(self, name: str, subject: x509.Name, *, server: bool = False, ca: str = "ca") -> None:
        """Sign a new key pair for `subject` with a CA (a client certificate unless `server`)."""
        key = _new_key()
        ca_key = _load_key(self.key(ca))
        ca_cert = x509.load_pem_x509_certificate(self.cert(ca).read_bytes())
        cert = self._sign(subject, key.public_key(), ca_key, issuer=ca_cert.subject, server=server)
        _write_key(self.key(name), key)
        self.cert(name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    @staticmethod
    def _sign(subject: x509.Name, public: ec.EllipticCurvePublicKey, signer: ec.EllipticCurvePrivateKey, *,
              issuer: x509.Name | None = None, ca: bool = False, server: bool = False) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer or subject).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False), critical=True)
        else:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, key_encipherment=False, key_cert_sign=False, crl_sign=False,
                content_commitment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False), critical=True)
            usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if server:
            service_ip = next(iter(ipaddress.IPv4Network(SERVICE_CIDR).hosts()))
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.IPv4Address(LOOPBACK)), x509.IPAddress(service_ip),
                *(x509.DNSName(n) for n in (
                    "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local")),
            ]), critical=False)
        return builder.sign(signer, hashes.SHA256())


# --- the sandbox ----------------------------------------------------------------------------------------------


class KubernetesSandbox:
    """etcd + kube-apiserver + kube-controller-manager, started and stopped by PID within one state directory."""

    def __init__(self, dirs: SandboxDirs, *, port_offset: int | None = None,
                 binaries: KubeBinaries | None = None) -> None:
        """`port_offset=None` takes the offset recorded by an earlier `up` in `dirs` (0 when there is none)."""
        self.dirs = dirs
        self.binaries = binaries or KubeBinaries.default()
        self._recorded = self._read_offset()
        offset = port_offset if port_offset is not None else self._recorded
        self.ports = Ports(offset or 0)
        self.pki = Pki(dirs.etc / "pki")

    # the interface the sandbox orchestrator drives --------------------------------------------------------

    def services(self) -> list[str]:
        return list(SERVICES)

    @property
    def kubeconfig(self) -> Path:
        """govcloud's own kubeconfig: its ServiceAccount's token (gcloud.privileges), context `gov-k8s`."""
        return self.dirs.etc / "kubeconfig"

    @property
    def admin_kubeconfig(self) -> Path:
        """The cluster admin's (system:masters), for the sandbox itself and for tests looking from outside."""
        return self.dirs.etc / "admin.kubeconfig"

    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig)}

    def install(self, progress: Progress) -> None:
        """Build the binaries unless cached (many minutes the first time, instant afterwards)."""
        if self.binaries.install(progress):
            progress(f"Kubernetes binaries ready in {self.binaries.bin_dir}")

    def up(self, progress: Progress) -> None:
        """Start whatever is not running, in dependency order; a no-op (well under a second) when all run."""
        running = [s for s in SERVICES if process.read_pid(self.dirs, s) is not None]
        if running and self._recorded is not None and self._recorded != self.ports.offset:
            raise EnvironmentProblem(
                f"the Kubernetes sandbox in {self.dirs.root} is running with port offset {self._recorded}, "
                f"not {self.ports.offset}",
                hint="run `govcloud sandbox down` first, or use the same port offset",
            )
        if len(running) == len(SERVICES) and self._ready(APISERVER) and self._ready(CONTROLLER_MANAGER):
            if not self.admin_kubeconfig.exists():  # a sandbox started by a govcloud before least privilege
                self._write_kubeconfigs()
                self._grant_govcloud()
            return
        self.install(progress)
        self.dirs.ensure()
        self._write_offset()
        self.pki.ensure()
        self._write_kubeconfigs()
        self.write_apiserver_files()
        for service in SERVICES:
            if process.read_pid(self.dirs, service) is not None:
                continue
            for port in self.ports.of(service):
                process.require_free_port(service, port)
            progress(f"starting {service} on {self._endpoint(service)}")
            process.start(self.dirs, service, self._argv(service), env=GO_ENV)
            process.wait_until(self.dirs, service, functools.partial(self._ready, service),
                               timeout=START_TIMEOUT)
        progress("waiting for the controller manager to create the default ServiceAccount")
        process.wait_until(self.dirs, CONTROLLER_MANAGER, self._controllers_working, timeout=START_TIMEOUT)
        self._grant_govcloud()
        progress(f"Kubernetes sandbox up: KUBECONFIG={self.kubeconfig} (context {CONTEXT}, "
                 f"user {SERVICE_ACCOUNT_USER})")

    def down(self) -> list[str]:
        """Stop the recorded processes, newest first; the names of those that were running."""
        return [s for s in reversed(SERVICES) if process.stop(self.dirs, s)]

    def status(self) -> list[ServiceStatus]:
        result = []
        for service in SERVICES:
            pid = process.read_pid(self.dirs, service)
            result.append(ServiceStatus(
                name=service, running=pid is not None, pid=pid, endpoint=self._endpoint(service),
                memory_mb=_rss_mb(pid) if pid is not None else None,
            ))
        return result

    # extras for tests ------------------------------------------------------------------------------------------

    def user_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig (context `gov-k8s`) for a plain user in `groups`, signed by the sandbox CA.

        The API server knows the user only from the certificate, so tests can create any identity the tenant
        files name (e.g. a member of `czj-staff`) and see what RBAC lets it do.
        """
        if not user or "/" in user or user.startswith("system:"):
            raise ValueError(f"not a plain user name: {user!r}")
        self.pki.ensure()
        name = f"user-{user}"
        self.pki.issue(name, _name(user, groups))
        path = self.dirs.etc / "users" / f"{user}.kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_kubeconfig(path, user, name, embed=True)
        return path

    # internals -----------------------------------------------------------------------------------------------

    @property
    def apiserver_args_file(self) -> Path:
        """The API server's flags, one a line, as it was started (what `doctor --mlps` reads, like a manifest)."""
        return self.dirs.etc / f"{APISERVER}.args"

    @property
    def audit_policy_file(self) -> Path:
        return self.dirs.etc / "audit-policy.yaml"

    @property
    def encryption_config_file(self) -> Path:
        return self.dirs.etc / "encryption-config.yaml"

    @property
    def etcd_endpoint(self) -> str:
        return self._endpoint(ETCD)

    def write_apiserver_files(self) -> None:
        """Audit policy, encryption config (a new key only when none exists: the old one decrypts the store), flags."""
        self.audit_policy_file.write_text(AUDIT_POLICY)
        if not self.encryption_config_file.exists():
            key = base64.b64encode(secrets.token_bytes(32)).decode()
            config = {
                "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
                "resources": [{"resources": ["secrets"], "providers": [
                    {"aescbc": {"keys": [{"name": "key1", "secret": key}]}},
                    {"identity": {}},  # reads what was stored before encryption was on; never used to write
                ]}],
            }
            fd = os.open(self.encryption_config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(yaml.safe_dump(config, sort_keys=False))
        self.encryption_config_file.chmod(0o600)
        self.apiserver_args_file.write_text("\n".join(self._argv(APISERVER)[1:]) + "\n")

    @property
    def _state_file(self) -> Path:
        return self.dirs.run / "kubernetes.json"

    def _read_offset(self) -> int | None:
        try:
            return int(json.loads(self._state_file.read_text())["port_offset"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def _write_offset(self) -> None:
        self._state_file.write_text(json.dumps({"port_offset": self.ports.offset}) + "\n")
        self._recorded = self.ports.offset

    @property
    def _server(self) -> str:
        return f"https://{LOOPBACK}:{self.ports.apiserver}"

    def _endpoint(self, service: str) -> str:
        if service == ETCD:
            return f"http://{LOOPBACK}:{self.ports.etcd_client}"
        if service == APISERVER:
            return self._server
        return f"https://{LOOPBACK}:{self.ports.controller_manager}/healthz"

    def _write_kubeconfigs(self) -> None:
        self._write_kubeconfig(self.admin_kubeconfig, ADMIN_USER, "admin", embed=True)
        self._write_kubeconfig(self.dirs.etc / f"{CONTROLLER_MANAGER}.kubeconfig", CONTROLLER_MANAGER,
                               CONTROLLER_MANAGER, embed=False)

    def _write_kubeconfig(self, path: Path, user: str, cert_name: str, *, embed: bool, token: str = "") -> None:
        """Write a kubeconfig with one context `gov-k8s`; `embed` puts certificates inline (portable file); a
        `token` authenticates instead of a client certificate."""
        def pem(file: Path) -> str:
            return base64.b64encode(file.read_bytes()).decode()

        cluster: dict[str, str] = {"server": self._server}
        identity: dict[str, str] = {}
        if token:
            cluster["certificate-authority-data"] = pem(self.pki.cert("ca"))
            identity = {"token": token}
        elif embed:
            cluster["certificate-authority-data"] = pem(self.pki.cert("ca"))
            identity = {"client-certificate-data": pem(self.pki.cert(cert_name)),
                        "client-key-data": pem(self.pki.key(cert_name))}
        else:
            cluster["certificate-authority"] = str(self.pki.cert("ca"))
            identity = {"client-certificate": str(self.pki.cert(cert_name)),
                        "client-key": str(self.pki.key(cert_name))}
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": CONTEXT,
            "clusters": [{"name": CONTEXT, "cluster": cluster}],
            "users": [{"name": user, "user": identity}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user}}],
        }
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(yaml.safe_dump(config, sort_keys=False))

    def _argv(self, service: str) -> list[str]:
        pki, ports = self.pki, self.ports
        if service == ETCD:
            data = self.dirs.data / "etcd"
            data.mkdir(mode=0o700, parents=True, exist_ok=True)
            peer = f"http://{LOOPBACK}:{ports.etcd_peer}"
            client = f"http://{LOOPBACK}:{ports.etcd_client}"
            return [
                str(self.binaries.etcd), "--name=sandbox", f"--data-dir={data}",
                f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=sandbox={peer}", "--initial-cluster-state=new",
                "--unsafe-no-fsync",  # a throw-away local store: durability is not worth the disk stalls
                "--log-level=warn",
            ]
        if service == APISERVER:
            return [
                str(self.binaries.apiserver),
                f"--etcd-servers=http://{LOOPBACK}:{ports.etcd_client}",
                f"--bind-address={LOOPBACK}", f"--advertise-address={LOOPBACK}", f"--secure-port={ports.apiserver}",
                f"--tls-cert-file={pki.cert(APISERVER)}", f"--tls-private-key-file={pki.key(APISERVER)}",
                f"--client-ca-file={pki.cert('ca')}",
                f"--requestheader-client-ca-file={pki.cert(FRONT_PROXY_CA)}",
                f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
                "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={pki.cert(FRONT_PROXY_CLIENT)}",
                f"--proxy-client-key-file={pki.key(FRONT_PROXY_CLIENT)}",
                "--authorization-mode=Node,RBAC",
                f"--service-account-issuer={ISSUER}", f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--endpoint-reconciler-type=none",
                "--enable-admission-plugins=NodeRestriction",  # on top of the default set (ResourceQuota, ...)
                "--profiling=false",
                f"--cert-dir={self.dirs.data / 'apiserver-certs'}",
                f"--audit-policy-file={self.audit_policy_file}",
                f"--audit-log-path={self.dirs.logs / (APISERVER + '-audit.log')}",
                f"--audit-log-maxage={AUDIT_LOG_MAXAGE_DAYS}", "--audit-log-maxbackup=10",
                "--audit-log-maxsize=100",
                f"--encryption-provider-config={self.encryption_config_file}",
            ]
        kubeconfig = str(self.dirs.etc / f"{CONTROLLER_MANAGER}.kubeconfig")
        return [
            str(self.binaries.controller_manager),
            f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            f"--bind-address={LOOPBACK}", f"--secure-port={ports.controller_manager}",
            f"--cert-dir={self.dirs.data / 'controller-manager-certs'}",
            f"--controllers={','.join(CONTROLLERS)}",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki.sa_key}", f"--root-ca-file={pki.cert('ca')}",
            "--leader-elect=false", "--profiling=false",
        ]

    def _ready(self, service: str) -> bool:
        if service == ETCD:
            return process.http_ready(f"http://{LOOPBACK}:{self.ports.etcd_client}/health",
                                      accept=lambda code: code == 200)
        if service == APISERVER:
            return self._get("/readyz") is not None
        url = f"https://{LOOPBACK}:{self.ports.controller_manager}/healthz"
        return _https_ok(url, ssl_context=_insecure()) is not None

    def _grant_govcloud(self) -> None:
        """govcloud's ServiceAccount and ClusterRole (server-side applied as the admin), and its kubeconfig with a
        fresh token: govcloud never runs as cluster-admin here."""
        for manifest in kubernetes_rbac_for(KUBERNETES_ROLES):
            self._admin_call("PATCH", object_path(manifest), manifest, content_type="application/apply-patch+yaml",
                             query="?fieldManager=govcloud-sandbox&force=true")
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                   "spec": {"expirationSeconds": TOKEN_SECONDS}}
        answer = self._admin_call("POST", f"/api/v1/namespaces/{SERVICE_ACCOUNT_NAMESPACE}/serviceaccounts/"
                                  f"{SERVICE_ACCOUNT}/token", request)
        self._write_kubeconfig(self.kubeconfig, SERVICE_ACCOUNT, "", embed=True, token=str(answer["status"]["token"]))

    def _admin_call(self, method: str, path: str, body: dict[str, Any], *, content_type: str = "application/json",
                    query: str = "") -> dict[str, Any]:
        context = self._admin_tls()
        request = urllib.request.Request(self._server + path + query, data=json.dumps(body).encode(), method=method,
                                         headers={"Content-Type": content_type, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:  # loopback only
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as err:
            raise EnvironmentProblem(f"the sandbox API server refused {method} {path}: {err.code} "
                                     f"{err.read()[:300].decode(errors='replace')}") from None

    def _controllers_working(self) -> bool:
        return self._get("/api/v1/namespaces/default/serviceaccounts/default") is not None

    def _get(self, path: str) -> bytes | None:
        """GET from the API server as the admin; None unless it answers 200."""
        try:
            context = self._admin_tls()
        except (OSError, ssl.SSLError):  # certificates not written yet (or removed): not ready
            return None
        return _https_ok(self._server + path, ssl_context=context)

    def _admin_tls(self) -> ssl.SSLContext:
        """TLS as the cluster admin: the sandbox CA, the admin's client certificate."""
        context = ssl.create_default_context(cafile=str(self.pki.cert("ca")))
        context.load_cert_chain(str(self.pki.cert("admin")), str(self.pki.key("admin")))
        return context


def _insecure() -> ssl.SSLContext:
    """For the controller manager's health endpoint only: it serves a self-signed certificate on loopback."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _https_ok(url: str, *, ssl_context: ssl.SSLContext) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2, context=ssl_context) as response:  # loopback only
            body: bytes = response.read()
            return body if response.status == 200 else None
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return None


def _rss_mb(pid: int) -> float | None:
    """Resident memory of one process in MiB (from /proc), None when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        return None
    return None

