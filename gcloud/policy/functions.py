"""The few functions policies need that CEL lacks: CIDRs, ports, quantities, day counts, sums, uniqueness.

Each is total over the values the loaders let through (CIDRs, ports and quantities are validated there), so a
policy never fails because a helper raised; a value that still does not parse is treated as the unsafe case.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Network, ip_network
from typing import Any

from gcloud.model.quantity import parse_quantity


@lru_cache(maxsize=4096)
def _network(text: str) -> IPv4Network | None:
    try:
        network = ip_network(text, strict=False)
    except ValueError:
        return None
    return network if isinstance(network, IPv4Network) else None


def cidr_contains(outer: str, inner: str) -> bool:
    """`cidrContains("10.0.0.0/8", "10.1.0.0/16")`: every address of `inner` lies in `outer`."""
    big, small = _network(outer), _network(inner)
    return big is not None and small is not None and small.subnet_of(big)


RFC1918 = tuple(IPv4Network(text) for text in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


_RFC1918_BOUNDS = tuple((int(block.network_address), int(block.broadcast_address)) for block in RFC1918)
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_CIDR = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(?:/(3[0-2]|[12]?[0-9]))?\Z")
"""Dotted quad without leading zeros, optional prefix: what `ip_network(strict=False)` reads as written."""


def cidr_bounds(text: str) -> tuple[int, int] | None:
    """First and last address of an IPv4 range, as `ip_network(text, strict=False)` has them (None: unreadable).

    Canonical text is read by one regex match and integer arithmetic (`ip_network` costs ~10 us, a tenth of
    checking a tenant with 42 rules); anything else goes to `ip_network` itself."""
    canonical = _CANONICAL_CIDR.match(text) if type(text) is str else None
    if canonical is None:
        network = _network(text)
        return None if network is None else (int(network.network_address), int(network.broadcast_address))
    a, b, c, d, prefix = canonical.groups()
    address = (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
    host = (1 << (32 - int(prefix if prefix is not None else 32))) - 1
    first = address & ~host & 0xFFFFFFFF
    return first, first | host


def cidr_is_private(text: str) -> bool:
    """`cidrIsPrivate(r.remoteCidr)`: the whole range lies in RFC 1918 space (10/8, 172.16/12, 192.168/16).

    Narrower than Python's `is_private` on purpose: documentation and benchmark ranges (203.0.113.0/24, ...)
    are not the government's network.
    """
    bounds = cidr_bounds(text)
    return bounds is not None and any(low <= bounds[0] and bounds[1] <= high for low, high in _RFC1918_BOUNDS)


def cidr_overlaps(first: str, second: str) -> bool:
    """`cidrOverlaps("0.0.0.0/1", "10.16.0.0/12")`: the two ranges share at least one address.

    An unparsable range overlaps everything (the unsafe reading), so a rule never passes on a value it cannot read.
    """
    one, other = _network(first), _network(second)
    return one is None or other is None or one.overlaps(other)


def cidr_overlaps_any(cidr: str, others: Sequence[str]) -> bool:
    """`cidrOverlapsAny(r.remoteCidr, platform.spec.adminNetworks)`: the range shares an address with one of them."""
    return any(cidr_overlaps(cidr, other) for other in others)


def cidr_is_public(text: str) -> bool:
    """`cidrIsPublic(r.remoteCidr)`: the range holds at least one address outside RFC 1918 (public ingress).

    Sets, not strings: 0.0.0.0/0, 0.0.0.0/1 + 128.0.0.0/1, 10.0.0.0/7 and 203.0.113.0/24 are all public.
    """
    return not cidr_is_private(text)


@lru_cache(maxsize=1024)
def _port_range(ports: str | None) -> tuple[int, int]:
    """("20-30") -> (20, 30); null or anything unparsable counts as every port (the unsafe reading)."""
    if ports is None:
        return 0, 65535
    low_text, _, high_text = ports.partition("-")
    try:
        low = int(low_text)
        return low, int(high_text) if high_text else low
    except ValueError:
        return 0, 65535


def ports_include(ports: Any, port: int) -> bool:
    """`portsInclude(r.ports, 22)`: a rule's ports ("22", "20-30", 22, or null = every port) cover `port`."""
    low, high = _port_range(None if ports is None else str(ports))
    return low <= port <= high


