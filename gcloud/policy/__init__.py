"""Policy as reviewed files: CEL rules over the effective tenant, waivers that expire, SARIF/JUnit reports.

Pure core: imports no engine, cloud client or CLI library.

    policies = load_policies(Path("policies"))             # InputError with file:line on a bad file
    result = check_fleet(fleet, policies, today)            # CheckResult: findings are values
    print(FORMATTERS["sarif"](result))                      # table | json | sarif | junit
    results = run_examples(policies)                        # `policy test`
"""

from .check import check_fleet, run_check
from .evaluate import Checker, Subject
from .examples import ExampleResult, run_examples
from .explain import explain
from .finding import CheckResult, Finding, Status
from .formats import FORMATTERS
from .loader import load_policies
from .policy import Policy, PolicySet

__all__ = [
    "FORMATTERS", "CheckResult", "Checker", "ExampleResult", "Finding", "Policy", "PolicySet", "Status", "Subject",
    "check_fleet", "explain", "load_policies", "run_check", "run_examples",
]
