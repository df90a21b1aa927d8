"""The report: collected from the example fleet, rendered as HTML (escaped, self-contained) and Markdown."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import yaml

from gcloud.audit import AuditEvent, AuditLog
from gcloud.plan.record import AppliedTenant, update_record
from gcloud.report.collect import CHANGES_SHOWN, build_report
from gcloud.report.data import AuditInfo, DriftInfo, ReportData, RequestRow
from gcloud.report.render import md_escape, render
from gcloud.report.sources import LiveCheck, Sources
from tests.conftest import REPO

TODAY = dt.date(2026, 12, 1)
HOSTILE = '市教育局<script>alert(1)</script>{{ 7*7 }}{% raw %}|x'


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "tenants", tmp_path / "tenants")
    return tmp_path


def report(root: Path, **readers: object) -> ReportData:
    sources = dataclasses.replace(Sources(root / "state", root / "requests"), **readers)  # type: ignore[arg-type]
    return build_report([root / "tenants"], REPO / "platform.yaml", REPO / "policies", sources, TODAY)


def hostile(root: Path) -> None:
    path = root / "tenants" / "jyj.yaml"
    quoted = HOSTILE.replace('"', '\\"')
    path.write_text(path.read_text(encoding="utf-8").replace("displayName: 市教育局", f'displayName: "{quoted}"'),
                    encoding="utf-8")


def test_html_escapes_hostile_tenant_text_and_never_renders_it_as_a_template(fleet_dir: Path) -> None:
    hostile(fleet_dir)
    page = render(report(fleet_dir), "html")
    assert "<script" not in page, "no script at all: neither the page's own nor an injected one"
    assert "市教育局&lt;script&gt;alert(1)&lt;/script&gt;{{ 7*7 }}{% raw %}|x" in page
    assert "市数据资源管理局（大数据局）" in page and "面向公众的政务服务门户，仅开放 443，前置 WAF" in page


def test_html_is_self_contained(fleet_dir: Path) -> None:
    page = render(report(fleet_dir), "html")
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//)""", page), "no external asset or link"
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert page.count("<svg") >= 30 and "<style>" in page


def test_markdown_has_the_same_content_with_values_escaped(fleet_dir: Path) -> None:
    hostile(fleet_dir)
    data = report(fleet_dir)
    text = render(data, "md")
    assert text.startswith("# 杭州市政务云 (city-gov-cloud)")
    for heading in ("## Fleet summary", "## Quota allocated against capacity", "## MLPS 2.0 evidence",
                    "## Open quota requests", "## Audit trail", "## Tenants"):
        assert heading in text
    assert "市教育局&lt;script&gt;alert(1)&lt;/script&gt;{{ 7\\*7 }}{% raw %}\\|x" in text
    assert text.count("\n### ") >= len(data.tenants) + len(data.pools)
    tables, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(len(re.findall(r"(?<!\\)\|", line)))
        elif block:
            tables.append(block)
            block = []
    assert len(tables) > 20 and all(len(set(columns)) == 1 for columns in tables), "a value never adds a column"
    assert "| `GOV-NET-003` | SEC-2026-017 | 市大数据局网络安全处 | 2027-04-30 | live" in text


def test_md_escape_keeps_chinese_and_neutralises_table_and_html_syntax() -> None:
    assert md_escape("市公安局") == "市公安局"
    assert md_escape("a|b\n<i>*c*</i>") == "a\\|b &lt;i&gt;\\*c\\*&lt;/i&gt;"


def test_collect_reads_applies_waivers_people_quotas_and_evidence(fleet_dir: Path) -> None:
    state = fleet_dir / "state"
    first = report(fleet_dir)
    czj = next(t for t in first.tenants if t.name == "czj")
    update_record(state, {"czj": AppliedTenant(czj_digest(fleet_dir), {}, "2026-11-30T10:00:00Z"),
                          "gaj": AppliedTenant("0" * 64, {}, "2026-11-01T08:00:00Z")})
    data = report(fleet_dir)
    by_name = {t.name: t for t in data.tenants}
    assert by_name["czj"].last_apply is not None and by_name["czj"].last_apply.current
    assert by_name["gaj"].last_apply is not None and not by_name["gaj"].last_apply.current
    assert by_name["wjw"].last_apply is None and by_name["wjw"].drift is None
    assert data.summary.applied == 1 and data.summary.pending == 8
    contacts = yaml.safe_load((fleet_dir / "tenants" / "czj.yaml").read_text(encoding="utf-8"))["spec"]["contacts"]
    assert [p.name for p in czj.people] == [contacts[k]["name"] for k in
                                            ("owner", "systemAdmin", "securityAdmin", "auditAdmin")]
    assert [p.role.split()[0] for p in czj.people] == ["owner", "system", "security", "audit"]
    assert by_name["wjw"].people[2].name is None, "a level-2 tenant without a security administrator"
    cores = next(m for m in data.pools[0].meters if m.key == "cores")
    assert cores.limit == 2048 * 4.0 and cores.capacity == 2048
    assert cores.allocated == sum(next(m.allocated for m in t.quotas[0].meters if m.key == "cores")
                                  for t in data.tenants if t.quotas and t.quotas[0].kind == "OpenStack")
    zwfw = by_name["zwfw"]
    assert [(w.policy_id, w.state) for w in zwfw.waivers] == [("GOV-NET-003", "live")]
    assert next(p for p in zwfw.policies if p.policy_id == "GOV-NET-003").status == "waived"
    assert zwfw.count("mandatory", False) == 0 and zwfw.count("advisory", False) == 1
    assert {r.key for r in data.evidence} == {"segmentation", "access-control", "three-admins", "audit",
                                              "level-placement"}


