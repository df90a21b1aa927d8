"""Whole-process start-up of the commands people type many times a day, against `python -c pass` in the same run.

Each command runs as its own process, interleaved round by round (so a burst of other load hits every command
alike); the figures are the median wall time and the median CPU time (user + system, which other load on the
machine does not inflate as much) of the rounds. Prints one JSON line per command.
Usage: python -m bench.bench_startup [ROUNDS]   (default 15)
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOVCLOUD = [sys.executable, "-m", "gcloud.cli"]
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "govcloud --help": [*GOVCLOUD, "--help"],
    "govcloud validate tenants/": [*GOVCLOUD, "validate", "tenants/"],
    "govcloud validate tenants/czj.yaml": [*GOVCLOUD, "validate", "tenants/czj.yaml"],
    "govcloud policy check tenants/": [*GOVCLOUD, "policy", "check", "tenants/"],
}
BASELINE = "python -c pass"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    cpu, start = _cpu(), time.perf_counter()
    subprocess.run(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start, _cpu() - cpu


def main(rounds: int) -> None:
    for argv in COMMANDS.values():  # warm the page cache and the bytecode files first
        _once(argv)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):
        for name, argv in COMMANDS.items():
            times[name].append(_once(argv))
    floor = statistics.median(wall for wall, _ in times[BASELINE])
    for name, samples in times.items():
        median = statistics.median(wall for wall, _ in samples)
        print(json.dumps({"bench": "startup", "command": name, "median_s": round(median, 3),
                          "min_s": round(min(wall for wall, _ in samples), 3),
                          "cpu_s": round(statistics.median(cpu for _, cpu in samples), 3), "rounds": rounds,
                          "baseline": BASELINE, "baseline_s": round(floor, 3),
                          "over_baseline_s": round(median - floor, 3)}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
