"""The report page for security and auditors."""
