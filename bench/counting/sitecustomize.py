"""Count every HTTP request a Python process makes, when GOVCLOUD_BENCH_REQUESTS names a file (benchmarks only).

The benchmarks put this folder first on PYTHONPATH of the command they measure, so every Python process it starts
(the CLI, the workers, the provider host and its forks, the direct-API floor) appends one line per request to
the file: `pid method host:port path`. It wraps `http.client.HTTPConnection.putrequest`, which urllib3 (under
both openstacksdk's requests and the kubernetes client) calls once per request, TLS or not, so the kube-apiserver
is counted as well as the OpenStack APIs. Headers (tokens) and bodies are never written; query strings are cut.
"""

from __future__ import annotations

import os

_TARGET = os.environ.get("GOVCLOUD_BENCH_REQUESTS", "")

if _TARGET:
    import http.client
    from typing import Any

    _original = http.client.HTTPConnection.putrequest

    def _counted(self: http.client.HTTPConnection, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        line = f"{os.getpid()} {method} {self.host}:{self.port} {url.split('?', 1)[0]}\n".encode()
        fd = os.open(_TARGET, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)  # one short O_APPEND write: lines from concurrent processes never interleave
        finally:
            os.close(fd)
        _original(self, method, url, *args, **kwargs)

    http.client.HTTPConnection.putrequest = _counted  # type: ignore[method-assign]
