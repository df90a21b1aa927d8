"""The sandbox's clouds behind toxiproxy (for the fault tests and the remote-cloud benchmark): a proxy in front
of Keystone, Neutron, Nova, Cinder, Placement and the kube-apiserver, on 127.0.0.1, with a clouds.yaml, a
Keystone catalog and a kubeconfig that point at the proxies.

The catalog: the sandbox registers its endpoints in region `RegionOne`; this adds a second set, in region
`FaultsOne`, whose URLs are the proxies'. The faulty clouds.yaml authenticates through the Keystone proxy and
picks `FaultsOne`, so every call govcloud makes (tokens, identity, network, compute, volume quotas) crosses a
proxy, while the services among themselves, and every other test, keep the direct endpoints of `RegionOne`.
The kube-apiserver's serving certificate names 127.0.0.1, so only the port changes in the kubeconfig.

Ports: `20000 + offset` for toxiproxy's API and the next ones for the proxies (below the ephemeral range, clear
of every sandbox port of the same offset).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import yaml

from gcloud.sandbox.openstack_catalog import admin_connection
from gcloud.sandbox.openstack_config import ADMIN_CLOUD_NAME, CLOUD_NAME, OpenStackLayout
from gcloud.sandbox.toxiproxy import Toxiproxy, ToxiproxyBinary, ToxiproxyServer

if TYPE_CHECKING:
    from gcloud.sandbox.sandbox import Sandbox

REGION = "FaultsOne"
PORT_BASE = 20000
INTERFACES = ("public", "internal", "admin")


@dataclass(frozen=True)
class FaultyClouds:
    """The proxies and the client files that go through them."""

    proxy: Toxiproxy
    server: ToxiproxyServer
    ports: Mapping[str, int]
    """Proxy name (keystone, neutron, nova, cinder, placement, kube) -> its listening port."""
    clouds_yaml: Path
    kubeconfig: Path

    @property
    def env(self) -> dict[str, str]:
        return {"OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml), "OS_CLOUD": CLOUD_NAME,
                "KUBECONFIG": str(self.kubeconfig)}

    def heal(self) -> None:
        """Every proxy enabled, every toxic removed."""
        self.proxy.reset()


@contextmanager
def faulty_clouds(sandbox: Sandbox, folder: Path, offset: int, seed: int) -> Iterator[FaultyClouds]:
    """The proxies for one test module or benchmark (its server is stopped at the end)."""
    clouds = start(sandbox, folder, offset, seed)
    try:
        yield clouds
    finally:
        clouds.server.stop()


def _layout(sandbox: Sandbox) -> OpenStackLayout:
    """The sandbox's OpenStack wiring, with the admin password its clouds.yaml holds."""
    half = sandbox.openstack
    clouds = yaml.safe_load(half.clouds_yaml.read_text(encoding="utf-8"))
    return OpenStackLayout(half.dirs, half.ports, bool(half.full),
                           clouds["clouds"][ADMIN_CLOUD_NAME]["auth"]["password"])


def _upstreams(sandbox: Sandbox) -> dict[str, str]:
    layout = _layout(sandbox)
    found = {"keystone": f"127.0.0.1:{layout.ports.keystone}"}
    for api in layout.apis:
        found[api.component] = f"127.0.0.1:{api.port}"
    kube = yaml.safe_load(sandbox.kubernetes.kubeconfig.read_text(encoding="utf-8"))
    found["kube"] = urlparse(kube["clusters"][0]["cluster"]["server"]).netloc
    return found


def start(sandbox: Sandbox, folder: Path, offset: int, seed: int) -> FaultyClouds:
    """Build toxiproxy if needed, start it, create the proxies, the FaultsOne endpoints and the client files."""
    binary = ToxiproxyBinary.default()
    binary.install(lambda line: None)
    server = ToxiproxyServer(binary, PORT_BASE + offset, folder / "toxiproxy.log", seed=seed)
    proxy = server.start()
    upstreams = _upstreams(sandbox)
    ports = {name: PORT_BASE + offset + 1 + i for i, name in enumerate(sorted(upstreams))}
    for name, upstream in upstreams.items():
        proxy.create(name, ports[name], upstream)
    _register_region(_layout(sandbox), ports)
    clouds = yaml.safe_load(sandbox.openstack.clouds_yaml.read_text(encoding="utf-8"))
    for entry in clouds["clouds"].values():  # govcloud's user and the admin of platform.yaml's cleanupCloud
        entry["auth"]["auth_url"] = f"http://127.0.0.1:{ports['keystone']}/v3"
        entry["region_name"] = REGION
    clouds_yaml = folder / "clouds.yaml"
    clouds_yaml.write_text(yaml.safe_dump(clouds, sort_keys=False), encoding="utf-8")
    clouds_yaml.chmod(0o600)
    kube = yaml.safe_load(sandbox.kubernetes.kubeconfig.read_text(encoding="utf-8"))
    for cluster in kube["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{ports['kube']}"
    kubeconfig = folder / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(kube, sort_keys=False), encoding="utf-8")
    kubeconfig.chmod(0o600)
    return FaultyClouds(proxy, server, ports, clouds_yaml, kubeconfig)


def _register_region(layout: Any, ports: Mapping[str, int]) -> None:
    """Endpoints of every catalog service in region FaultsOne at the proxies' ports (idempotent)."""
    conn = admin_connection(layout)
    identity: Any = conn.identity  # Keystone v3 (the SDK types it as v2-or-v3)
    if identity.find_region(REGION) is None:
        identity.create_region(id=REGION)
    services = {service.type: service for service in identity.services()}
    paths = {"identity": ("keystone", "/v3")}
    for api in layout.apis:
        for service_type, _name, path in api.catalog:
            paths[service_type] = (api.component, path)
    existing = {(e.service_id, e.interface): e for e in identity.endpoints() if e.region_id == REGION}
    for service_type, (component, path) in paths.items():
        service = services.get(service_type)
        if service is None:
            continue
        url = f"http://127.0.0.1:{ports[component]}{path}"
        for interface in INTERFACES:
            endpoint = existing.get((service.id, interface))
            if endpoint is None:
                identity.create_endpoint(service_id=service.id, interface=interface, url=url, region_id=REGION)
            elif endpoint.url != url:
                identity.update_endpoint(endpoint, url=url)
    conn.close()
