"""Clients come from a cloud / context name and the files the environment points at; nothing is contacted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gcloud.errors import EnvironmentProblem
from gcloud.providers import credentials


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    credentials.forget_clients()
    yield
    credentials.forget_clients()


def clouds_yaml(path: Path, name: str, port: int) -> Path:
    path.write_text(yaml.safe_dump({"clouds": {name: {
        "auth": {"auth_url": f"http://127.0.0.1:{port}/v3", "username": "admin", "password": "s3cret-pw",
                 "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"},
        "region_name": "RegionOne", "identity_api_version": 3}}}))
    return path


def kubeconfig(path: Path, context: str, port: int) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}",
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}]}))
    return path


def test_openstack_cloud_from_os_client_config_file_is_cached(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml(tmp_path / "a.yaml", "gov-east", 5000)))
    conn = credentials.openstack_connection("gov-east")
    assert conn.config.get_auth_args()["auth_url"] == "http://127.0.0.1:5000/v3"
    assert credentials.openstack_connection("gov-east") is conn
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml(tmp_path / "b.yaml", "gov-east", 15000)))
    other = credentials.openstack_connection("gov-east")
    assert other is not conn and other.config.get_auth_args()["auth_url"] == "http://127.0.0.1:15000/v3"


def test_unknown_cloud_is_an_environment_problem_with_a_hint(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml(tmp_path / "a.yaml", "gov-east", 5000)))
    with pytest.raises(EnvironmentProblem) as caught:
        credentials.openstack_connection("gov-west")
    assert "gov-west" in caught.value.message and "OS_CLIENT_CONFIG_FILE" in caught.value.hint
    assert "s3cret-pw" not in str(caught.value)


def test_kubernetes_context_from_kubeconfig_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "kc", "gov-k8s", 6443)))
    client = credentials.kubernetes_client("gov-k8s")
    assert client.configuration.host == "https://127.0.0.1:6443"
    assert credentials.kubernetes_client("gov-k8s") is client
    with pytest.raises(EnvironmentProblem, match="'nope'"):
        credentials.kubernetes_client("nope")


def test_missing_kubeconfig_is_an_environment_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(EnvironmentProblem, match="gov-k8s"):
        credentials.kubernetes_client("gov-k8s")
