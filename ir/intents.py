"""Intents: what the firewall must do, independent of backend syntax.

Emitters see only these records. Each intent is one rule's worth of meaning and carries its
address family, the network it belongs to, and the source span it came from. Lists of intents are
in evaluation order within each kind of chain; emitters may regroup by kind and by network but
never reorder within a group.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .model import AddressRange, Family, IPNetwork, PortRange
from .span import Span


class Proto(enum.Enum):
    TCP = "tcp"
    UDP = "udp"


class Direction(enum.Enum):
    """Which side of the bridge a forwarded packet comes from."""

    FROM_GUESTS = "from_guests"  # in on the bridge
    TO_GUESTS = "to_guests"  # out on the bridge


class HostPath(enum.Enum):
    """Traffic between guests and the host itself."""

    GUEST_TO_HOST = "guest_to_host"  # input hook, in on the bridge
    HOST_TO_GUEST = "host_to_guest"  # output hook, out on the bridge


@dataclass(frozen=True, slots=True)
class ForwardCross:
    """Guests on one bridge may talk to each other (in and out on the same bridge)."""

    family: Family
    network: str
    bridge: str
    span: Span


@dataclass(frozen=True, slots=True)
class ForwardAllowOut:
    """Packets from the subnet, in on the bridge (and out on `out_dev` if set), are accepted."""

    family: Family
    network: str
    bridge: str
    subnet: IPNetwork
    out_dev: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class ForwardAllowIn:
    """Packets to the subnet, out on the bridge (and in on `in_dev` if set), are accepted.

    With `established_only` only replies (conntrack established/related) pass; without it any host
    may open connections to the subnet (libvirt's routed subnets, and IPv6 in nat mode).
    """

    family: Family
    network: str
    bridge: str
    subnet: IPNetwork
    in_dev: str | None
    established_only: bool
    span: Span


@dataclass(frozen=True, slots=True)
class ForwardReject:
    """Whatever forwarded traffic of this family got this far on the bridge is rejected."""

    family: Family
    network: str
    bridge: str
    direction: Direction
    span: Span


@dataclass(frozen=True, slots=True)
class HostAccept:
    """A service on the host that guests use (DHCP, DNS, TFTP) is accepted on the bridge."""

    family: Family
    network: str
    bridge: str
    path: HostPath
    proto: Proto
    port: int
    service: str
    span: Span


@dataclass(frozen=True, slots=True)
class NatExclude:
    """Packets from the subnet to `destination` leave untranslated (they never leave the host)."""

    family: Family
    network: str
    subnet: IPNetwork
    destination: IPNetwork
    out_dev: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class NatTranslate:
    """Packets from the subnet to anywhere outside it get a new source.

    `to_addresses` None means masquerade (the outgoing interface's address); `ports` None keeps
    the source port; `proto` None matches every protocol.
    """

    family: Family
    network: str
    subnet: IPNetwork
    out_dev: str | None
    proto: Proto | None
    to_addresses: AddressRange | None
    ports: PortRange | None
    span: Span


Intent = (
    ForwardCross
    | ForwardAllowOut
    | ForwardAllowIn
    | ForwardReject
    | HostAccept
    | NatExclude
    | NatTranslate
)
