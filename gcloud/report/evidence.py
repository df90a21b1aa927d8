"""The MLPS 2.0 evidence table: each level-3 requirement govcloud serves, and what evidences it.

The mapping is reviewed data, like the policies: a requirement names the policies and the live checks that
show it is met. A policy named here but missing from the loaded set is shown as evidence that failed ("not
loaded"), so deleting a policy cannot silently empty a row of the auditors' table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gcloud.policy.finding import FLEET, CheckResult, Status

from .data import AuditInfo, Evidence, Requirement
from .sources import LiveCheck

AUDIT_CHECK = "audit-log-verify"
"""The audit trail's own live check: `audit verify` over the state's log."""


@dataclass(frozen=True)
class RequirementSpec:
    key: str
    title: str
    title_zh: str
    clauses: tuple[str, ...]
    policies: tuple[str, ...]
    live: tuple[str, ...]


REQUIREMENTS: tuple[RequirementSpec, ...] = (
    RequirementSpec(
        "segmentation", "Segmentation between tenants and at the boundary", "网络隔离与区域边界",
        ("8.2.2.1 b) 应实现不同云服务客户虚拟网络之间的隔离",
         "8.1.3.1 a) 跨越边界的访问和数据流通过受控接口", "8.1.3.2 a) 默认情况下受控接口拒绝所有通信"),
        ("GOV-NET-001", "GOV-NET-003", "GOV-NET-009", "GOV-NET-011", "GOV-K8S-003"),
        ("neutron-token-networks", "k8s-default-deny")),
    RequirementSpec(
        "access-control", "Access control and least privilege", "访问控制",
        ("8.1.4.2 a) 应对登录的用户分配账户和权限", "8.1.4.2 d) 应授予管理用户所需的最小权限",
         "8.1.4.4 c) 对管理终端进行限制"),
        ("GOV-IAM-001", "GOV-IAM-003", "GOV-IAM-004", "GOV-IAM-006", "GOV-NET-004"),
        ("keystone-token-projects", "keystone-foreign-assignments", "k8s-own-access", "k8s-cross-tenant-access")),
    RequirementSpec(
        "three-admins", "Three-administrator separation (system, security, audit)", "三员分立",
        ("8.1.7.1 c) 应设立系统管理员、审计管理员和安全管理员等岗位", "8.1.7.2 b) 应配备专职安全管理员，不可兼任"),
        ("GOV-IAM-002", "GOV-IAM-005"),
        ()),
    RequirementSpec(
        "audit", "Security audit: a tamper-evident trail of every change", "安全审计",
        ("8.1.3.5 a) 审计覆盖到每个用户", "8.1.4.3 安全审计", "8.1.10.10 a) 变更方案经过评审、审批后方可实施"),
        ("GOV-IAM-005",),
        (AUDIT_CHECK,)),
    RequirementSpec(
        "level-placement", "Level placement: no system above its platform's level", "定级与等级匹配",
        ("8.1.9.1 定级和备案", "8.2.2.1 a) 应保证云计算平台不承载高于其安全保护等级的业务应用系统"),
        ("GOV-LVL-001", "GOV-LVL-002", "GOV-LVL-003"),
        ()),
)


def _names(names: Sequence[str]) -> str:
    listed = ", ".join(name or "(fleet)" for name in names[:6])
    return listed + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def policy_evidence(result: CheckResult, policy_id: str) -> Evidence:
    """A policy's result over the tenants it judged: how many pass (waived counts as passing, noted)."""
    policy = next((p for p in result.policies if p.id == policy_id), None)
    if policy is None:
        return Evidence("policy", policy_id, "", "not loaded: the policy set has no such policy", False)
    judged = result.evaluated.get(policy_id, ())
    mine = [f for f in result.findings if f.policy_id == policy_id and not f.field.startswith("spec.exceptions[")]
    failing = sorted({f.tenant for f in mine if f.status in (Status.FAIL, Status.ERROR)})
    waived = sorted({f.tenant for f in mine if f.status is Status.WAIVED})
    if not judged:
        return Evidence("policy", policy_id, policy.spec.title, "no tenant in its scope", True)
    if judged == (FLEET,):
        text = "fails" if failing else "passes"
        return Evidence("policy", policy_id, policy.spec.title, f"fleet rule {text}", not failing)
    text = f"{len(judged) - len(failing)}/{len(judged)} tenants pass"
    if failing:
        text += f"; failing: {_names(failing)}"
    if waived:
        text += f"; waived: {_names(waived)}"
    if failing and policy.enforcement != "mandatory":  # advisory: a gap to note, not a requirement failed
        return Evidence("policy", policy_id, policy.spec.title, text + " (advisory)", None)
    return Evidence("policy", policy_id, policy.spec.title, text, not failing)


def live_evidence(check: str, live: Sequence[LiveCheck] | None, audit: AuditInfo | None) -> Evidence:
    if check == AUDIT_CHECK:
        if audit is None:
            return Evidence("live", check, "audit log verification", "no audit log yet", None)
        return Evidence("live", check, "audit log verification",
                        f"{'intact' if audit.ok else 'BROKEN'}: {audit.entries} entries; {audit.reason}", audit.ok)
    title = check.replace("-", " ")
    if live is None:
        return Evidence("live", check, title, "not checked yet (govcloud verify)", None)
    results = [item for item in live if item.check == check]
    if not results:
        return Evidence("live", check, title, "not checked yet (govcloud verify)", None)
    failing = sorted({item.tenant for item in results if not item.passed})
    text = f"{len(results) - len(failing)}/{len(results)} pass" + (f"; failing: {_names(failing)}" if failing else "")
    return Evidence("live", check, title, text, not failing)


def evidence_table(result: CheckResult, live: Sequence[LiveCheck] | None, audit: AuditInfo | None,
                   requirements: Sequence[RequirementSpec] = REQUIREMENTS) -> tuple[Requirement, ...]:
    return tuple(
        Requirement(spec.key, spec.title, spec.title_zh, spec.clauses,
                    (*(policy_evidence(result, pid) for pid in spec.policies),
                     *(live_evidence(check, live, audit) for check in spec.live)))
        for spec in requirements)

