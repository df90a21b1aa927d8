"""Work split over forked processes, one per core, where this process may fork and the split pays.

Loading and checking a large fleet are CPU-bound Python; a second core is only reachable through a second
process. A fork shares the parent's loaded data for free (nothing is pickled on the way in), so only the
results travel back. Forking is refused when it is unsafe: with other threads running (a child could inherit
a lock held by one of them) or once gRPC is loaded (its core is not fork-safe after start), as in `apply`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 8


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def fork_workers() -> int:
    """How many forked workers may share work here: 0 when forking is unsafe or there is one core."""
    workers = min(cores(), MAX_WORKERS)
    if workers < 2 or "fork" not in mp.get_all_start_methods():
        return 0
    if threading.active_count() > 1 or "grpc" in sys.modules:
        return 0
    return workers


def forked_map(function: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """`[function(item) for item in items]`, the items shared out among `workers` forked processes.

    `function` reaches the children by the fork itself, so it may be a closure over the parent's data (nothing
    of it is pickled); the items go to them pickled (keep them small: bounds, paths) and the results come back
    pickled, in order.
    """
    global _FUNCTION
    _FUNCTION = function
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            return pool.map(_call, items, chunksize=1)
    finally:
        _FUNCTION = None


_FUNCTION: Callable[[Any], Any] | None = None
"""The function of the running `forked_map`, inherited by its children."""


def _call(item: Any) -> Any:
    assert _FUNCTION is not None, "called outside forked_map"
    return _FUNCTION(item)