def ports_include_any(ports: Any, wanted: Sequence[int]) -> bool:
    """`portsIncludeAny(r.ports, [22, 3389])`: the rule's ports cover at least one of `wanted`."""
    low, high = _port_range(None if ports is None else str(ports))
    return any(low <= port <= high for port in wanted)


def quantity(text: Any) -> float:
    """`quantity("64Gi")` -> 68719476736.0: a Kubernetes quantity as a number ("-1" = unlimited = infinity)."""
    value = str(text)
    if value == "-1":
        return math.inf
    try:
        return float(parse_quantity(value))
    except ValueError:
        return math.inf


def days_between(start: str, end: str) -> int:
    """`daysBetween(today, w.expires)`: calendar days from one ISO date (YYYY-MM-DD) to another."""
    return (dt.date.fromisoformat(str(end)[:10]) - dt.date.fromisoformat(str(start)[:10])).days


def sum_of(values: Sequence[Any]) -> float:
    """`sum(list)`: the total of a list of numbers, as a double (so it compares with capacities)."""
    return float(sum(float(value) for value in values))


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def lower_ascii(text: str) -> str:
    """`lowerAscii(email)`: ASCII letters lower-cased (CEL's strings extension name), other text untouched."""
    text = str(text)
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def unique(values: Sequence[Any]) -> bool:
    """`unique(list)`: no two items are equal, ignoring ASCII case (Li@x.gov.cn and li@x.gov.cn are one person)."""
    seen = [lower_ascii(value) if isinstance(value, str) else repr(value) for value in values]
    return len(set(seen)) == len(seen)


def email_in_domains(email: Any, domains: Sequence[str]) -> bool:
    """`emailInDomains(p.email, platform.spec.officialEmailDomains)`: the address's domain is one of `domains`
    or a subdomain of one, ignoring ASCII case (x@czj.hz.gov.cn is in gov.cn; x@notgov.cn is not)."""
    domain = lower_ascii(str(email)).rpartition("@")[2]
    return any(domain == wanted or domain.endswith("." + wanted) for wanted in map(lower_ascii, domains))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "cidrOverlaps": cidr_overlaps,
    "cidrOverlapsAny": cidr_overlaps_any,
    "cidrIsPublic": cidr_is_public,
    "cidrContains": cidr_contains,
    "cidrIsPrivate": cidr_is_private,
    "portsInclude": ports_include,
    "portsIncludeAny": ports_include_any,
    "emailInDomains": email_in_domains,
    "quantity": quantity,
    "daysBetween": days_between,
    "sum": sum_of,
    "lowerAscii": lower_ascii,
    "unique": unique,
}
FUNCTION_NAMES = frozenset(FUNCTIONS)


class UnsupportedRegex(ValueError):
    """A `matches` the quick path does not take; the rule is evaluated again with CEL's own `matches`."""


_REGEX_META_ESCAPE = r"\\[.+*?()|\[\]{}^$\\-]"
_REGEX_ATOM = re.compile(rf"""
    {_REGEX_META_ESCAPE}
  | \[\^?(?:[A-Za-z0-9](?:-[A-Za-z0-9])?|{_REGEX_META_ESCAPE}|[_.@:/])+-?\]
  | [A-Za-z0-9_@:/,=%#&~<>!'" -]
  | \.
""", re.VERBOSE)
_REGEX_QUANTIFIER = re.compile(r"[*+?]|\{[0-9]{1,2}\}")
REGEX_MAX_CHARS = 256
"""Longer patterns or texts take CEL's own `matches` (linear time): in the subset below Python's backtracking
costs at most (text length) ** 2 * 2 ** 4 steps."""


_LITERAL_ATOM = re.compile(r"""\\[.+*?()|\[\]{}^$\\-]|[A-Za-z0-9_@:/,=%#&~<>!'" -]""")
"""An atom that stands for one character, itself (`\\.` for `.`)."""


@dataclass(frozen=True)
class QuickRegex:
    """A pattern of the quick subset: an anchored pattern is its literal prefix and the compiled rest, so patterns
    that differ only in the prefix (`"^" + tenant.metadata.name + "-[a-z0-9]+$"`, one per tenant) share one
    compiled regex: compiling is ~0.3 ms, a third of checking a tenant when it happened per tenant."""

    prefix: str
    """Matched at the start of the text (an anchored pattern); "" for an unanchored one."""
    rest: re.Pattern[str]
    anchored: bool

    def search(self, text: str) -> bool:
        if not self.anchored:
            return self.rest.search(text) is not None
        return text.startswith(self.prefix) and self.rest.match(text, len(self.prefix)) is not None


