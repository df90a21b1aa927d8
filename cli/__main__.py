"""`python -m cli` (from a checkout) and `python -m gcloud.cli` (installed)."""

from .app import script

script()
