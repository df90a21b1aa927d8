"""govcloud: one cloud, many departments.

Data flows one way: files -> model -> policy -> plan -> engine -> clouds -> verify/report.
"""

__version__ = "0.1.0"
