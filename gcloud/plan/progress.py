"""Where a fleet run stands: done and total, the tenants running now, failures so far, elapsed and what is left.

Pure bookkeeping fed by the runner's events (the CLI draws it); the clock is a parameter so it is tested with
plain numbers. The estimate is the wall time per finished tenant so far (which already reflects how many run at
once) times the tenants not finished: crude, but it converges as tenants finish, which is what a watcher needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProgressSnapshot:
    """One moment of a run, ready to draw."""

    operation: str
    done: int
    total: int
    running: tuple[str, ...]
    failed: tuple[str, ...]
    elapsed_s: float
    remaining_s: float | None
    """None until a tenant has finished (nothing to estimate from)."""


@dataclass
class RunProgress:
    """The live state of one run over `total` tenants."""

    operation: str
    total: int
    started_at: float
    running: dict[str, float] = field(default_factory=dict)
    finished: dict[str, bool] = field(default_factory=dict)
    """Tenant -> whether it succeeded."""

    def start(self, tenant: str, now: float) -> None:
        if tenant not in self.finished:
            self.running.setdefault(tenant, now)

    def finish(self, tenant: str, ok: bool) -> None:
        """A tenant's first end counts (a later failure line of the same tenant does not count twice)."""
        self.running.pop(tenant, None)
        self.finished.setdefault(tenant, ok)

    def snapshot(self, now: float) -> ProgressSnapshot:
        elapsed = max(0.0, now - self.started_at)
        done = len(self.finished)
        left = max(0, self.total - done)
        remaining = elapsed / done * left if done else None
        failed = tuple(sorted(name for name, ok in self.finished.items() if not ok))
        return ProgressSnapshot(self.operation, done, self.total, tuple(sorted(self.running)), failed, elapsed,
                                remaining)
