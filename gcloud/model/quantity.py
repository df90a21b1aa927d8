"""Kubernetes resource quantities ("500m", "64Gi", "1Ti", "200") parsed to exact decimals for sums."""

from __future__ import annotations

import re
from decimal import Decimal

_SUFFIX = {
    "": Decimal(1), "m": Decimal("0.001"), "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9),
    "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40), "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(
    r"^([+]?[0-9]+(?:\.[0-9]+)?|[+]?\.[0-9]+)"  # number
    r"(?:[eE]([+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?$"  # decimal exponent or suffix
)


def parse_quantity(text: str) -> Decimal:
    """Exact value of a Kubernetes quantity; ValueError when it is not one."""
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (e.g. 500m, 16, 64Gi)")
    number, exponent, suffix = match.groups()
    value = Decimal(number)
    if exponent is not None:
        return value * Decimal(10) ** int(exponent)
    return value * _SUFFIX[suffix or ""]


def format_quantity(value: Decimal) -> str:
    """A readable form of a summed quantity (binary suffix when exact, else plain)."""
    for suffix in ("Ti", "Gi", "Mi", "Ki"):
        unit = _SUFFIX[suffix]
        if value >= unit and value % unit == 0:
            return f"{value // unit}{suffix}"
    return str(value.normalize()) if value == value.to_integral() else f"{(value * 1000).normalize()}m"
