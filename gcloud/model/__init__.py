"""The pure core's first layer: tenant and platform files -> validated models -> effective specs.

Imports no engine, cloud client or CLI library.
"""

from .fleet import Fleet, TenantDocument, load_fleet, load_platform, parse_field_path, tenant_files
from .platform import Platform
from .tenant import Tenant, WaiverEntry
from .yamlsrc import YamlDocument, load_yaml

__all__ = [
    "Fleet", "Platform", "Tenant", "TenantDocument", "WaiverEntry", "YamlDocument", "load_fleet", "load_platform",
    "load_yaml", "parse_field_path", "tenant_files",
]
