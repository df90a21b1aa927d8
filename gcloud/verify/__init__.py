"""Live isolation checks: a tenant sees and reaches only its own things, in every cloud it uses.

Results are values (`IsolationCheck`) that the CLI renders and the report keeps; clients are injected.
"""

from .results import AccessReview, IsolationCheck
from .tenant import Clients, VerifyReport, group_owners, verify_fleet, verify_tenant

__all__ = ["AccessReview", "Clients", "IsolationCheck", "VerifyReport", "group_owners", "verify_fleet",
           "verify_tenant"]
