"""The Typer application and the one error boundary: every GovcloudError becomes a line and an exit code."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

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


def script() -> NoReturn:
    """The `govcloud` command: `main`, then an exit that does not free the heap object by object.

    Tearing down the interpreter frees every object one at a time: after `validate` of 10,000 tenants that is
    1.9 s of a 9.8 s run, for memory the system takes back at once. Exit handlers still run and output is
    flushed; while another thread runs, the normal exit waits for it. Tests call `main`, which never exits so.
    """
    try:
        main()
        code = 0
    except SystemExit as exit_:
        if exit_.code is not None and not isinstance(exit_.code, int):
            raise
        code = exit_.code or 0
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or stream: nothing left to say to it
            code = code or 1
    os._exit(code)
