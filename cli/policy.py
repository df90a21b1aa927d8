"""`govcloud policy check | diff | list | explain | test`: the security team's policy files, applied and explained.

The policy engine is imported inside each command, so `--help` and the other commands do not pay for it.
"""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from gcloud.errors import InputError

from . import output
from .common import DEFAULT_PLATFORM, Format, Paths, PlatformFile, tenant_paths

if TYPE_CHECKING:
    from gcloud.policy.finding import CheckResult

policy_app = typer.Typer(
    help="Policy files (policies/*.yaml): check tenants against them, list, explain and test them.",
    no_args_is_help=True,
)

DEFAULT_POLICIES = Path("policies")


class CheckFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"


class PageFormat(StrEnum):
    text = "text"
    json = "json"


PoliciesDir = Annotated[Path, typer.Option("--policies", help="Policy folder (*.yaml) or one policy file.")]
Today = Annotated[
    dt.datetime | None,
    typer.Option("--today", formats=["%Y-%m-%d"], show_default=False,
                 help="Judge waivers and expiry dates as of this day (default: today), e.g. to see what "
                      "breaks next month."),
]


def check(paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
          policies: PoliciesDir = DEFAULT_POLICIES,
          output_format: Annotated[CheckFormat, typer.Option("--output", "-o", help=(
              "table for people; json for scripts; sarif for code review (annotates the tenant file's line); "
              "junit for CI test reports."))] = CheckFormat.table,
          today: Today = None,
          live: Annotated[bool, typer.Option("--live", help=(
              "Judge what the clouds hold instead of the files: each named tenant's resources are read back "
              "(as `drift` does) and mapped into the tenant model; findings say [live] and point at the file."))]
          = False) -> None:
    """Evaluate every policy on every tenant; waivers in spec.exceptions count until they expire.

    Exit 0 when no mandatory policy fails, 1 when one does, 2 on bad input (tenant or policy files).

    Example: govcloud policy check tenants/ --output sarif > policy.sarif
    Example: govcloud policy check --live tenants/sjj.yaml
    """
    from gcloud.policy.check import run_check
    from gcloud.policy.formats import FORMATTERS

    day = today.date() if today else dt.date.today()
    if live:
        result = _live_check(tenant_paths(paths), platform, policies, day)
    else:
        result = run_check(tenant_paths(paths), platform, policies, day)
    sys.stdout.write(FORMATTERS[output_format.value](result))
    if result.failed:
        raise typer.Exit(1)


def _live_check(paths: list[Path], platform: Path, policies: Path, day: dt.date) -> CheckResult:
    from gcloud.engine.settings import EngineSettings
    from gcloud.live.policy import live_check
    from gcloud.model import load_fleet
    from gcloud.plan.record import read_record
    from gcloud.policy.loader import load_policies

    settings = EngineSettings.from_environment()
    fleet = load_fleet(paths, platform, read_record(settings.state_dir).pinned_cidrs(), day)
    result, drift = live_check(fleet, load_policies(policies), day, settings)
    for tenant in drift.tenants:
        if tenant.error:
            output.error(f"{tenant.tenant}: cannot read the live state: {tenant.error}")
        elif tenant.never_applied:
            output.stderr.print(f"[yellow]note[/yellow] {escape(tenant.tenant)}: never applied, judged on its file")
    return result


def list_policies(policies: PoliciesDir = DEFAULT_POLICIES,
                  output_format: Annotated[Format, typer.Option(
                      "--output", "-o", help="table for people, json for scripts.")] = Format.table) -> None:
    """List the policies: id, severity, enforcement, scope and title.

    Example: govcloud policy list --policies policies/
    """
    from gcloud.policy.formats import policy_list_json, policy_list_table
    from gcloud.policy.loader import load_policies

    loaded = list(load_policies(policies))
    if output_format is Format.json:
        sys.stdout.write(policy_list_json(loaded))
    else:
        sys.stdout.write(policy_list_table(loaded))


def explain(policy_id: Annotated[str, typer.Argument(help="A policy id, e.g. GOV-IAM-001.")],
            policies: PoliciesDir = DEFAULT_POLICIES,
            output_format: Annotated[PageFormat, typer.Option(
                "--output", "-o", help="text for people, json for scripts.")] = PageFormat.text) -> None:
    """Show one policy as a page: what it checks, why, which MLPS clause it serves, examples.

    Example: govcloud policy explain GOV-IAM-001
    """
    from gcloud.policy.explain import explain as explain_page
    from gcloud.policy.formats import policy_dict
    from gcloud.policy.loader import load_policies

    loaded = load_policies(policies)
    policy = loaded.get(policy_id) or loaded.get(policy_id.upper())
    if policy is None:
        known = ", ".join(sorted(loaded.ids))
        raise InputError.single(str(policies), f"no policy {policy_id!r}", field="id", code="unknown-policy",
                                hint=f"known: {known}")
    if output_format is PageFormat.json:
        output.emit_json(policy_dict(policy))
    else:
        sys.stdout.write(explain_page(policy))


def test(policies: PoliciesDir = DEFAULT_POLICIES,
         output_format: Annotated[Format, typer.Option(
             "--output", "-o", help="table for people, json for scripts.")] = Format.table) -> None:
    """Run every policy's pass and fail examples (like `opa test`); exit 1 when one comes out wrong.

    Example: govcloud policy test --policies policies/
    """
    from gcloud.policy.examples import run_examples
    from gcloud.policy.formats import examples_json, examples_table
    from gcloud.policy.loader import load_policies

    results = run_examples(load_policies(policies))
    sys.stdout.write(examples_json(results) if output_format is Format.json else examples_table(results))
    if not all(result.ok for result in results):
        raise typer.Exit(1)


class DiffFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


def diff(paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
         policies: PoliciesDir = DEFAULT_POLICIES,
         base: Annotated[str | None, typer.Option("--base", show_default=False, help=(
             "The git revision to compare with (default: the merge-base of HEAD with main, or HEAD)."))] = None,
         output_format: Annotated[DiffFormat, typer.Option("--output", "-o", help=(
             "table for people; json for scripts; sarif holds only the new findings, for code review."))]
         = DiffFormat.table,
         today: Today = None) -> None:
    """What a change to policies/ or tenants/ does: tenants newly failing or fixed, waivers now (un)needed.

    Compares the findings of the base revision's files (read from git, no checkout) with the working tree's.
    Exit 0 when the change adds no blocking finding, 1 when it does, 2 on bad input or an unknown revision.

    Example: govcloud policy diff --base main --output sarif > policy-diff.sarif
    """
    from gcloud.policy.diff import DIFF_FORMATTERS
    from gcloud.policy.gitrev import run_diff

    day = today.date() if today else dt.date.today()
    result = run_diff(tenant_paths(paths), platform, policies, base, day)
    sys.stdout.write(DIFF_FORMATTERS[output_format.value](result))
    if result.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    policy_app.command("check")(check)
    policy_app.command("diff")(diff)
    policy_app.command("list")(list_policies)
    policy_app.command("explain")(explain)
    policy_app.command("test")(test)
    app.add_typer(policy_app, name="policy")
