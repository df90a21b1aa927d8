"""The Typer application and the one error boundary: every GovcloudError becomes a line and an exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import typer

from gcloud.errors import EnvironmentProblem, GovcloudError, InputError

from . import (
    audit,
    doctor,
    drift,
    output,
    policy,
    privileges,
    provision,
    quota,
    report,
    sandbox,
    tenant,
    validate,
    verify,
)
from . import state as state_commands

app = typer.Typer(
    name="govcloud",
    help="One cloud, many departments: validate, check and provision tenants on OpenStack and Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Each command module exposes register(app); add yours here (one import, one entry).
REGISTRARS: list[Callable[[typer.Typer], None]] = [
    validate.register,
    tenant.register,
    doctor.register,
    sandbox.register,
    provision.register,
    policy.register,
    verify.register,
    drift.register,
    audit.register,
    quota.register,
    report.register,
    state_commands.register,
    privileges.register,
]


for _register in REGISTRARS:
    _register(app)


def main() -> None:
    """Entry point: run the app; map errors users can cause to exit 2 (input) or 1 (environment)."""
    try:
        app()  # standalone: usage errors exit 2 on their own
    except InputError as err:
        output.problems(err.problems)
        sys.exit(2)
    except EnvironmentProblem as err:
        output.error(str(err))
        sys.exit(1)
    except GovcloudError as err:
        output.error(str(err))
        sys.exit(1)
    except KeyboardInterrupt:
        output.error("interrupted")
        sys.exit(130)
    except Exception as err:  # a bug: say so in one line; GOVCLOUD_DEBUG=1 shows the traceback
        if os.environ.get("GOVCLOUD_DEBUG"):
            raise
        output.error(f"internal error ({type(err).__name__}: {err}); rerun with GOVCLOUD_DEBUG=1 and report it")
        sys.exit(70)
