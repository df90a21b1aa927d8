"""The bad-input corpus: every case exits 2, names file and field, shows no traceback and writes nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

Edit = Callable[[Path], None]


def replace(file: str, old: str, new: str, count: int = 1) -> Edit:
    def edit(root: Path) -> None:
        path = root / file
        text = path.read_text(encoding="utf-8")
        assert old in text, f"corpus case out of date: {old!r} not in {file}"
        path.write_text(text.replace(old, new, count), encoding="utf-8")
    return edit


def write(file: str, content: str | bytes) -> Edit:
    def edit(root: Path) -> None:
        path = root / file
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return edit


def append(file: str, text: str) -> Edit:
    def edit(root: Path) -> None:
        path = root / file
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")
    return edit


@dataclass(frozen=True)
class Case:
    id: str
    edit: Edit
    file: str
    field: str
    words: str = ""


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))

CASES = [
    Case("malformed-yaml", replace("tenants/jyj.yaml", "tier: small", "tier: [small"), "tenants/jyj.yaml", "",
         "malformed YAML"),
    Case("yaml-bomb", write("tenants/jyj.yaml", BOMB), "tenants/jyj.yaml", "", "alias bomb"),
    Case("duplicate-key", replace("tenants/jyj.yaml", "  tier: small\n", "  tier: small\n  tier: medium\n"),
         "tenants/jyj.yaml", "spec.tier", "duplicate key"),
    Case("unknown-key-typo", replace("tenants/czj.yaml", "network: {floatingIps: 0}", "network: {floatingIp: 0}"),
         "tenants/czj.yaml", "spec.openstack.quota.network.floatingIp", "unknown key"),
    Case("wrong-type", replace("tenants/czj.yaml", "compute: {cores: 48}", "compute: {cores: many}"),
         "tenants/czj.yaml", "spec.openstack.quota.compute.cores"),
    Case("string-number", replace("tenants/czj.yaml", "compute: {cores: 48}", 'compute: {cores: "48"}'),
         "tenants/czj.yaml", "spec.openstack.quota.compute.cores"),
    Case("negative-quota", replace("tenants/czj.yaml", "compute: {cores: 48}", "compute: {cores: -5}"),
         "tenants/czj.yaml", "spec.openstack.quota.compute.cores", "must be >= -1"),
    Case("bad-cidr", replace("tenants/wjw.yaml", "10.22.1.0/24", "10.22.1.300/24"), "tenants/wjw.yaml",
         "spec.openstack.networks[0].cidr"),
    Case("cidr-host-bits", replace("tenants/wjw.yaml", "10.22.1.0/24", "10.22.1.5/24"), "tenants/wjw.yaml",
         "spec.openstack.networks[0].cidr", "host bits"),
    Case("public-cidr", replace("tenants/wjw.yaml", "10.22.1.0/24", "8.8.8.0/24"), "tenants/wjw.yaml",
         "spec.openstack.networks[0].cidr", "private"),
    Case("cidr-outside-pool", replace("tenants/wjw.yaml", "10.22.1.0/24", "192.168.7.0/24"), "tenants/wjw.yaml",
         "spec.openstack.networks[0].cidr", "outside every platform ipPool"),
    Case("overlapping-cidr", replace("tenants/wjw.yaml", "10.22.1.0/24", "10.20.1.128/25"), "tenants/wjw.yaml",
         "spec.openstack.networks[0].cidr", "overlaps 10.20.1.0/24 of tenant czj"),
    Case("namespace-prefix", replace("tenants/jyj.yaml", "name: jyj-enroll", "name: enroll"), "tenants/jyj.yaml",
         "spec.kubernetes.namespaces[0].name", "must start with 'jyj-'"),
    Case("namespace-clash", replace("tenants/zwfw.yaml", "name: zwfw-portal", "name: czj-prod"),
         "tenants/zwfw.yaml", "spec.kubernetes.namespaces[0].name"),
    Case("parent-cycle", replace("tenants/czj.yaml", "  orgCode: 11330100MB0012345H\n",
                                 "  orgCode: 11330100MB0012345H\n  parent: xhczj\n"),
         "tenants/czj.yaml", "metadata.parent", "parent cycle"),
    Case("unknown-parent", replace("tenants/xhczj.yaml", "parent: czj", "parent: shczj"), "tenants/xhczj.yaml",
         "metadata.parent", "not in the tenant set"),
    Case("unknown-cloud", replace("tenants/daj.yaml", "cloud: gov-east", "cloud: gov-west"), "tenants/daj.yaml",
         "spec.openstack.cloud", "unknown cloud"),
    Case("unknown-cluster", replace("tenants/scjgj.yaml", "cluster: gov-k8s", "cluster: gov-k9s"),
         "tenants/scjgj.yaml", "spec.kubernetes.cluster", "unknown cluster"),
    Case("unknown-tier", replace("tenants/daj.yaml", "tier: small", "tier: huge"), "tenants/daj.yaml", "spec.tier",
         "unknown tier"),
    Case("unknown-external-network", replace("tenants/jyj.yaml", "externalNetwork: gov-extranet",
                                             "externalNetwork: internet"),
         "tenants/jyj.yaml", "spec.openstack.router.externalNetwork", "unknown external network"),
    Case("unknown-role", replace("tenants/jyj.yaml", "role: admin", "role: root"), "tenants/jyj.yaml",
         "spec.access[0].role", "unknown role"),
    Case("bad-orgcode", replace("tenants/jyj.yaml", "11330100MB0045678U", "11330100MB0045678A"),
         "tenants/jyj.yaml", "metadata.orgCode", "check digit"),
    Case("oversized-file", append("tenants/jyj.yaml", "#" * (1024 * 1024) + "\n"), "tenants/jyj.yaml", "",
         "1 MiB"),
    Case("python-tag", replace("tenants/jyj.yaml", "tier: small", "tier: !!python/object/apply:os.system [id]"),
         "tenants/jyj.yaml", "spec.tier", "not allowed"),
    Case("name-not-stem", replace("tenants/jyj.yaml", "name: jyj\n", "name: jyj2\n"), "tenants/jyj.yaml",
         "metadata.name", "must equal the file name"),
    Case("bad-name", replace("tenants/jyj.yaml", "name: jyj\n", "name: JYJ\n"), "tenants/jyj.yaml",
         "metadata.name", "DNS-1123"),
    Case("level-out-of-range", replace("tenants/jyj.yaml", "mlpsLevel: 2", "mlpsLevel: 5"), "tenants/jyj.yaml",
         "spec.mlpsLevel"),
    Case("level-above-platform", replace("tenants/jyj.yaml", "mlpsLevel: 2", "mlpsLevel: 4"), "tenants/jyj.yaml",
         "spec.mlpsLevel", "exceeds the platform"),
    Case("not-utf8", write("tenants/jyj.yaml", "metadata:\n  displayName: 市教育局\n".encode("gbk")),
         "tenants/jyj.yaml", "", "UTF-8"),
    Case("namespaces-over-tenant-quota", replace("tenants/scjgj.yaml", 'quota: {requests.cpu: "12"',
                                                 'quota: {requests.cpu: "10"'),
         "tenants/scjgj.yaml", "spec.kubernetes.quota.requests.cpu", "over the tenant-wide"),
    Case("subunit-over-parent", replace("tenants/xhczj.yaml", "tier: small", "tier: large"), "tenants/xhczj.yaml",
         "spec.openstack.quota.compute.cores", "parent grants"),
    Case("subunit-kubernetes-over-parent",
         append("tenants/xhczj.yaml", "  kubernetes:\n    cluster: gov-k8s\n    namespaces:\n"
                "      - {name: xhczj-apps, quota: {requests.cpu: \"16\", requests.memory: 8Gi}}\n"
                "    quota: {requests.cpu: \"30\", requests.memory: 8Gi}\n"),
         "tenants/xhczj.yaml", "spec.kubernetes.quota.requests.cpu", "over the 24 the parent grants"),
    Case("subunit-kubernetes-unbounded",
         append("tenants/xhczj.yaml", "  kubernetes:\n    cluster: gov-k8s\n    namespaces:\n"
                "      - {name: xhczj-apps, quota: {pods: \"10\"}}\n"),
         "tenants/xhczj.yaml", "spec.kubernetes.namespaces[0].quota", "parent czj bounds it to 24"),
    Case("bad-quantity", replace("tenants/jyj.yaml", "requests.memory: 8Gi", "requests.memory: 8GB"),
         "tenants/jyj.yaml", "spec.kubernetes.namespaces[0].quota.requests.memory", "quantity"),
    Case("bad-email", replace("tenants/jyj.yaml", "linxiao@jyj.hz.gov.cn", "linxiao-at-jyj"), "tenants/jyj.yaml",
         "spec.contacts.owner.email", "e-mail"),
    Case("bad-port", replace("tenants/wjw.yaml", 'ports: "443"', 'ports: "70000"'), "tenants/wjw.yaml",
         "spec.openstack.securityGroups[0].rules[0].ports"),
    Case("missing-display-name", replace("tenants/jyj.yaml", "  displayName: 市教育局\n", ""), "tenants/jyj.yaml",
         "metadata.displayName", "required"),
    Case("wrong-api-version", replace("tenants/jyj.yaml", "govcloud/v1", "govcloud/v2"), "tenants/jyj.yaml",
         "apiVersion"),
    Case("merge-key", replace("tenants/jyj.yaml", "  tier: small\n", "  <<: {tier: small}\n"), "tenants/jyj.yaml",
         "spec", "merge keys"),
    Case("empty-file", write("tenants/jyj.yaml", ""), "tenants/jyj.yaml", "", "empty"),
    Case("list-document", write("tenants/jyj.yaml", "- a\n- b\n"), "tenants/jyj.yaml", "", "mapping"),
    Case("bad-date", replace("tenants/czj.yaml", "expires: 2027-03-31", "expires: 2027-02-30"), "tenants/czj.yaml",
         "spec.interconnects[0].expires"),
    Case("platform-unknown-key", replace("platform.yaml", "mlpsLevel: 3", "mlpsLevl: 3"), "platform.yaml",
         "spec.mlpsLevl", "unknown key"),
    Case("control-character", replace("tenants/jyj.yaml", "displayName: 市教育局", 'displayName: "市教育局\\e[2J"'),
         "tenants/jyj.yaml", "metadata.displayName", "control character U+001B"),
    Case("too-deep", replace("tenants/jyj.yaml", "tier: small", "tier: " + "[" * 200 + "]" * 200),
         "tenants/jyj.yaml", "spec.tier", "levels deep"),
]


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_clearly(case: Case, workspace: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    case.edit(workspace)
    before = snapshot(workspace)
    result = run_cli("validate", "tenants", "--platform", "platform.yaml")
    assert result.code == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if case.file in line]
    assert lines, f"no error names {case.file}: {result.stderr}"
    matching = [line for line in lines if case.field in line and case.words in line]
    assert matching, f"expected field {case.field!r} and {case.words!r} in: {result.stderr}"
    if case.field:
        assert any(f"{case.file}:" in line and f" {case.field}:" in line for line in matching), result.stderr
    assert snapshot(workspace) == before, "bad input must not write anything"


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
