"""`govcloud report`: one self-contained page for security and auditors (HTML or Markdown)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from . import output
from .common import DEFAULT_PLATFORM, Paths, PlatformFile, tenant_paths
from .policy import DEFAULT_POLICIES, PoliciesDir, Today


class PageFormat(StrEnum):
    html = "html"
    md = "md"


def report(paths: Paths = None, platform: PlatformFile = DEFAULT_PLATFORM,
           policies: PoliciesDir = DEFAULT_POLICIES,
           out: Annotated[Path, typer.Option("--out", "-O", help="The file to write (`-` for stdout).")]
           = Path("report.html"),
           page_format: Annotated[PageFormat, typer.Option("--format", help=(
               "html: one self-contained page (inline CSS and SVG, no script); md: the same for a ticket."))]
           = PageFormat.html,
           requests_dir: Annotated[Path, typer.Option("--requests", help="The quota requests folder.")]
           = Path("requests"),
           state_dir: Annotated[Path | None, typer.Option("--state-dir", show_default=False, help=(
               "The state folder (default: GOVCLOUD_STATE_DIR, else .govcloud/state)."))] = None,
           live: Annotated[bool, typer.Option("--live", help=(
               "Also read each tenant's live quota usage from its clouds (else no cloud is called)."))] = False,
           today: Today = None) -> None:
    """Write the report: fleet summary, tenants, quotas against capacity (and live usage with --live), policies,
    waivers, applies (by whom, under which ticket), the last drift and verify results, open quota requests, the
    audit trail's status and who changed what, and the MLPS 2.0 evidence table.

    Example: govcloud report tenants/ --live --out report.html
    """
    from gcloud.report.collect import build_report  # Jinja2 and the checker only when a report is made
    from gcloud.report.render import render
    from gcloud.report.sources import Sources, cloud_usage, no_usage

    day = today.date() if today else dt.date.today()
    from gcloud.audit.paths import default_state_dir

    sources = Sources(state_dir or default_state_dir(), requests_dir, usage=cloud_usage() if live else no_usage)
    text = render(build_report(tenant_paths(paths), platform, policies, sources, day), page_format.value)
    if str(out) == "-":
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    output.stderr.print(f"[green]wrote[/green] {out} ({len(text.encode()):,} bytes, {page_format.value})")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
