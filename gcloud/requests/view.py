"""`quota show`: each asked key beside the tenant's tier value and its value now, in plain units."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gcloud.model import Platform, Tenant
from gcloud.model.quantity import parse_quantity

from .model import QuotaRequest, QuotaValue

_UNITS = {"ramMB": "MiB", "gigabytes": "GiB", "backupGigabytes": "GiB", "cores": "cores"}


def plain(key: str, value: QuotaValue | None) -> str:
    """`compute.ramMB` 131072 -> "128 GiB"; `requests.memory` "64Gi" -> "64 GiB"; -1 -> "unlimited"."""
    if value is None:
        return "unset"
    if str(value) == "-1":
        return "unlimited"
    leaf = key.rsplit(".", 1)[-1]
    if isinstance(value, int):
        if leaf == "ramMB":
            return f"{value // 1024} GiB" if value % 1024 == 0 else f"{value} MiB"
        unit = _UNITS.get(leaf)
        return f"{value} {unit}" if unit else str(value)
    amount = parse_quantity(value)
    if key.endswith(("memory", "storage")):
        for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
            if amount >= size:
                return f"{_number(amount / size)} {unit}"
        return f"{_number(amount)} bytes"
    if key.endswith("cpu"):
        return f"{_number(amount)} CPU"
    return _number(amount)


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}" if value != value.to_integral() else str(int(value))


@dataclass(frozen=True)
class ShownChange:
    key: str
    tier: str
    """The tier's value of this key in plain units ("-" when the tier does not set it or there is no tier)."""
    current: str
    requested: str


@dataclass(frozen=True)
class RequestView:
    request: QuotaRequest
    tier_name: str | None
    changes: tuple[ShownChange, ...]


def view(request: QuotaRequest, tenant: Tenant | None, platform: Platform) -> RequestView:
    """The request with the tenant's current tier values (None tenant: it left the set since)."""
    tier_name = tenant.spec.tier if tenant else None
    tier = platform.tier_quotas.get(tier_name or "", {})
    shown = []
    for change in request.spec.changes:
        service, _, leaf = change.key.partition(".")
        tier_value = tier.get(service, {}).get(leaf)
        shown.append(ShownChange(change.key, plain(change.key, tier_value) if tier_value is not None else "-",
                                 plain(change.key, change.current), plain(change.key, change.requested)))
    return RequestView(request, tier_name, tuple(shown))
