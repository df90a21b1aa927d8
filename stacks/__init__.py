"""The Pulumi program of one tenant stack (ships as `gcloud.stacks`).

`program.build(effective, platform)` is the factory the engine runs; the pure modules (`openstack_args`,
`kubernetes_manifests`) turn the effective spec into resource arguments and are tested without Pulumi.
"""
