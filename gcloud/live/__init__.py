"""What the clouds really hold: drift against each tenant's stack, foreign objects, expiries still in effect, and
the live view in the tenant model's shape so the same policies run on it.

The pure parts (`expiry`, `view`, the report values) take plain data; `drift.run_drift` is the edge that runs the
engine's preview-only refresh.
"""
