"""Three-admin separation checked live: czj applied through the CLI, then one person put in two of its duty
groups by hand; `govcloud verify` must pass before and fail after, naming the person and both groups."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from gcloud.passwords import new_password
from tests.integration.workspace import Workspace, workspace_for

pytestmark = pytest.mark.integration

CHECK = "keystone-duty-separation"


def _duty_check(ws: Workspace) -> tuple[int, dict[str, Any]]:
    code, report, stderr = ws.cli_json("verify", "tenants/czj.yaml")
    found = [c for c in report["checks"] if c["tenant"] == "czj" and c["check"] == CHECK]
    assert len(found) == 1, (report, stderr)
    return code, found[0]


def test_a_person_in_two_duty_groups_fails_verify(sandbox: Any, tmp_path: Path) -> None:
    admin = sandbox.openstack_admin()
    with workspace_for(sandbox, tmp_path) as ws:
        done = ws.cli("apply", "tenants/czj.yaml", "--yes")
        assert done.returncode == 0, done.stdout + done.stderr
        code, check = _duty_check(ws)
        assert code == 0 and check["passed"], check
        name = f"czj-dual-{secrets.token_hex(4)}"
        user = admin.identity.create_user(name=name, domain_id="default", password=new_password())
        try:
            for group in ("czj-admins", "czj-security"):
                admin.identity.add_user_to_group(user, admin.identity.find_group(group, domain_id="default",
                                                                                 ignore_missing=False))
            code, check = _duty_check(ws)
            assert code == 1 and not check["passed"], check
            assert check["detail"] == (f"a person holds two duties: {name} is in czj-security (security) and "
                                       f"czj-admins (system)")
        finally:
            admin.identity.delete_user(user)
        code, check = _duty_check(ws)
        assert code == 0 and check["passed"], check
    admin.close()
