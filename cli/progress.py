"""Progress of a fleet run: one live line in a terminal, the plain per-event lines anywhere else (CI logs).

In a terminal the display shows done/total, the tenants running now, failures so far, elapsed time and an
estimate of what is left; `--verbose` adds the per-resource lines above it. Failures, warnings and what govcloud
cleared of a killed run are always printed.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from gcloud.plan.progress import ProgressSnapshot, RunProgress

from . import output

if TYPE_CHECKING:
    from gcloud.engine.events import StackEvent


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def status_line(snap: ProgressSnapshot) -> Text:
    """`apply 3/9 · running czj, gaj · 1 failed · 00:12 elapsed · ~00:24 left`."""
    parts = [f"{snap.operation} {snap.done}/{snap.total}"]
    if snap.running:
        parts.append("running " + ", ".join(snap.running))
    parts.append(f"{len(snap.failed)} failed" + (f" ({', '.join(snap.failed)})" if snap.failed else ""))
    parts.append(f"{_clock(snap.elapsed_s)} elapsed")
    parts.append(f"~{_clock(snap.remaining_s)} left" if snap.remaining_s is not None else "estimating")
    return Text(" · ".join(parts), style="bold" if not snap.failed else "bold red")


class FleetProgress:
    """The event sink of one run, usable as a context manager around it."""

    def __init__(self, operation: str, total: int, *, verbose: bool = False, console: Console | None = None) -> None:
        self.console = console or output.stderr
        self.verbose = verbose
        self.progress = RunProgress(operation, total, time.monotonic())
        self.live: Live | None = None
        if self.console.is_terminal and total:
            self.live = Live(self, console=self.console, refresh_per_second=4, transient=True)

    def __rich__(self) -> Text:
        return status_line(self.progress.snapshot(time.monotonic()))

    def __enter__(self) -> FleetProgress:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.live is not None:
            self.live.stop()

    def __call__(self, event: StackEvent) -> None:
        from gcloud.engine.events import EventKind

        stack_level = not event.urn
        if event.kind is EventKind.START and stack_level:
            self.progress.start(event.stack, time.monotonic())
        elif event.kind in (EventKind.DONE, EventKind.FAILED) and stack_level:
            self.progress.finish(event.stack, event.kind is EventKind.DONE)
        if self.live is None or self.verbose or event.kind in (EventKind.FAILED, EventKind.DIAGNOSTIC):
            style = "red" if event.kind is EventKind.FAILED else "yellow" if event.kind is EventKind.DIAGNOSTIC \
                else "cyan"
            self.console.print(f"[{style}]{escape(event.stack):>10}[/{style}] {escape(event.message)}")
        if self.live is not None:
            self.live.refresh()
