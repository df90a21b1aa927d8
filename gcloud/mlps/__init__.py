"""`govcloud doctor --mlps`: the platform's own settings a level-3 cloud needs, read where the deployment keeps them.

`checks` holds the result values, `kubernetes` and `openstack` the pure checks over parsed settings, `read` the
edge that reads the files (and etcd) that platform.yaml's `spec.deployment` names.
"""

from .checks import MlpsReport, Setting, SettingCheck

__all__ = ["MlpsReport", "Setting", "SettingCheck"]
