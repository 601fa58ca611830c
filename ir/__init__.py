"""netc's intermediate representation: the network model and the intents it lowers to."""

from .intents import (
    Direction,
    ForwardAllowIn,
    ForwardAllowOut,
    ForwardCross,
    ForwardReject,
    HostAccept,
    HostPath,
    Intent,
    NatExclude,
    NatTranslate,
    Proto,
)
from .model import (
    DEFAULT_NAT_PORTS,
    AddressRange,
    DhcpHost,
    Family,
    Forward,
    Mode,
    Network,
    PortRange,
    Program,
    Subnet,
)
from .span import Span

__all__ = [
    "DEFAULT_NAT_PORTS",
    "AddressRange",
    "DhcpHost",
    "Direction",
    "Family",
    "Forward",
    "ForwardAllowIn",
    "ForwardAllowOut",
    "ForwardCross",
    "ForwardReject",
    "HostAccept",
    "HostPath",
    "Intent",
    "Mode",
    "NatExclude",
    "NatTranslate",
    "Network",
    "PortRange",
    "Program",
    "Proto",
    "Span",
    "Subnet",
]
