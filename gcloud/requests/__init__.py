"""Quota change requests: a department asks, the rules and people decide, the tenant file is edited.

The pure core (model, keys, rules, checks, edit, view, service) imports no cloud client; live usage is read at
the edge (`usage.py`), by clients handed in.
"""

from .model import QuotaRequest, Role, State
from .service import (
    Effects,
    Workspace,
    approve_request,
    list_requests,
    reject_request,
    request_quota,
    show_request,
    withdraw_request,
)

__all__ = [
    "Effects", "QuotaRequest", "Role", "State", "Workspace", "approve_request", "list_requests", "reject_request",
    "request_quota", "show_request", "withdraw_request",
]
