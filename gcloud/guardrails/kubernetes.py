"""The admission-policy kinds as Pulumi resources, and who govcloud is in a cluster.

The objects are written, read back and drift-checked by the same provider as every other Kubernetes object
(`gcloud.providers.kubernetes`, whose KINDS know both kinds); only the resource types are declared here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from gcloud.errors import EnvironmentProblem
from gcloud.providers import credentials
from gcloud.providers.kubernetes import _KubeResource

_LOCK = threading.Lock()
_WHO: dict[tuple[str, str], str] = {}


class ValidatingAdmissionPolicy(_KubeResource, module="govcloud-kubernetes", name="ValidatingAdmissionPolicy"):
    pass


class ValidatingAdmissionPolicyBinding(_KubeResource, module="govcloud-kubernetes",
                                       name="ValidatingAdmissionPolicyBinding"):
    pass


def configured_identity(platform: Mapping[str, Any], cluster: str) -> str | None:
    """platform.yaml's `identity` of the cluster entry named `cluster`, if it names one."""
    for entry in ((platform.get("spec") or {}).get("kubernetes") or {}).get("clusters") or []:
        if entry.get("name") == cluster and entry.get("identity"):
            return str(entry["identity"])
    return None


def whoami(context: str) -> str:
    """The username the kubeconfig context authenticates as, asked of the cluster (SelfSubjectReview, GA 1.28).

    A client certificate's CN, a ServiceAccount token's `system:serviceaccount:<ns>:<name>`, an OIDC user: the
    API server is the only party that knows for every kind of credential. Cached per context and kubeconfig.
    """
    key = (context, os.environ.get("KUBECONFIG", ""))
    with _LOCK:
        if key in _WHO:
            return _WHO[key]
    from kubernetes import client as k8s

    api = k8s.AuthenticationV1Api(credentials.kubernetes_client(context))
    try:
        review: Any = api.create_self_subject_review(k8s.V1SelfSubjectReview(
            api_version="authentication.k8s.io/v1", kind="SelfSubjectReview"))
    except Exception as err:  # the client raises ApiException, urllib3 errors, ...: all mean "cannot ask"
        raise EnvironmentProblem(
            f"cannot ask Kubernetes context {context!r} who govcloud is: {type(err).__name__}: {err}",
            hint="name the user in platform.yaml spec.kubernetes.clusters[].identity") from None
    username = str(review.status.user_info.username)
    with _LOCK:
        _WHO[key] = username
    return username


def govcloud_identity(platform: Mapping[str, Any], cluster: str) -> str:
    """Who the guardrails let change govcloud's objects: platform.yaml's word, else the context's own user."""
    return configured_identity(platform, cluster) or whoami(cluster)
