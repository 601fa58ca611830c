"""The network model: what the user declared, after validation.

This is the first IR level. It says nothing about chains or rules; `compiler.lower` turns it into
intents (`ir.intents`).
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from .span import Span

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Family(enum.Enum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"

    @classmethod
    def of(cls, value: IPAddress | IPInterface | IPNetwork) -> "Family":
        return _family_of(value)


# The records' `family` properties are read for every subnet and intent many times over: a plain
# function and module constants are cheaper than the classmethod and the enum's class attributes.
_IPV4, _IPV6 = Family.IPV4, Family.IPV6


def zone_id_problem(text: str) -> tuple[str, str] | None:
    """Why `text` cannot stand for an address in a rule: (message, hint), or None.

    Python's `ipaddress` accepts an IPv6 zone id (`fe80::1%eth0`) with any characters after the
    `%`, newlines and braces included, and prints it back with the address: in an nft rule, an
    iptables line or generated `.net` text that is an injection, and no loader means anything by
    it. Every reader of addresses (the `.net` builder, the libvirt XML reader) asks this first.
    """
    head, percent, zone = text.partition("%")
    if not percent:
        return None
    shown_zone = zone if zone.isprintable() and len(zone) <= 20 else repr(zone[:20])
    return (
        f"'{head}%{shown_zone}' has an IPv6 zone id: a firewall rule matches addresses, not links",
        f"write the address without '%{shown_zone}'",
    )


def _family_of(value: IPAddress | IPInterface | IPNetwork) -> Family:
    return _IPV4 if value.version == 4 else _IPV6


class Proto(enum.Enum):
    TCP = "tcp"
    UDP = "udp"


class Mode(enum.Enum):
    """libvirt's forward modes that get firewall rules (plus `open`, which gets none)."""

    NAT = "nat"
    ROUTE = "route"
    OPEN = "open"
    ISOLATED = "isolated"


@dataclass(frozen=True, slots=True)
class PortRange:
    first: int
    last: int

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


DEFAULT_NAT_PORTS = PortRange(1024, 65535)


@dataclass(frozen=True, slots=True)
class AddressRange:
    """An inclusive range of addresses of one family (`first == last` for a single address)."""

    first: IPAddress
    last: IPAddress

    @property
    def family(self) -> Family:
        return _family_of(self.first)


@dataclass(frozen=True, slots=True)
class DhcpHost:
    address: IPAddress
    mac: str | None
    name: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Subnet:
    """One `ip` block: the host's gateway address on the bridge, its prefix, and what it serves."""

    gateway: IPInterface
    dhcp_ranges: tuple[AddressRange, ...]
    dhcp_hosts: tuple[DhcpHost, ...]
    tftp_root: str | None
    bootp_file: str | None
    bootp_server: IPAddress | None
    span: Span

    @property
    def family(self) -> Family:
        return _family_of(self.gateway)

    @property
    def network(self) -> IPNetwork:
        return self.gateway.network

    @property
    def serves_dhcp(self) -> bool:
        return bool(self.dhcp_ranges or self.dhcp_hosts)


@dataclass(frozen=True, slots=True)
class Forward:
    mode: Mode
    dev: str | None
    nat_addresses: tuple[AddressRange, ...]  # at most one per family
    nat_ports: PortRange
    ipv6_nat: bool
    stateful_inbound: bool  # route mode: only established/related traffic may enter
    span: Span

    def nat_address_for(self, family: Family) -> AddressRange | None:
        return next((r for r in self.nat_addresses if r.family is family), None)


@dataclass(frozen=True, slots=True)
class PortForward:
    """`expose`: connections to a host port are sent to a guest's port (DNAT).

    `host_address` None means any of the host's own addresses; `in_dev` restricts where the
    connection may come in (and, being about arrival, leaves out connections the host opens).
    """

    proto: Proto
    host_ports: PortRange
    target: IPAddress
    target_ports: PortRange  # same length as host_ports
    host_address: IPAddress | None
    in_dev: str | None
    span: Span

    @property
    def family(self) -> Family:
        return _family_of(self.target)


@dataclass(frozen=True, slots=True)
class HostService:
    """One entry of `services { ... }`: a port (range) guests may reach on the host.

    `families` is the families the service exists in (DHCP is IPv4, DHCPv6 is IPv6); `name` is
    the service word the user wrote, or None for an explicit `tcp PORT`.
    """

    name: str | None
    proto: Proto
    ports: PortRange
    families: tuple[Family, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class HostServices:
    """The guest → host allow-list; whatever else guests send to the host is rejected."""

    services: tuple[HostService, ...]
    span: Span


class FilterAction(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class GuestFilter:
    """`allow` / `deny` of guest traffic to a destination, before the forward mode's defaults.

    `proto` None matches every protocol; `ports` None every port of `proto`.
    """

    action: FilterAction
    destination: IPNetwork
    proto: Proto | None
    ports: PortRange | None
    span: Span

    @property
    def family(self) -> Family:
        return _family_of(self.destination)


@dataclass(frozen=True, slots=True)
class InboundFilter:
    """`allow from` / `deny from`: traffic from `source` to the guests, before the mode's inbound
    defaults. Stateless like `GuestFilter`: every packet from `source` matches, replies to the
    guests' own connections included.

    `guests` None means every subnet of the family; otherwise a prefix inside one subnet.
    """

    action: FilterAction
    source: IPNetwork
    guests: IPNetwork | None
    proto: Proto | None
    ports: PortRange | None
    span: Span

    @property
    def family(self) -> Family:
        return _family_of(self.source)


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    bridge: str
    forward: Forward
    subnets: tuple[Subnet, ...]
    dns: bool
    ipv6_guests: bool  # libvirt's <network ipv6='yes'>: IPv6 between guests without a subnet
    span: Span
    # Port forwards, services, filters, isolation (not in libvirt); defaults keep positional construction above working.
    port_forwards: tuple[PortForward, ...] = ()
    services: HostServices | None = None  # None: the host is not closed to guests (libvirt)
    filters: tuple[GuestFilter, ...] = ()  # first match wins, in the order written
    isolate_guests: bool = False
    inbound_filters: tuple[InboundFilter, ...] = ()  # first match wins, in the order written

    def subnets_of(self, family: Family) -> tuple[Subnet, ...]:
        return tuple(s for s in self.subnets if s.family is family)


@dataclass(frozen=True, slots=True)
class Program:
    """Every network of one compilation, in source order."""

    networks: tuple[Network, ...]
