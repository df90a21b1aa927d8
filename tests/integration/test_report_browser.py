"""The report in a real browser: Debian's chromium, headless, through Selenium and the system chromedriver.

No cloud is needed for the report itself, so no sandbox: the page is made from the example tenants.
scripts/install-browser.sh (run by scripts/test) installs chromium and chromium-driver on a fresh machine.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

WIDTH = 1280


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "chromium and chromedriver are missing: run scripts/install-browser.sh"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={WIDTH},900", "--hide-scrollbars"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(options=options, service=Service(driver))
    session.set_page_load_timeout(30)
    try:
        yield session
    finally:
        session.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the example tenants, with one hostile display name and a short audit trail."""
    import datetime as dt

    from gcloud.audit import AuditEvent, AuditLog
    from gcloud.report.collect import build_report
    from gcloud.report.render import render
    from gcloud.report.sources import Sources

    root = tmp_path_factory.mktemp("report")
    shutil.copytree(REPO / "tenants", root / "tenants")
    jyj = root / "tenants" / "jyj.yaml"
    jyj.write_text(jyj.read_text(encoding="utf-8").replace(
        "displayName: 市教育局", 'displayName: "市教育局<script>console.error(1)</script>{{ 7*7 }}"'), encoding="utf-8")
    log = AuditLog.at(root / "state", environ={})
    log.append(AuditEvent("李四", "quota.request", "czj", "success", ticket="CHG-2026-0107",
                          detail={"request": "czj-20261201-1", "changes": "compute.cores=300", "state": "open"}))
    log.append(AuditEvent("<b>ops</b>", "apply", "czj", "success", ticket="CHG-2026-0107", changes=[
        ("update", "Quota", "czj-quota-compute-with-a-rather-long-resource-name-that-must-wrap-inside-its-cell"),
        ("update", "Project", "czj-project")]))
    data = build_report([root / "tenants"], REPO / "platform.yaml", REPO / "policies",
                        Sources(root / "state", root / "requests"), dt.date(2026, 12, 1))
    out = root / "report.html"
    out.write_text(render(data, "html"), encoding="utf-8")
    return out


def test_the_report_opens_in_chromium_shows_its_parts_logs_no_error_and_fits_1280_px(browser: Any,
                                                                                      page: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.set_window_size(WIDTH, 900)
    browser.get(page.as_uri())
    browser.save_screenshot(str(page.with_suffix(".png")))
    assert page.with_suffix(".png").stat().st_size > 10_000

    assert "杭州市政务云" in browser.find_element(By.ID, "title").text
    tenants = browser.find_elements(By.CSS_SELECTOR, "section.tenant")
    assert len(tenants) == 9
    names = {t.get_attribute("data-tenant"): t.find_element(By.CLASS_NAME, "display-name").text for t in tenants}
    assert names["czj"] == "市财政局" and names["sjj"] == "市数据资源管理局（大数据局）"
    assert names["jyj"] == "市教育局<script>console.error(1)</script>{{ 7*7 }}", "hostile text shown as typed"
    assert browser.find_elements(By.CSS_SELECTOR, "script") == [], "no script element, none injected"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#capacity ~ section.pool svg.bar")) >= 8
    assert len(browser.find_elements(By.CSS_SELECTOR, "#evidence-table tr.evidence")) >= 15
    requirements = {row.get_attribute("data-requirement")
                    for row in browser.find_elements(By.CSS_SELECTOR, "#evidence-table tr.evidence")}
    assert requirements == {"segmentation", "access-control", "three-admins", "audit", "level-placement"}
    zwfw = browser.find_element(By.ID, "tenant-zwfw")
    assert "SEC-2026-017" in zwfw.find_element(By.CSS_SELECTOR, "table.waivers").text
    assert "not checked yet" in zwfw.find_element(By.CLASS_NAME, "drift").text
    assert browser.find_element(By.ID, "no-requests").text == "none"
    assert "intact" in browser.find_element(By.ID, "audit-summary").text
    changes = browser.find_elements(By.CSS_SELECTOR, "#changes-table tr.change")
    assert [row.find_elements(By.TAG_NAME, "td")[1].text for row in changes] == ["<b>ops</b>", "李四"]
    assert "CHG-2026-0107" in changes[0].text and "czj-quota-compute" in changes[0].text

    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    widths = browser.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth]")
    assert widths[0] <= WIDTH and widths[0] <= widths[1], f"horizontal scrolling: {widths}"
