"""Synthetic tenant sets for benchmarks: N realistic, valid, non-overlapping department files.

Usage: python -m bench.generate OUT_DIR N
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from gcloud.model.orgcode import check_character

PLATFORM = """\
apiVersion: govcloud/v1
kind: Platform
metadata: {{name: bench-cloud, displayName: 基准测试政务云}}
spec:
  mlpsLevel: 3
  openstack:
    clouds:
      - name: gov-east
        cleanupCloud: gov-east-admin
        externalNetworks: [gov-extranet]
        capacity: {{cores: {cores}, ramMB: {ram}, instances: {instances}, gigabytes: {gigabytes}, floatingIps: 4096}}
        overcommit: {{cores: 4.0, ramMB: 1.5}}
  kubernetes:
    clusters:
      - name: gov-k8s
        capacity: {{requests.cpu: "{cpu}", requests.memory: {memory}Gi, pods: "{pods}"}}
  ipPools:
    - {{name: tenants, cidr: 10.0.0.0/8, prefixLength: 24}}
  adminNetworks: [192.168.0.0/16]
  officialEmailDomains: [gov.cn]
  tiers:
    small:
      compute: {{instances: 5, cores: 16, ramMB: 32768}}
      blockStorage: {{volumes: 10, gigabytes: 500, snapshots: 10}}
      network: {{networks: 3, subnets: 6, ports: 50, routers: 1, floatingIps: 0,
                 securityGroups: 10, securityGroupRules: 100}}
    medium:
      compute: {{instances: 20, cores: 64, ramMB: 131072}}
      blockStorage: {{volumes: 40, gigabytes: 2000, snapshots: 20}}
      network: {{networks: 4, subnets: 8, ports: 200, routers: 1, floatingIps: 0,
                 securityGroups: 20, securityGroupRules: 200}}
  roles:
    admin:  {{keystone: manager, kubernetes: admin}}
    member: {{keystone: member,  kubernetes: edit}}
    reader: {{keystone: reader,  kubernetes: view}}
  allowedRegistries: [harbor.gov.local]
"""

HEADER = """\
apiVersion: govcloud/v1
kind: Tenant
metadata:
  name: {name}
  displayName: 第{index}号委办局
  orgCode: {org}
  labels: {{environment: prod, generated: "true"}}
spec:
  mlpsLevel: {level}
  tier: {tier}
  contacts:
    owner:         {{name: 张{index}, email: owner{index}@{name}.gov.cn}}
    systemAdmin:   {{name: 李{index}, email: sys{index}@{name}.gov.cn}}
"""
"""What every synthetic tenant starts with; the rest of the file (still inside `contacts`) follows it."""

TENANT = HEADER + """\
    securityAdmin: {{name: 王{index}, email: sec{index}@{name}.gov.cn}}
    auditAdmin:    {{name: 赵{index}, email: audit{index}@{name}.gov.cn}}
  access:
    - {{group: {name}-admins, role: admin}}
    - {{group: {name}-staff, role: member}}
    - {{group: {name}-auditors, role: reader}}
  openstack:
    cloud: gov-east
    quota:
      compute: {{cores: {cores}}}
      network: {{floatingIps: 0}}
    networks:
      - {{name: app, cidr: 10.{a}.{b}.0/24, dnsNameservers: [10.255.0.2]}}
      - {{name: db, cidr: 10.{a}.{b1}.0/24}}
      - {{name: mgmt}}
    router: {{externalNetwork: gov-extranet, snat: false}}
    securityGroups:
      - name: web
        removeDefaultEgress: true
        rules:
          - {{direction: ingress, protocol: tcp, ports: "443", remoteCidr: 10.0.0.0/8}}
          - {{direction: egress, protocol: tcp, ports: "5432", remoteCidr: 10.{a}.{b1}.0/24}}
  kubernetes:
    cluster: gov-k8s
    namespaces:
      - name: {name}-prod
        quota: {{requests.cpu: "8", requests.memory: 16Gi, limits.cpu: "16", limits.memory: 32Gi, pods: "100"}}
        limitRange: {{defaultCpu: 500m, defaultMemory: 512Mi, defaultRequestCpu: 100m, defaultRequestMemory: 128Mi}}
        podSecurity: restricted
        imageRegistries: [harbor.gov.local]
      - name: {name}-test
        quota: {{requests.cpu: "2", requests.memory: 4Gi, pods: "20"}}
        limitRange: {{defaultCpu: 200m, defaultMemory: 256Mi, defaultRequestCpu: 50m, defaultRequestMemory: 64Mi}}
        podSecurity: restricted
    quota: {{requests.cpu: "10", requests.memory: 20Gi}}
    networkIsolation: tenant
  lifecycle:
    preventDeletion: true
