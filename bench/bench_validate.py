"""Load + validate N generated tenants; baseline: bare libyaml parsing of the same files, same run.

Each figure runs in a fresh interpreter so peak RSS is its own. Prints one JSON line per figure.
Usage: python -m bench.bench_validate [N ...]   (default 1000 10000)
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generate import generate_fleet


def _measure(kind: str, root: Path) -> dict[str, float]:
    import yaml

    from gcloud.model import load_fleet, tenant_files

    start = time.perf_counter()
    if kind == "validate":
        count = len(load_fleet([root / "tenants"], root / "platform.yaml").tenants)
    else:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        count = sum(1 for path in tenant_files([root / "tenants"])
                    if yaml.load(path.read_text(encoding="utf-8"), Loader=loader))
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 3), "count": count,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


def _child(kind: str, root: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "bench.bench_validate", "--child", kind, str(root)],
                         check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main(sizes: list[int]) -> None:
    for n in sizes:
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            generate_fleet(root, n)
            floor = _child("parse", root)
            full = _child("validate", root)
            assert full["count"] == n
            print(json.dumps({"bench": "validate", "n": n, "seconds": full["seconds"],
                              "peak_rss_mb": full["peak_rss_mb"], "worker_peak_rss_mb": full["worker_peak_rss_mb"],
                              "baseline": "libyaml parse only",
                              "baseline_seconds": floor["seconds"],
                              "ratio": round(full["seconds"] / floor["seconds"], 2)}), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(_measure(sys.argv[2], Path(sys.argv[3]))))
    else:
        main([int(arg) for arg in sys.argv[1:]] or [1000, 10000])
