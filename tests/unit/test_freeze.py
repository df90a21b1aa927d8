"""Freeze windows (platform.yaml `freezeWindows`) as `gcloud.plan.freeze` decides them: pure, no engine."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from gcloud.errors import InputError
from gcloud.model.platform import FreezeWindow, PlatformSpec
from gcloud.plan.freeze import active_window, decide

NATIONAL_DAY = FreezeWindow.model_validate({"start": dt.date(2026, 10, 1), "end": dt.date(2026, 10, 7),
                                            "reason": "国庆节保障期 <b>{{ x }}</b>"})
YEAR_END = FreezeWindow.model_validate({"start": dt.date(2026, 12, 28), "end": dt.date(2027, 1, 3),
                                        "reason": "year-end freeze", "timezone": "UTC"})
WINDOWS = [NATIONAL_DAY, YEAR_END]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(("now", "expected"), [
    ("2026-09-30T15:59:59+00:00", None),  # 23:59:59 in Shanghai, the day before
    ("2026-09-30T16:00:00+00:00", NATIONAL_DAY),  # midnight of 1 October in Shanghai
    ("2026-10-07T15:59:59+00:00", NATIONAL_DAY),  # the last day is inclusive
    ("2026-10-07T16:00:00+00:00", None),
    ("2026-12-27T23:59:59+00:00", None),
    ("2027-01-03T23:59:59+00:00", YEAR_END),
])
def test_a_window_is_whole_days_in_its_timezone(now: str, expected: FreezeWindow | None) -> None:
    assert active_window(WINDOWS, at(now)) == expected


def test_inside_a_window_a_run_is_frozen_with_the_reason_intact() -> None:
    decision = decide(WINDOWS, at("2026-10-03T02:00:00+00:00"))
    assert decision.frozen
    assert "国庆节保障期 <b>{{ x }}</b>" in decision.reason and "2026-10-01..2026-10-07" in decision.reason
    assert "--emergency --ticket" in decision.reason


def test_an_emergency_with_a_ticket_passes_and_says_so() -> None:
    decision = decide(WINDOWS, at("2026-10-03T02:00:00+00:00"), emergency=True, ticket="CHG-7")
    assert not decision.frozen and decision.ticket == "CHG-7"
    assert decision.reason.startswith("emergency change in freeze window") and "CHG-7" in decision.reason


@pytest.mark.parametrize("ticket", [None, "", "   "])
def test_an_emergency_without_a_ticket_is_bad_input(ticket: str | None) -> None:
    with pytest.raises(InputError) as caught:
        decide(WINDOWS, at("2026-10-03T02:00:00+00:00"), emergency=True, ticket=ticket)
    assert caught.value.problems[0].field == "--ticket"


def test_outside_every_window_nothing_is_frozen() -> None:
    decision = decide(WINDOWS, at("2026-11-11T00:00:00+00:00"), ticket="CHG-1")
    assert not decision.frozen and decision.window is None and decision.reason == ""
    assert not decide([], at("2026-10-03T00:00:00+00:00")).frozen


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        active_window(WINDOWS, dt.datetime(2026, 10, 3))  # a naive moment: the point of the test


@pytest.mark.parametrize(("window", "message"), [
    ({"start": "2026-10-07", "end": "2026-10-01", "reason": "x"}, "before start"),
    ({"start": "2026-10-01", "end": "2026-10-07", "reason": "x", "timezone": "Mars/Olympus"}, "unknown timezone"),
    ({"start": "2026-10-01", "end": "2026-10-07"}, "reason"),
    ({"start": "2026-10-01", "end": "2026-10-07", "reason": "x", "note": "y"}, "note"),
])
def test_a_bad_window_is_refused_naming_what_is_wrong(window: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PlatformSpec.model_validate({"mlpsLevel": 3, "freezeWindows": [window]})


def test_the_platform_reads_freeze_windows_from_camel_case_and_defaults_to_none() -> None:
    spec = PlatformSpec.model_validate({"mlpsLevel": 3, "freezeWindows": [
        {"start": dt.date(2026, 10, 1), "end": dt.date(2026, 10, 7), "reason": "国庆"}]})
    assert spec.freeze_windows[0].timezone == "Asia/Shanghai"
    assert PlatformSpec.model_validate({"mlpsLevel": 3}).freeze_windows == []


def test_apply_inside_a_window_changes_nothing_and_audits_the_refusal(tmp_path: Path) -> None:
    """Through the CLI: a new tenant inside a window is held back (exit 1) before any engine or cloud call."""
    from bench.bench_parallel import tenant_text
    from bench.generate import PLATFORM
    from tests.integration.reliability import POLICIES

    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    platform = PLATFORM.format(cores=640, ram=2621440, instances=200, gigabytes=40000, cpu=120, memory=240, pods=1300)
    (tmp_path / "platform.yaml").write_text(platform.replace("spec:\n", (
        f"spec:\n  freezeWindows:\n    - {{start: {today - dt.timedelta(days=1)}, "
        f"end: {today + dt.timedelta(days=1)}, reason: 国庆节保障期}}\n"), 1), encoding="utf-8")
    (tmp_path / "policies").mkdir()  # a fixed policy set the generated tenant passes (the repository's may change)
    (tmp_path / "policies" / "fixed.yaml").write_text(POLICIES, encoding="utf-8")
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / "p0900.yaml").write_text(tenant_text(900), encoding="utf-8")
    env = {**os.environ, "GOVCLOUD_STATE_DIR": str(tmp_path / "state"), "PULUMI_CONFIG_PASSPHRASE": "unit-test",
           "OS_CLOUD": "none", "OS_CLIENT_CONFIG_FILE": str(tmp_path / "none.yaml")}
    env.pop("GOVCLOUD_AUDIT_LOG", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gcloud.cli", "apply", "--yes", "tenants/", *args],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)

    refused = cli("--output", "json")
    assert refused.returncode == 1, refused.stderr
    [outcome] = json.loads(refused.stdout)["tenants"]
    assert outcome["status"] == "frozen" and "国庆节保障期" in outcome["error"]
    assert not (tmp_path / "state" / ".pulumi").exists()  # no stack was touched
    lines = (tmp_path / "state" / "audit" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    [entry] = [e for e in map(json.loads, lines) if e.get("action") == "apply"]  # beside it: a signed checkpoint
    assert entry["outcome"] == "refused" and entry["target"]["id"] == "p0900", entry
    assert "国庆节保障期" in entry["detail"]["error"]
    no_ticket = cli("--emergency")
    assert no_ticket.returncode == 2 and "--ticket" in no_ticket.stderr
