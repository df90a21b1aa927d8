"""The benchmarks' request counting and the providers' one-call name lookup: what the README's request figures
rest on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.measure import COUNTING, count_requests, counting_env, kind_of
from gcloud.providers import openstack
from gcloud.providers.retry import ProviderError


def test_kinds_of_requests() -> None:
    assert kind_of("keystone", "POST", "/v3/auth/tokens") == "token"
    assert kind_of("keystone", "GET", "/v3") == "discovery"
    assert kind_of("nova", "GET", "/v2.1") == "discovery"
    assert kind_of("cinder", "GET", "/") == "discovery"
    assert kind_of("kube", "GET", "/apis/networking.k8s.io/v1") == "discovery"
    assert kind_of("kube", "GET", "/api/v1/namespaces/t1-prod/limitranges") == "read"
    assert kind_of("keystone", "GET", "/v3/domains") == "read"
    assert kind_of("neutron", "POST", "/v2.0/networks") == "write"


def test_count_requests_per_tenant_and_shapes(tmp_path: Path) -> None:
    log = tmp_path / "requests.log"
    project = "0123456789abcdef0123456789abcdef"
    log.write_text("\n".join([
        "10 POST 127.0.0.1:7500 /v3/auth/tokens",
        f"10 GET 127.0.0.1:7500 /v3/projects/{project}",
        "11 PATCH 127.0.0.1:8943 /api/v1/namespaces/t1-prod/resourcequotas/quota",
        "11 PATCH 127.0.0.1:8943 /api/v1/namespaces/t2-prod/resourcequotas/quota",
    ]) + "\n")
    counted = count_requests(log, {7500: "keystone", 8943: "kube"}, tenants=2)
    assert counted["total"] == 4
    assert counted["per_tenant"] == 2.0
    assert counted["per_tenant_by_kind"] == {"read": 0.5, "token": 0.5, "write": 1.0}
    assert counted["processes"] == 2
    assert counted["top_calls"]["PATCH kube /api/v1/namespaces/{name}/resourcequotas/{name}"] == 2
    assert counted["top_calls"]["GET keystone /v3/projects/{id}"] == 1


def test_the_counter_records_each_request_of_a_child_process(tmp_path: Path) -> None:
    """A real HTTP request to a closed loopback port still passes putrequest: one line, no headers."""
    log = tmp_path / "requests.log"
    env = counting_env({"PATH": "/usr/bin:/bin"}, log)
    code = ("import http.client\n"
            "c = http.client.HTTPConnection('127.0.0.1', 9, timeout=1)\n"
            "c.putrequest('GET', '/v3/projects?name=secret-looking')\n")
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    [line] = log.read_text().splitlines()
    assert line.split(" ", 1)[1] == "GET 127.0.0.1:9 /v3/projects"
    assert (COUNTING / "sitecustomize.py").is_file()


class _Identity:
    def __init__(self, names: dict[str, str], ids: set[str]) -> None:
        self.names, self.ids = names, ids
        self.calls: list[str] = []

    def domains(self, name: str) -> list[Any]:
        self.calls.append(f"list {name}")
        return [type("D", (), {"id": self.names[name]})()] if name in self.names else []

    def get_domain(self, ident: str) -> Any:
        self.calls.append(f"get {ident}")
        if ident not in self.ids:
            raise type("NotFound", (Exception,), {"status_code": 404})()
        return type("D", (), {"id": ident})()


class _Conn:
    def __init__(self, ident: _Identity) -> None:
        self.identity = ident


def test_a_domain_name_is_found_in_one_call_an_id_in_two_and_then_cached() -> None:
    ident = _Identity({"Default": "default"}, {"default"})
    conn: Any = _Conn(ident)
    assert openstack.domain_id(conn, "Default") == "default"
    assert openstack.domain_id(conn, "Default") == "default"
    assert ident.calls == ["list Default"]
    assert openstack.domain_id(conn, "default") == "default"
    assert ident.calls == ["list Default", "list default", "get default"]
    with pytest.raises(ProviderError, match="does not exist"):
        openstack.domain_id(conn, "nope")
