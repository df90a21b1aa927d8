"""`govcloud privileges`: what a cloud admin sets up once so govcloud runs without admin rights."""

from __future__ import annotations

import typer
import yaml

from . import output
from .common import DEFAULT_PLATFORM, Format, OutputFormat, PlatformFile


def privileges(platform: PlatformFile = DEFAULT_PLATFORM, output_format: OutputFormat = Format.table) -> None:
    """Print govcloud's least-privilege identities for this platform: the Keystone user's roles (as the
    `openstack` commands to run once), the oslo.policy overrides to install, and the Kubernetes ServiceAccount
    with its ClusterRole (YAML for `kubectl apply -f -`).

    Example: govcloud privileges | kubectl apply -f -
    """
    from gcloud.model import load_platform
    from gcloud.privileges import privileges_for

    found = privileges_for(load_platform(platform).model_dump(by_alias=True, mode="json"))
    if output_format is Format.json:
        output.emit_json(found.as_json())
        return
    lines = [f"# OpenStack: govcloud's Keystone user, a manager of domain {found.domain} (no admin role)"]
    lines += [f"#   {command}" for command in found.openstack_commands]
    lines += ["# oslo.policy overrides to install as /etc/<service>/policy.d/govcloud.yaml:"]
    lines += [f"#   {service}: {path}" for service, path in found.policy_files.items()]
    lines += [f"# Kubernetes: govcloud runs as {found.kubernetes_user}; apply this as a cluster admin, then give",
              "# govcloud a kubeconfig with a token of that ServiceAccount (kubectl create token)"]
    output.stdout.print("\n".join(lines), markup=False)
    output.stdout.print(yaml.safe_dump_all(list(found.kubernetes), sort_keys=False, allow_unicode=True).rstrip(),
                        markup=False)


def register(app: typer.Typer) -> None:
    app.command("privileges")(privileges)
