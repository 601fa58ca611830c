"""Intents: what the firewall must do, independent of backend syntax.

Emitters see only these records. Each intent is one rule's worth of meaning and carries its
address family, the network it belongs to, and the source span it came from. Lists of intents are
in evaluation order within each kind of chain; emitters may regroup by kind and by network but
never reorder within a group.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# Proto lives in the model (port forwards and filters name it) and is re-exported from here.
from .model import AddressRange, Family, IPAddress, IPNetwork, PortRange, Proto  # noqa: F401
from .span import Span


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


class NatHook(enum.Enum):
    """Where a destination NAT is decided."""

    PREROUTING = "prerouting"  # connections arriving at the host (from outside or from guests)
    OUTPUT = "output"  # connections the host itself opens


class Verdict(enum.Enum):
    ACCEPT = "accept"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Dnat:
    """New connections to a host port are sent to `target` (port forward, `expose`).

    `host_address` None means "addressed to any of the host's own addresses" (nft `fib daddr type
    local`, iptables `addrtype --dst-type LOCAL`); at the OUTPUT hook loopback destinations are
    left alone, since a 127.0.0.1 source cannot be routed to a guest. `target_ports` None keeps
    the destination port (it already is the target's).
    """

    family: Family
    network: str
    hook: NatHook
    proto: Proto
    host_ports: PortRange
    host_address: IPAddress | None
    in_dev: str | None
    target: IPAddress
    target_ports: PortRange | None
    span: Span


@dataclass(frozen=True, slots=True)
class ForwardAllowDnat:
    """A connection that netc's DNAT sent to a guest port is accepted on its way to the bridge.

    Matched by conntrack status (dnat), so only translated connections pass: the guest port is not
    opened to anyone who routes to the subnet directly. Comes before the network's rejects and
    before guest isolation, so hairpinned connections pass too.
    """

    family: Family
    network: str
    bridge: str
    proto: Proto
    target: IPAddress
    target_ports: PortRange
    span: Span


@dataclass(frozen=True, slots=True)
class NatHairpin:
    """A guest's connection to a forwarded port of another guest (same bridge) is masqueraded.

    Without it the target would answer the client directly on the bridge, with its own address,
    and the client would drop a reply from an address it never spoke to.
    """

    family: Family
    network: str
    bridge: str
    subnet: IPNetwork
    proto: Proto
    target: IPAddress
    target_ports: PortRange
    span: Span


@dataclass(frozen=True, slots=True)
class ForwardCrossEstablished:
    """Replies on connections between guests that something allowed (hairpins) pass the bridge."""

    family: Family
    network: str
    bridge: str
    span: Span


@dataclass(frozen=True, slots=True)
class ForwardIsolate:
    """Guests on one bridge may not talk to each other: in and out on the bridge is rejected.

    In the IP hooks this only sees bridged traffic when br_netfilter is on; the bridge ports'
    `isolated` flag (see `netc.host.port_isolation`) is what enforces it without br_netfilter.
    """

    family: Family
    network: str
    bridge: str
    span: Span


@dataclass(frozen=True, slots=True)
class ForwardFilter:
    """Guest traffic from `subnet` to `destination` is accepted or rejected before the defaults."""

    family: Family
    network: str
    bridge: str
    subnet: IPNetwork
    destination: IPNetwork
    proto: Proto | None
    ports: PortRange | None
    verdict: Verdict
    span: Span


@dataclass(frozen=True, slots=True)
class ForwardFilterIn:
    """Traffic from `source` to `destination` (a guest subnet, or a prefix inside one), out on
    the bridge and in on any *other* interface, is accepted or rejected first in the forward path
    to the guests: before the port forward accepts (a denied prefix cannot use an `expose`d port
    either; the filter sees the translated guest address and port) and the mode's defaults.
    Traffic in on the bridge itself (guest <-> guest, hairpins) is never matched: that is the
    guest <-> guest rule's (or `isolate guests`') business, whatever the source prefix covers.
    """

    family: Family
    network: str
    bridge: str
    source: IPNetwork
    destination: IPNetwork
    proto: Proto | None
    ports: PortRange | None
    verdict: Verdict
    span: Span


@dataclass(frozen=True, slots=True)
class HostAcceptEstablished:
    """Replies to connections the host opened to guests come back in (before the host reject)."""

    family: Family
    network: str
    bridge: str
    span: Span


@dataclass(frozen=True, slots=True)
class HostAcceptIcmp:
    """ICMP from guests to the host passes; for IPv6 this carries neighbour discovery."""

    family: Family
    network: str
    bridge: str
    span: Span


@dataclass(frozen=True, slots=True)
class HostAllow:
    """A service listed in `services { }` is accepted from guests to the host."""

    family: Family
    network: str
    bridge: str
    proto: Proto
    ports: PortRange
    service: str
    span: Span


@dataclass(frozen=True, slots=True)
class HostReject:
    """Whatever else guests send to the host is rejected (only when `services` is given)."""

    family: Family
    network: str
    bridge: str
    span: Span


# The intents that name the bridge their rule matches on (all but the NAT ones).
OnBridge = (
    ForwardCross
    | ForwardAllowOut
    | ForwardAllowIn
    | ForwardReject
    | HostAccept
    | ForwardAllowDnat
    | NatHairpin
    | ForwardCrossEstablished
    | ForwardIsolate
    | ForwardFilter
    | ForwardFilterIn
    | HostAcceptEstablished
    | HostAcceptIcmp
    | HostAllow
    | HostReject
)

# Every intent: those on a bridge, and the NAT ones (they match subnets, not bridges).
Intent = OnBridge | NatExclude | NatTranslate | Dnat
