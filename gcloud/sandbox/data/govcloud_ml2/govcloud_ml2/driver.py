"""Agentless ML2 mechanism driver: binds every port on every host.

The sandbox runs no L2 agents, so without a driver that binds ports nova reports `PortBindingFailed` and
router gateway ports stay unbound. This driver binds the first segment offered with `vif_type=other`.
"""

from typing import Any

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class BindAllMechanismDriver(api.MechanismDriver):  # type: ignore[misc]
    """Binds any port to the first segment it is offered; there is no dataplane behind it."""

    def initialize(self) -> None:
        """Nothing to set up: no agents, no RPC."""

    def bind_port(self, context: Any) -> None:
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OTHER,
                {portbindings.CAP_PORT_FILTER: False},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return
