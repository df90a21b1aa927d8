"""Three-admin separation checked live: the judge on plain data of who is in which duty group."""

from __future__ import annotations

from gcloud.verify.openstack import duty_groups
from gcloud.verify.results import DutyGroup, judge_duty_separation


def test_separate_people_in_each_duty_pass() -> None:
    groups = [DutyGroup("system", "czj-admins", {"u1": "lisi"}),
              DutyGroup("security", "czj-security", {"u2": "wangwu"}),
              DutyGroup("audit", "czj-auditors", {"u3": "zhaoliu"})]
    result = judge_duty_separation("czj", groups)
    assert result.passed and result.check == "keystone-duty-separation"
    assert "3 duty group(s), 3 person(s)" in result.detail


def test_one_person_in_two_duties_fails_naming_the_person_and_groups() -> None:
    groups = [DutyGroup("system", "czj-admins", {"u1": "lisi", "u9": "李四"}),
              DutyGroup("security", "czj-security", {"u2": "wangwu"}),
              DutyGroup("audit", "czj-auditors", {"u3": "zhaoliu", "u9": "李四"})]
    result = judge_duty_separation("czj", groups)
    assert not result.passed
    assert result.detail == "a person holds two duties: 李四 is in czj-auditors (audit) and czj-admins (system)"


def test_two_groups_of_the_same_duty_may_share_a_person() -> None:
    groups = [DutyGroup("system", "czj-admins", {"u1": "lisi"}),
              DutyGroup("system", "czj-ops", {"u1": "lisi"}),
              DutyGroup("audit", "czj-auditors", {"u3": "zhaoliu"})]
    assert judge_duty_separation("czj", groups).passed


def test_a_person_is_the_user_id_not_the_name() -> None:
    groups = [DutyGroup("system", "czj-admins", {"u1": "lee"}),
              DutyGroup("audit", "czj-auditors", {"u2": "lee"})]
    assert judge_duty_separation("czj", groups).passed
    unnamed = judge_duty_separation("czj", [DutyGroup("system", "a", {"u7": ""}), DutyGroup("audit", "b", {"u7": ""})])
    assert not unnamed.passed and "u7 is in" in unnamed.detail


def test_duty_groups_come_from_the_access_entries_that_carry_a_duty() -> None:
    effective = {"spec": {"access": [{"group": "czj-admins", "role": "admin", "duty": "system"},
                                     {"group": "czj-staff", "role": "member", "duty": None},
                                     {"group": "czj-auditors", "role": "auditor", "duty": "audit"}]}}
    assert duty_groups(effective) == [("system", "czj-admins"), ("audit", "czj-auditors")]
    assert duty_groups({"spec": {"access": [{"group": "x-a", "role": "admin"}]}}) == []