_LITERAL_PREFIX = re.compile(rf"""\^((?:(?:{_REGEX_META_ESCAPE}|[A-Za-z0-9_@:/,=%#&~<>!'" -])(?![*+?{{]))+)""")
"""An anchored pattern's leading literal atoms (none quantified), found in one match."""


@lru_cache(maxsize=4096)
def _quick_regex(pattern: str) -> QuickRegex | None:
    """`pattern` for Python's `re` when it is in a subset where RE2 (CEL's dialect, Rust's `regex`) and `re`
    mean the same: ASCII literals, meta-character escapes, ASCII classes, `.`, `^` first, `$` last, and
    quantifiers on single atoms (`*` or `+` once at most, `?` four times, `{n}`). No groups, alternation or
    class escapes (`\\d`, `\\w`, whose Unicode tables differ). Else None.

    A leading literal is split off by one regex match first, so patterns that differ only in it (one per
    tenant) parse their shared rest once: at 10,000 tenants the parse per pattern was a quarter of a check."""
    if len(pattern) > REGEX_MAX_CHARS:
        return None
    split = _LITERAL_PREFIX.match(pattern)
    if split is None:
        return _parsed_regex(pattern)
    rest = _parsed_regex("^" + pattern[split.end():])
    if rest is None:
        return None
    literal = "".join(atom[-1] for atom in _LITERAL_ATOM.findall(split.group(1)))  # `\\.` is `.`
    return QuickRegex(literal + rest.prefix, rest.rest, True)


@lru_cache(maxsize=1024)
def _parsed_regex(pattern: str) -> QuickRegex | None:
    anchored = pattern.startswith("^")
    atoms: list[tuple[str, str]] = []
    position, unbounded, optional, end = int(anchored), 0, 0, ""
    while position < len(pattern):
        if pattern[position] == "$" and position == len(pattern) - 1:
            end = r"\Z"  # RE2's `$` is the end of the text; re's also matches before a final newline
            break
        atom = _REGEX_ATOM.match(pattern, position)
        if atom is None:
            return None
        position = atom.end()
        quantifier = _REGEX_QUANTIFIER.match(pattern, position)
        if quantifier is not None:
            unbounded += quantifier.group() in ("*", "+")
            optional += quantifier.group() == "?"
            position = quantifier.end()
        atoms.append((atom.group(), quantifier.group() if quantifier else ""))
    if unbounded > 1 or optional > 4:
        return None
    literal = 0
    while anchored and literal < len(atoms) and not atoms[literal][1] and _LITERAL_ATOM.fullmatch(atoms[literal][0]):
        literal += 1
    prefix = "".join(atom[-1] for atom, _ in atoms[:literal])  # `\\.` is `.`, `a` is `a`
    return _compiled(prefix, "".join(atom + quantifier for atom, quantifier in atoms[literal:]) + end, anchored)


def _compiled(prefix: str, rest: str, anchored: bool) -> QuickRegex | None:
    compiled = _compile_rest(rest)
    return None if compiled is None else QuickRegex(prefix, compiled, anchored)


@lru_cache(maxsize=1024)
def _compile_rest(rest: str) -> re.Pattern[str] | None:
    try:
        return re.compile(rest)
    except re.error:
        return None


def quick_matches(text: Any, pattern: Any) -> bool:
    """`text.matches(pattern)` for the patterns `_quick_regex` takes, compiled once per run.

    CEL's own `matches` compiles its pattern at every call (~25 us; `g.group.matches("^" + name + "-...")` in
    GOV-IAM-003 was a third of evaluating the shared rules). Anything else raises, and the rule is evaluated
    again as written, so results and errors are CEL's.
    """
    if type(text) is not str or type(pattern) is not str or len(text) > REGEX_MAX_CHARS:
        raise UnsupportedRegex("not a short string")
    compiled = _quick_regex(pattern)
    if compiled is None:
        raise UnsupportedRegex("not in the quick subset")
    return compiled.search(text)


INTERNAL_FUNCTIONS: dict[str, Callable[..., Any]] = {"__matches": quick_matches}
"""Functions rewritten expressions call; policies cannot name them (they are not in FUNCTION_NAMES)."""
