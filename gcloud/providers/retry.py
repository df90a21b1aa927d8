"""Retry transient cloud API errors with bounded backoff, and say what failed in one clean line.

Cloud APIs blip: a service restarting refuses connections, Neutron answers 409 while a port is still being
released, a gateway returns 503, a rate limiter 429. Those deserve a few more tries; a 400, 403 or a duplicate
name does not. Nothing here imports a cloud SDK at module load (the program process stays light): the
exception types are recognised by their attributes and module names.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_PERMANENT_CONFLICT = ("already exists", "duplicate", "conflict occurred attempting to store", "is being deleted")
_CONNECTION_TYPES = ("ConnectFailure", "ConnectTimeout", "ConnectionError", "RetriableConnectionFailure",
                     "NewConnectionError", "MaxRetryError", "ProtocolError", "ReadTimeoutError", "SSLError",
                     "RemoteDisconnected", "ConnectionResetError", "ConnectionRefusedError", "Timeout")


class ProviderError(Exception):
    """A cloud call that failed for good: one line naming the action and the API's own reason."""


def status_of(exc: BaseException) -> int | None:
    """HTTP status of an openstacksdk, keystoneauth or kubernetes client error, if it carries one."""
    for attr in ("status_code", "http_status", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    if type(exc).__name__ == "NotFoundException":  # openstacksdk's find_* raise it without a response
        return 404
    return None


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionError | TimeoutError) or any(
        klass.__name__ in _CONNECTION_TYPES for klass in type(exc).__mro__)


def is_transient(exc: BaseException) -> bool:
    """True for errors worth another try: connection trouble, 5xx, 429, and 409s that are not duplicates."""
    if isinstance(exc, ProviderError):
        return False
    status = status_of(exc)
    if status is None:
        return _is_connection_error(exc)
    if status in TRANSIENT_STATUS:
        return True
    if status == 409:
        text = message_of(exc).lower()
        return not any(marker in text for marker in _PERMANENT_CONFLICT)
    return False


def message_of(exc: BaseException) -> str:
    """The API's own explanation, without headers, tokens or request bodies."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.strip().startswith("{"):
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
            return str(parsed["message"])
    for attr in ("details", "message"):
        value = getattr(exc, attr, None)
        if isinstance(value, str) and value:
            return value.splitlines()[0]
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe(action: str, exc: BaseException) -> str:
    status = status_of(exc)
    prefix = f"HTTP {status}: " if status else ""
    return f"{action} failed: {prefix}{message_of(exc)}"


def with_retry(action: str, call: Callable[[], T], *, attempts: int = 5, base_delay: float = 0.5,
               max_delay: float = 8.0, sleep: Callable[[float], None] = time.sleep) -> T:
    """`call()` with up to `attempts` tries on transient errors; ProviderError(one line) when it gives up.

    Delays double from `base_delay` up to `max_delay`, with +-20% jitter so parallel stacks do not retry in
    lockstep. The worst case with the defaults is about 7.5 s of waiting.
    """
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ProviderError:
            raise
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise ProviderError(describe(action, exc)) from exc
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            sleep(delay * random.uniform(0.8, 1.2))
    raise AssertionError("unreachable")  # pragma: no cover


def poll(action: str, done: Callable[[], bool], *, timeout: float, interval: float = 0.5,
         sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
    """Wait until `done()` (each probe retried on transient errors); ProviderError after `timeout` seconds."""
    deadline = clock() + timeout
    while not with_retry(action, done, sleep=sleep):
        if clock() >= deadline:
            raise ProviderError(f"{action}: still not done after {timeout:.0f} s")
        sleep(interval)
