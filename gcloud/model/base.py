"""Shared pydantic building blocks: camelCase aliases, no unknown keys, strict scalars, Kubernetes names."""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt
from pydantic.alias_generators import to_camel

from .quantity import parse_quantity


class Model(BaseModel):
    """Every file section: camelCase keys, unknown keys refused (a typo must not drop a quota), frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True,
        str_strip_whitespace=False, validate_default=False,
    )


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not DNS_LABEL.match(value):
        raise ValueError("must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending "
                         "with a letter or digit, at most 63 characters")
    return value


def _tenant_id(value: str) -> str:
    _dns_label(value)
    if not 2 <= len(value) <= 40:
        raise ValueError("must be 2-40 characters")
    return value


_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def _labels(value: dict[str, str]) -> dict[str, str]:
    for key, item in value.items():
        if len(key) > 316 or not _LABEL_KEY.match(key):
            raise ValueError(f"label key {key!r} is not a valid Kubernetes label key")
        if len(item) > 63 or not _LABEL_VALUE.match(item):
            raise ValueError(f"label {key}={item!r}: values are at most 63 ASCII letters, digits, '-', '_', '.'")
    return value


def _quantity(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a Kubernetes quantity such as 500m, 16, 64Gi")
    text = str(value)
    if text != "-1":
        parse_quantity(text)
    return text


def _ipv4_network(value: Any) -> IPv4Network:
    if isinstance(value, IPv4Network):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an IPv4 CIDR such as 10.20.1.0/24")
    try:
        return IPv4Network(value)
    except ValueError as err:
        raise ValueError(f"{value!r} is not a valid IPv4 CIDR: {err}") from None


def _private_network(value: IPv4Network) -> IPv4Network:
    if not value.is_private:
        raise ValueError(f"{value} is not a private range (RFC 1918)")
    return value


DnsLabel = Annotated[str, Field(strict=True), AfterValidator(_dns_label)]
TenantId = Annotated[str, Field(strict=True), AfterValidator(_tenant_id)]
Labels = Annotated[dict[str, str], AfterValidator(_labels)]
QuotaInt = Annotated[StrictInt, Field(ge=-1, description="count; -1 = unlimited (policies may forbid it)")]
Quantity = Annotated[str, BeforeValidator(_quantity)]
KubeQuota = dict[str, Quantity]
Cidr = Annotated[IPv4Network, BeforeValidator(_ipv4_network)]
PrivateNetwork = Annotated[IPv4Network, BeforeValidator(_ipv4_network), AfterValidator(_private_network)]
Address = IPv4Address
Flag = StrictBool
NonEmpty = Annotated[str, Field(strict=True, min_length=1)]
