"""Passwords govcloud makes for Keystone users (the sandbox's services, `verify`'s temporary members).

A level-3 cloud sets Keystone's `password_regex` (an upper-case letter, a lower-case one, a digit, a sign and a
length are what assessments ask), and Keystone refuses a user whose password does not match it. A random token
alone may lack a class now and then; these never do.
"""

from __future__ import annotations

import secrets

CLASSES_SUFFIX = "-Gc7"
"""One sign, one upper-case and one lower-case letter, one digit: every class a complexity rule asks for."""


def complete(token: str) -> str:
    """`token` (random, from the caller) with one character of every class appended."""
    return f"{token}{CLASSES_SUFFIX}"


def new_password() -> str:
    """32 random URL-safe characters (192 bits), plus one character of every class."""
    return complete(secrets.token_urlsafe(24))
