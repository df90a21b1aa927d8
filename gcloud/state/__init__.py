"""Where govcloud's shared state lives: beside the stacks, in a local folder or on a PostgreSQL server.

The engine's stacks go wherever PULUMI_BACKEND_URL (or the state folder) says. govcloud's own files follow them:
the applied record, results (drift and the like) and the audit log are kept in the same place, so several
working folders (CI runners on several machines) that share one `postgres://` backend see one fleet. This package
is the seam: `backend.open_store` picks the local or the PostgreSQL implementation from the backend URL.
Nothing here is imported by `govcloud --help`; psycopg is imported only when a PostgreSQL backend is used.
"""
