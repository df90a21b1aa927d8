"""Live isolation checks: a tenant sees and reaches only its own things, in every cloud it uses.

Results are values (`CheckResult`) that the CLI renders and the report keeps; clients are injected.
"""

from .results import AccessReview, CheckResult
from .tenant import Clients, group_owners, verify_tenant

__all__ = ["AccessReview", "CheckResult", "Clients", "group_owners", "verify_tenant"]