"""


def org_code(index: int) -> str:
    """A valid GB 32100 code, unique per index."""
    base = f"11330100MB{index:07d}"
    return base + check_character(base)


def tenant_text(index: int) -> str:
    """The file of synthetic tenant number `index` (two explicit /24s, one allocated)."""
    block = 2 * index + 256  # leave 10.0.x.0/24 free for the allocated networks
    return TENANT.format(name=f"t{index:05d}", index=index, org=org_code(index),
                         level=3 if index % 3 == 0 else 2, tier="medium" if index % 2 else "small",
                         cores=32 + index % 4 * 8, a=block // 256, b=block % 256, b1=block % 256 + 1)


DUTIES = ("    - {{group: {name}-admins, role: admin, duty: system}}\n"
          "    - {{group: {name}-security, role: admin, duty: security}}\n"
          "    - {{group: {name}-auditors, role: reader, duty: audit}}\n")
"""The three administrative duties in three groups, as GOV-IAM-007 asks from level 2."""


def with_duties(text: str, name: str) -> str:
    """A tenant file (text) whose access gives the three duties to three groups; its other groups are kept."""
    head, _, rest = text.partition("  access:\n")
    lines = rest.splitlines(keepends=True)
    n = 0
    while n < len(lines) and lines[n].startswith("    - "):
        n += 1
    kept = [line for line in lines[:n] if f"{name}-admins," not in line and f"{name}-auditors," not in line]
    return head + "  access:\n" + DUTIES.format(name=name) + "".join(kept) + "".join(lines[n:])


def fleet_tenant_text(index: int) -> str:
    """`tenant_text` that a fleet of its kind passes as today's policies stand: the three duties in three groups
    (GOV-IAM-007), storage and claims quotas in every namespace (GOV-QUOTA-005), and the web ingress from the
    tenant's own two /24s instead of 10.0.0.0/8 (no cross-tenant flow without an interconnect, GOV-NET-014)."""
    block = 2 * index + 256
    text = tenant_text(index).replace("remoteCidr: 10.0.0.0/8", f"remoteCidr: 10.{block // 256}.{block % 256}.0/23")
    text = re.sub(r'(pods: "[0-9]+")}', r'\1, requests.storage: 100Gi, persistentvolumeclaims: "10"}', text)
    return with_duties(text, f"t{index:05d}")


def generate_fleet(out_dir: Path, n: int, passing: bool = False) -> None:
    """Write platform.yaml and tenants/t00000.yaml ... for n tenants into out_dir (`passing`: tenants that pass
    today's policies, `fleet_tenant_text`; else `tenant_text`, which later policies fail)."""
    tenants = out_dir / "tenants"
    tenants.mkdir(parents=True, exist_ok=True)
    (out_dir / "platform.yaml").write_text(PLATFORM.format(
        cores=64 * n, ram=262144 * n, instances=20 * n, gigabytes=4000 * n, cpu=12 * n, memory=24 * n,
        pods=130 * n), encoding="utf-8")
    for index in range(n):
        text = fleet_tenant_text(index) if passing else tenant_text(index)
        (tenants / f"t{index:05d}.yaml").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    generate_fleet(Path(sys.argv[1]), int(sys.argv[2]))
