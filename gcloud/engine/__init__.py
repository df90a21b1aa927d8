"""The Pulumi engine, offline: toolchain discovery, settings, one stack per tenant, parallel runs, typed errors.

Import from the submodules (`gcloud.engine.stack`, `.runner`, `.settings`, `.toolchain`, `.errors`); this package
imports nothing itself so that `import gcloud.engine.errors` stays cheap.
"""
