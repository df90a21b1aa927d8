"""Clean decommission on the sandbox: czj applied through the CLI, then the department makes a claim in its
namespace (and a volume, where the sandbox runs Cinder) itself. destroy must refuse naming them; --purge must
delete them, audit each deletion, and leave nothing of the tenant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s_client

from gcloud.audit.log import AuditLog
from tests.integration.identities import as_identity, keystone_member
from tests.integration.reliability import kube_client
from tests.integration.workspace import workspace_for

pytestmark = pytest.mark.integration

CLAIM = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "czj-dump"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def test_destroy_refuses_then_purge_leaves_nothing(sandbox: Any, tmp_path: Path) -> None:
    admin = sandbox.openstack_admin()
    with workspace_for(sandbox, tmp_path) as ws:
        ws.edit("czj", "preventDeletion: true", "preventDeletion: false")
        done = ws.cli("apply", "tenants/czj.yaml", "--yes")
        assert done.returncode == 0, done.stdout + done.stderr
        core = k8s_client.CoreV1Api(as_identity(sandbox, "czj-ops", "czj-admins"))  # the department's own claim
        core.create_namespaced_persistent_volume_claim("czj-prod", CLAIM)
        # the sandbox runs no PVC-protection controller, which on a real cluster drops the finalizer of a claim no
        # pod uses once it is deleted; without that, the namespace (and destroy) would wait on it for ever
        core.patch_namespaced_persistent_volume_claim("czj-dump", "czj-prod", {"metadata": {"finalizers": None}})
        expected = {("PersistentVolumeClaim", "czj-dump")}
        volume_id = None
        if admin.has_service("block-storage"):
            with keystone_member(admin, "czj", "czj-admins") as (_, member):
                volume_id = member.block_storage.create_volume(size=1, name="czj-scratch").id
            expected.add(("volume", "czj-scratch"))

        refused = ws.cli("destroy", "czj", "--confirm", "czj")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "PersistentVolumeClaim czj-dump in czj-prod" in refused.stderr
        assert volume_id is None or "volume czj-scratch" in refused.stderr
        assert "--purge" in refused.stderr

        purged = ws.cli("destroy", "czj", "--confirm", "czj", "--purge")
        assert purged.returncode == 0, purged.stdout + purged.stderr
        audited = {(e.event.changes[0][0], e.event.changes[0][1])
                   for e in AuditLog.at(ws.state).entries(tenant="czj") if e.event.action == "destroy.purge"}
        assert audited == expected
        # nothing of the tenant is left: the project, the claim, the volume
        assert admin.identity.find_project("czj", domain_id="default", ignore_missing=True) is None
        outside = k8s_client.CoreV1Api(kube_client(sandbox.kubeconfig))  # the cluster admin: the department is gone
        claims = [c.metadata.name for c in outside.list_namespaced_persistent_volume_claim("czj-prod").items
                  if c.metadata.deletion_timestamp is None]
        assert claims == []
        if volume_id is not None:
            assert admin.block_storage.find_volume(volume_id, ignore_missing=True) is None
    admin.close()
