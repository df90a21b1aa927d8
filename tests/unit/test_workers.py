"""Forked workers: results in order, the parent's data read by the fork itself, and no fork where it is unsafe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys, threading
from gcloud.workers import cores, fork_workers
seen = {"cores": cores(), "alone": fork_workers()}
release = threading.Event()
thread = threading.Thread(target=release.wait)
thread.start()
seen["thread"] = fork_workers()
release.set()
thread.join()
seen["after"] = fork_workers()
sys.modules["grpc"] = sys
seen["grpc"] = fork_workers()
print(json.dumps(seen))
"""


ORDER = """
import json, os
from gcloud.workers import forked_map
shared = {n: n * n for n in range(100)}  # reaches the children by the fork, never pickled
found = forked_map(lambda n: (shared[n], os.getpid()), list(range(0, 100, 7)), 2)
print(json.dumps({"values": [v for v, _ in found], "pids": [p for _, p in found], "parent": os.getpid()}))
"""


def test_results_come_back_in_order_from_other_processes() -> None:
    """In a fresh interpreter (this one may hold other tests' threads, and a fork must not inherit them)."""
    done = subprocess.run([sys.executable, "-c", ORDER], cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=True)
    seen = json.loads(done.stdout)
    assert seen["values"] == [n * n for n in range(0, 100, 7)]
    assert seen["parent"] not in seen["pids"]


def test_no_fork_while_another_thread_runs_or_once_grpc_is_loaded() -> None:
    """In a fresh interpreter (this one may hold other tests' threads and gRPC)."""
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=True)
    seen = json.loads(done.stdout)
    many = min(seen["cores"], 8) if seen["cores"] >= 2 else 0
    assert (seen["alone"], seen["thread"], seen["after"], seen["grpc"]) == (many, 0, many, 0)