def test_the_page_says_who_changed_what_under_which_ticket_from_the_audit_trail(
        fleet_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = fleet_dir / "state"
    monkeypatch.setenv("GOVCLOUD_STATE_DIR", str(state))
    monkeypatch.delenv("GOVCLOUD_AUDIT_LOG", raising=False)
    monkeypatch.delenv("GOVCLOUD_AUDIT_KEY", raising=False)
    digest = czj_digest(fleet_dir)
    update_record(state, {"czj": AppliedTenant(digest, {}, "2026-11-30T10:00:00Z")})
    log = AuditLog.at(state)
    log.append_many(AuditEvent("ops-bot", "drift.check", "gaj", "success") for _ in range(CHANGES_SHOWN))
    log.append(AuditEvent("李四", "quota.request", "czj", "success", ticket="CHG-1",
                          detail={"request": "czj-20261201-1", "changes": "compute.cores=300", "state": "open"}))
    log.append(AuditEvent("王五", "apply", "czj", "success", "0" * 64, digest, "CHG-1",
                          changes=[("update", "Quota", "czj-quota-compute"), ("update", "Project", "czj-project"),
                                   ("create", "Group", "czj-a"), ("create", "Group", "czj-b")]))
    log.append(AuditEvent("mallory", "apply", "czj", "refused", digest, digest))
    data = report(fleet_dir)
    assert data.changes is not None and data.changes.total == CHANGES_SHOWN + 3
    newest = data.changes.rows[:3]
    assert [(c.actor, c.action, c.tenant, c.ticket, c.outcome) for c in newest] == [
        ("mallory", "apply", "czj", "", "refused"), ("王五", "apply", "czj", "CHG-1", "success"),
        ("李四", "quota.request", "czj", "CHG-1", "success")]
    assert newest[1].what == "2 create, 2 update: Quota czj-quota-compute, Project czj-project, Group czj-a and 1 more"
    assert newest[2].what == "czj-20261201-1 · compute.cores=300 · open"
    assert len(data.changes.rows) == CHANGES_SHOWN, "the page lists the newest; `audit show` the rest"
    czj = next(t for t in data.tenants if t.name == "czj").last_apply
    assert czj is not None and (czj.actor, czj.ticket) == ("王五", "CHG-1"), "the last successful apply of this spec"
    page = render(data, "html")
    assert 'id="changes-table"' in page and f"the newest {CHANGES_SHOWN} of {CHANGES_SHOWN + 3}" in page
    assert "by 王五 under CHG-1" in page and "by 王五 under CHG-1" in render(data, "md")
    only_gaj = build_report([fleet_dir / "tenants" / "gaj.yaml"], REPO / "platform.yaml", REPO / "policies",
                            Sources(state, fleet_dir / "requests"), TODAY)
    assert only_gaj.changes is not None and {c.tenant for c in only_gaj.changes.rows} == {"gaj"}


def test_without_an_audit_trail_the_page_says_no_change_is_recorded(fleet_dir: Path) -> None:
    data = report(fleet_dir, audit_entries=lambda state: [])
    assert data.changes is not None and data.changes.rows == ()
    assert "No change recorded yet." in render(data, "html")
    unreadable = report(fleet_dir, audit_entries=lambda state: None)
    assert unreadable.changes is None and "could not be read for its changes" in render(unreadable, "md")


def czj_digest(root: Path) -> str:
    from gcloud.model import load_fleet

    return load_fleet([root / "tenants"], REPO / "platform.yaml").get("czj").digest


def test_waivers_expiring_within_30_days_are_highlighted(fleet_dir: Path) -> None:
    data = report(fleet_dir)
    soon = build_report([fleet_dir / "tenants"], REPO / "platform.yaml", REPO / "policies",
                        Sources(fleet_dir / "state", fleet_dir / "requests"), dt.date(2027, 4, 10))
    zwfw = next(t for t in soon.tenants if t.name == "zwfw")
    assert [(w.state, w.days_left) for w in zwfw.waivers] == [("expiring", 20)]
    assert soon.summary.waivers_expiring == 1 and data.summary.waivers_expiring == 0
    assert 'class="waiver expiring"' in render(soon, "html")


def test_readers_feed_drift_requests_audit_and_live_checks(fleet_dir: Path) -> None:
    row = RequestRow("wjw-20261201-1", "wjw", "李雷", "2026-12-01", "门诊高峰", "OPS-1", "compute.cores 64 → 128",
                     "open", "none yet", "ops, security")
    data = report(
        fleet_dir,
        drift=lambda state, tenant: DriftInfo("2026-12-01", tenant == "gaj", "1 field changed"),
        requests=lambda folder: (row,),
        audit=lambda state: AuditInfo(False, 12, 7, "entry 7 was edited"),
        live_checks=lambda state: (LiveCheck("czj", "k8s-default-deny", True, "ok"),
                                   LiveCheck("gaj", "k8s-default-deny", False, "missing")))
    assert next(t for t in data.tenants if t.name == "gaj").drift == DriftInfo("2026-12-01", True, "1 field changed")
    assert data.summary.open_requests == 1 and "BROKEN at line 7" in data.summary.audit
    segmentation = next(r for r in data.evidence if r.key == "segmentation")
    live = next(e for e in segmentation.evidence if e.name == "k8s-default-deny")
    assert (live.ok, live.result) == (False, "1/2 pass; failing: gaj") and segmentation.verdict == "not met"
    audit = next(r for r in data.evidence if r.key == "audit")
    assert audit.verdict == "not met"
    page = render(data, "html")
    assert "wjw-20261201-1" in page and "门诊高峰" in page and "DRIFTED" in page
    assert "门诊高峰" in render(data, "md")


def test_the_cli_writes_the_page_and_a_bad_format_is_a_usage_error(fleet_dir: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(REPO / "platform.yaml", fleet_dir / "platform.yaml")
    shutil.copytree(REPO / "policies", fleet_dir / "policies")
    result = run_cli("report", "--out", "out/report.md", "--format", "md", "--state-dir", "state",
                     "--today", "2026-12-01", cwd=fleet_dir)
    assert result.code == 0, result.stderr
    assert (fleet_dir / "out" / "report.md").read_text(encoding="utf-8").startswith("# 杭州市政务云")
    assert run_cli("report", "--format", "pdf", cwd=fleet_dir).code == 2


def _meter(pools, pool: str, key: str):  # type: ignore[no-untyped-def]
    return next(m for p in pools if p.name == pool for m in p.meters if m.key == key)


def test_live_usage_is_shown_per_tenant_and_summed_for_a_pool_only_where_every_tenant_was_read(
        fleet_dir: Path) -> None:
    def partly(doc, platform):  # type: ignore[no-untyped-def]
        return {"gov-east": {"cores": 10.0}} if doc.name == "czj" else None

    data = report(fleet_dir, usage=partly)
    czj = next(t for t in data.tenants if t.name == "czj")
    assert _meter(czj.quotas, "gov-east", "cores").used == 10.0
    assert _meter(czj.quotas, "gov-east", "cores").used_text != "not known"
    assert _meter(data.pools, "gov-east", "cores").used is None, "other tenants on gov-east were not read"

    everyone = report(fleet_dir, usage=lambda doc, platform: {"gov-east": {"cores": 3.0}, "gov-k8s": {"pods": 2.0}})
    on_east = sum(1 for t in everyone.tenants if "OpenStack gov-east" in t.clouds)
    assert on_east >= 2 and _meter(everyone.pools, "gov-east", "cores").used == 3.0 * on_east
    on_k8s = sum(1 for t in everyone.tenants if "Kubernetes gov-k8s" in t.clouds)
    assert _meter(everyone.pools, "gov-k8s", "pods").used == 2.0 * on_k8s


def test_the_evidence_table_reads_the_checks_govcloud_verify_kept(fleet_dir: Path) -> None:
    from gcloud.state.backend import put_result

    assert all(e.result.startswith("not checked yet") for r in report(fleet_dir).evidence for e in r.evidence
               if e.kind == "live" and e.name != "audit-log-verify")
    state = fleet_dir / "state"
    put_result("verify", "czj", {"checked_at": "2026-12-01T08:00:00+00:00", "checks": [
        {"tenant": "czj", "check": "k8s-default-deny", "passed": True, "detail": "ok"},
        {"tenant": "czj", "check": "neutron-token-networks", "passed": False, "detail": "sees sjj-app"}]},
        state_dir=state)
    put_result("verify", "gaj", {"checked_at": "2026-12-01T08:00:00+00:00", "checks": [
        {"tenant": "gaj", "check": "k8s-default-deny", "passed": True, "detail": "ok"}]}, state_dir=state)
    segmentation = next(r for r in report(fleet_dir).evidence if r.key == "segmentation")
    live = {e.name: (e.ok, e.result) for e in segmentation.evidence if e.kind == "live"}
    assert live == {"k8s-default-deny": (True, "2/2 pass"), "neutron-token-networks": (False, "0/1 pass; failing: czj")}


def test_a_fleet_rule_that_holds_back_a_tenant_fails_in_the_fleet_rows(fleet_dir: Path) -> None:
    path = fleet_dir / "tenants" / "wjw.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("remoteCidr: 10.1.0.0/16}", "remoteCidr: 10.0.0.0/8}"),
                    encoding="utf-8")
    row = next(r for r in report(fleet_dir).fleet_policies if r.policy_id == "GOV-NET-014")
    assert row.status == "fail" and row.message.endswith("(held back: wjw)")
