"""Split a fleet across CI runners: `--shard I/N` picks the tenants of runner I out of N (1-based).

Rendezvous (highest-random-weight) hashing on sha256: each tenant goes to the shard whose hash of
`shard:tenant` is highest. Why not `i % N` over a sorted list: there, adding one tenant shifts every tenant after
it to another runner. Here a tenant's shard depends on its own name and N only, so adding or removing a tenant
moves no other tenant, and going from N to N+1 runners moves only the tenants the new shard wins (about
1/(N+1) of them). sha256 and not Python's `hash()`: the split must be the same in every process and on every
machine (string hashing is salted per process).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from gcloud.errors import InputError
from gcloud.model import Fleet

MAX_SHARDS = 1000
_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def _weight(tenant: str, shard: int) -> int:
    digest = hashlib.sha256(f"{shard}:{tenant}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def shard_of(tenant: str, count: int) -> int:
    """The shard (1..count) a tenant belongs to when the fleet is split `count` ways."""
    if count < 1:
        raise ValueError(f"shard count must be at least 1, not {count}")
    return max(range(1, count + 1), key=lambda shard: (_weight(tenant, shard), -shard))


def select_shard(names: Iterable[str], index: int, count: int) -> list[str]:
    """The names of shard `index` (1-based) of `count`, in the order given."""
    if not 1 <= index <= count:
        raise ValueError(f"shard {index} is not in 1..{count}")
    return [name for name in names if shard_of(name, count) == index]


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based, as CI systems number parallel jobs)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, tenant: str) -> bool:
        return shard_of(tenant, self.count) == self.index

    def select(self, names: Iterable[str]) -> list[str]:
        return select_shard(names, self.index, self.count)


def parse_shard(text: str, source: str = "--shard") -> Shard:
    """`"2/3"` -> Shard(2, 3); InputError naming the option for anything else (`0/3`, `4/3`, `2`, `a/b`)."""
    match = _SPEC.fullmatch(text)
    hint = "give I/N with 1 <= I <= N, e.g. --shard 2/3 (GitLab CI: --shard $CI_NODE_INDEX/$CI_NODE_TOTAL)"
    if match is None:
        raise InputError.single(source, f"{text!r} is not I/N", code="bad-shard", hint=hint)
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= count <= MAX_SHARDS:
        raise InputError.single(source, f"{text!r}: N must be 1..{MAX_SHARDS}", code="bad-shard", hint=hint)
    if not 1 <= index <= count:
        raise InputError.single(source, f"{text!r}: I must be 1..{count}", code="bad-shard", hint=hint)
    return Shard(index, count)


def shard_option(text: str | None) -> Shard | None:
    """The value of a `--shard` option as commands take it: None when not given, else a checked Shard."""
    return None if text is None else parse_shard(text)


def restrict(fleet: Fleet, shard: Shard | None) -> Fleet:
    """The fleet with only this shard's tenants as targets (the whole set stays loaded for cross-tenant rules)."""
    if shard is None:
        return fleet
    return dataclasses.replace(fleet, target_names=frozenset(n for n in fleet.target_names if shard.holds(n)))
