"""ML2 mechanism driver for govcloud's sandbox (runs inside neutron, never inside govcloud)."""
