"""Keep secrets out of the audit log: redact by field name, by shape, and by the secrets this process holds.

An audit log is read by many people and kept for years (MLPS 2.0 asks for at least six months), so anything that
looks like a credential is replaced before it is written, not when it is shown.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Mapping

REDACTED = "[redacted]"

SECRET_NAME = re.compile(
    r"pass(word|phrase|wd)?|secret|token|credential|api[-_]?key|access[-_]?key|private[-_]?key|"
    r"auth|cookie|session|signature|(^|[-_.])key$",
    re.IGNORECASE,
)
"""A field or variable name whose value is a secret whatever it looks like."""

_SHAPES = (
    re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(-----END [A-Z0-9 ]+-----|$)", re.DOTALL),  # PEM blocks
    re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"),  # JSON web tokens
    re.compile(r"\b(?:gAAAAA|AKIA|ghp_|glpat-|xox[bp]-)[\w+/=-]{8,}"),  # Keystone fernet, AWS, GitHub, GitLab, Slack
)
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)
_ASSIGNMENT = re.compile(
    r"\b((?:pass(?:word|phrase|wd)?|secret|token|api[-_]?key|access[-_]?key)\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{24,}")
_MIN_ENV_SECRET = 6
_ENTROPY_BITS = 4.2  # random base64 is ~5-6 bits a character; names and hex digests stay under ~4


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_random(token: str) -> bool:
    has_letter = any(ch.isalpha() for ch in token)
    has_digit = any(ch.isdigit() for ch in token)
    return has_letter and has_digit and _entropy(token) >= _ENTROPY_BITS


def environment_secrets(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The values of this process's secret-named variables (PULUMI_CONFIG_PASSPHRASE, OS_PASSWORD, ...)."""
    env = os.environ if environ is None else environ
    found = {value for name, value in env.items() if SECRET_NAME.search(name) and len(value) >= _MIN_ENV_SECRET}
    return tuple(sorted(found, key=len, reverse=True))  # longest first: a secret containing another goes whole


def scrub_text(text: str, known: tuple[str, ...] = ()) -> str:
    """`text` with every known secret and every secret-shaped part replaced by [redacted]."""
    for secret in known:
        text = text.replace(secret, REDACTED)
    for shape in _SHAPES:
        text = shape.sub(REDACTED, text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    text = _ASSIGNMENT.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _TOKEN.sub(lambda m: REDACTED if _looks_random(m.group(0)) else m.group(0), text)


def scrub_detail(detail: Mapping[str, str], known: tuple[str, ...] = ()) -> dict[str, str]:
    """A detail mapping safe to store: secret-named fields redacted whole, the rest scrubbed by shape."""
    return {
        str(key): REDACTED if SECRET_NAME.search(str(key)) else scrub_text(str(value), known)
        for key, value in detail.items()
    }
