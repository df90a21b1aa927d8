"""Fleet progress: one live line in a terminal (a real pseudo-terminal here), the plain lines elsewhere."""

from __future__ import annotations

import io
import os
import pty
import select

from gcloud.cli.progress import FleetProgress
from rich.console import Console

from gcloud.engine.events import EventKind, StackEvent
from gcloud.plan.progress import RunProgress


def _events() -> list[StackEvent]:
    return [StackEvent("czj", EventKind.START, "up started"), StackEvent("gaj", EventKind.START, "up started"),
            StackEvent("czj", EventKind.STEP, "create czj-project", urn="urn:czj-project", op="create"),
            StackEvent("czj", EventKind.DONE, "up: 3 create (1.0s)"),
            StackEvent("gaj", EventKind.FAILED, "up failed: quota exceeded")]


def _read_all(fd: int) -> str:
    chunks = []
    while select.select([fd], [], [], 0.5)[0]:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_gets_one_live_line_with_done_running_failed_and_time() -> None:
    master, slave = pty.openpty()
    with os.fdopen(slave, "w", encoding="utf-8", closefd=True) as terminal:
        console = Console(file=terminal, width=150, force_interactive=True)
        assert console.is_terminal
        with FleetProgress("apply", 3, console=console) as progress:
            for event in _events():
                progress(event)
            snapshot = progress.progress.snapshot(progress.progress.started_at + 10)
        terminal.flush()
        shown = _read_all(master)
    os.close(master)
    assert "apply 2/3" in shown and "1 failed (gaj)" in shown and "elapsed" in shown
    assert "up failed: quota exceeded" in shown  # failures are printed above the live line
    assert "create czj-project" not in shown  # resource steps only with --verbose
    assert (snapshot.done, snapshot.running, snapshot.failed) == (2, (), ("gaj",))


def test_not_a_terminal_gets_the_plain_lines() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=150)
    assert not console.is_terminal
    with FleetProgress("apply", 3, console=console) as progress:
        for event in _events():
            progress(event)
    lines = buffer.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == ["czj", "gaj", "czj", "czj", "gaj"]


def test_the_estimate_is_time_per_finished_tenant_times_those_left() -> None:
    run = RunProgress("apply", total=4, started_at=100.0)
    assert run.snapshot(101.0).remaining_s is None  # nothing finished yet: nothing to estimate from
    run.start("a", 100.0)
    run.start("b", 100.0)
    run.finish("a", True)
    run.finish("a", False)  # a later failure line of a finished tenant does not count twice
    snap = run.snapshot(110.0)
    assert (snap.done, snap.running, snap.failed) == (1, ("b",), ())
    assert snap.remaining_s == 30.0 and snap.elapsed_s == 10.0
