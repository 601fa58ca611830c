"""Syntax tree → model for the statements beyond libvirt: `expose`, `services`, `allow`/`deny`,
`isolate guests`.

Kept apart from `build.py` so the libvirt-equivalent core stays readable; `Builder.policy` calls
`build_policy` once per network, after the bridge, forward mode and subnets are known, because
every check here needs them (a forward's target must sit in one of the network's subnets).
Problems are recorded on the builder; a statement that cannot be read is left out and makes the
network invalid.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from netc.diagnostics import did_you_mean, shown
from netc.ir.model import (
    zone_id_problem,
    FilterAction,
    Forward,
    Family,
    GuestFilter,
    HostService,
    HostServices,
    InboundFilter,
    Mode,
    PortForward,
    PortRange,
    Proto,
    Subnet,
)

from . import names

if TYPE_CHECKING:
    from .parse import Token, Tree

STATEMENTS = frozenset({"expose", "services", "filter_rule", "filter_from", "isolate"})

BOTH = (Family.IPV4, Family.IPV6)

# Named services for `services { }`: (proto, port, families). libvirt's firewalld zone allows
# dhcp, dhcpv6, dns, ssh and tftp; the web and time services are common enough to name.
SERVICES: dict[str, tuple[tuple[Proto, int, tuple[Family, ...]], ...]] = {
    "dhcp": ((Proto.UDP, 67, (Family.IPV4,)),),
    "dhcpv6": ((Proto.UDP, 547, (Family.IPV6,)),),
    "dns": ((Proto.TCP, 53, BOTH), (Proto.UDP, 53, BOTH)),
    "http": ((Proto.TCP, 80, BOTH),),
    "https": ((Proto.TCP, 443, BOTH),),
    "ntp": ((Proto.UDP, 123, BOTH),),
    "ssh": ((Proto.TCP, 22, BOTH),),
    "tftp": ((Proto.UDP, 69, BOTH),),
}

_STATEMENT_WORDS = {
    "expose": "expose",
    "services": "services",
    "filter_rule": "allow/deny",
    "filter_from": "allow/deny from",
    "isolate": "isolate guests",
}


class _Builder(Protocol):
    """What this module uses of `build.Builder` (kept structural to avoid an import cycle)."""

    def span(self, node: Tree | Token) -> Any: ...
    def fail(self, node: Tree | Token, message: str, hint: str | None = None) -> Any: ...
    def checked(self, token: Token, problem: Any) -> str: ...
    def address(self, token: Token) -> Any: ...
    def port(self, token: Token) -> int: ...
    def port_range(self, node: Tree) -> PortRange: ...
    def once(self, seen: dict[str, Tree], key: str, node: Tree, where: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Policy:
    """The Network fields these statements fill in (keyword arguments of `Network`)."""

    port_forwards: tuple[PortForward, ...]
    services: HostServices | None
    filters: tuple[GuestFilter, ...]
    isolate_guests: bool
    inbound_filters: tuple[InboundFilter, ...]


def build_policy(
    b: _Builder,
    stmt: Tree,
    name: str,
    forward: Forward,
    subnets: Sequence[Subnet],
    seen: dict[str, Tree],
    into: dict[str, list],
) -> None:
    """Read one policy statement into `into` (lists keyed by Policy field); may raise via b.fail."""
    if forward.mode is Mode.OPEN:
        b.fail(
            stmt,
            f"'{_STATEMENT_WORDS[stmt.data]}' needs firewall rules, and 'forward open' gets none",
            "use 'forward nat' or 'forward route'",
        )
    if stmt.data == "expose":
        into["port_forwards"].append(expose(b, stmt, name, forward, subnets))
    elif stmt.data == "services" and b.once(seen, "services", stmt, f"network '{name}'"):
        into["services"].append(services(b, stmt))
    elif stmt.data == "filter_rule":
        into["filters"].append(guest_filter(b, stmt, name, forward, subnets))
    elif stmt.data == "filter_from":
        into["inbound_filters"].append(inbound_filter(b, stmt, name, forward, subnets))
    elif stmt.data == "isolate" and b.once(seen, "isolate guests", stmt, f"network '{name}'"):
        into["isolate_guests"].append(True)


def policy_of(into: dict[str, list]) -> Policy:
    services = into["services"]
    return Policy(
        tuple(into["port_forwards"]),
        services[0] if services else None,
        tuple(into["filters"]),
        bool(into["isolate_guests"]),
        tuple(into["inbound_filters"]),
    )


def empty_policy() -> dict[str, list]:
    return {
        "port_forwards": [],
        "services": [],
        "filters": [],
        "isolate_guests": [],
        "inbound_filters": [],
    }


def _proto(node: Tree) -> Proto:
    return Proto(str(node.children[0]))


def _ports(b: _Builder, node: Tree) -> PortRange:
    """A port or a range: `22`, `5000-5010` or `5000 - 5010`."""
    if len(node.children) == 1 and "-" not in str(node.children[0]):
        port = b.port(node.children[0])
        return PortRange(port, port)
    return b.port_range(node)


def expose(
    b: _Builder, stmt: Tree, name: str, forward: Forward, subnets: Sequence[Subnet]
) -> PortForward:
    proto_node, range_node, target_token, *opts = stmt.children
    proto = _proto(proto_node)
    host_ports = _ports(b, range_node)
    target = b.address(target_token)
    family = Family.of(target)
    if forward.mode not in (Mode.NAT, Mode.ROUTE):
        b.fail(
            stmt,
            f"'expose' forwards to guests, but network '{name}' is 'forward {forward.mode.value}'",
            "guests of an isolated network cannot answer the outside; use 'forward nat' or 'route'",
        )
    target_ports = host_ports
    host_address = in_dev = None
    seen: dict[str, Tree] = {}
    for opt in opts:
        if opt.data == "expose_port" and b.once(seen, "port", opt, "'expose'"):
            target_ports = _ports(b, opt.children[0])
        elif opt.data == "expose_on" and b.once(seen, "on", opt, "'expose'"):
            host_address = b.address(opt.children[0])
            if host_address.version != target.version:
                b.fail(
                    opt,
                    f"host address {host_address} and target {target} are of different families",
                    "a forward translates within one address family",
                )
        elif opt.data == "expose_via" and b.once(seen, "via", opt, "'expose'"):
            in_dev = b.checked(opt.children[0], names.interface_problem)
    if family is Family.IPV6 and not (forward.mode is Mode.NAT and forward.ipv6_nat):
        b.fail(
            target_token,
            f"IPv6 forward to {target} needs IPv6 NAT on network '{name}'",
            "add 'ipv6 nat' to 'forward nat { }'; routed IPv6 guests are reachable directly",
        )
    home = [s for s in subnets if s.family is family and target in s.network]
    if not home:
        declared = ", ".join(str(s.network) for s in subnets if s.family is family)
        b.fail(
            target_token,
            f"forward target {target} is not inside a subnet of network '{name}'",
            (
                f"its {family.value} subnets: {declared}"
                if declared
                else f"it has no {family.value} subnet"
            ),
        )
    if any(target == s.gateway.ip for s in home):
        b.fail(target_token, f"forward target {target} is the host's own gateway address")
    if family is Family.IPV4 and target == home[0].network.broadcast_address:
        b.fail(target_token, f"forward target {target} is the broadcast address")
    host_len = host_ports.last - host_ports.first
    target_len = target_ports.last - target_ports.first
    if host_len != target_len:
        b.fail(
            stmt,
            f"host ports {host_ports} and guest ports {target_ports} differ in length",
            "a range is forwarded port by port, so both ranges need as many ports",
        )
    if host_len and target_ports != host_ports:
        b.fail(
            stmt,
            f"port range {host_ports} cannot be shifted to {target_ports}",
            "nft 1.0 cannot shift a DNAT port range; forward a range to the same ports",
        )
    return PortForward(proto, host_ports, target, target_ports, host_address, in_dev, b.span(stmt))


def services(b: _Builder, stmt: Tree) -> HostServices:
    listed: list[HostService] = []
    for entry in stmt.children:
        span = b.span(entry)
        if entry.data == "service_name":
            word = str(entry.children[0])
            if word not in SERVICES:
                hint = did_you_mean(word, SERVICES) or (
                    f"known services: {', '.join(sorted(SERVICES))}; or write 'tcp PORT'"
                )
                b.fail(entry, f"unknown service '{word}'", hint)
            for proto, port, fams in SERVICES[word]:
                listed.append(HostService(word, proto, PortRange(port, port), fams, span))
        else:
            proto = _proto(entry.children[0])
            ports = _ports(b, entry.children[1])
            listed.append(HostService(None, proto, ports, BOTH, span))
    return HostServices(tuple(listed), b.span(stmt))


_FILTER_ACTIONS = {action.value: action for action in FilterAction}


def guest_filter(
    b: _Builder, stmt: Tree, name: str, forward: Forward, subnets: Sequence[Subnet]
) -> GuestFilter:
    action_node, *rest = stmt.children
    action = _filter_action(action_node)
    proto, ports = _proto_ports(b, rest[0]) if len(rest) == 2 else (None, None)
    token = rest[-1]
    if forward.mode not in (Mode.NAT, Mode.ROUTE):
        b.fail(
            stmt,
            f"'{action.value}' filters guest traffic to the outside, which "
            f"'forward {forward.mode.value}' does not forward at all",
        )
    destination = _prefix(b, token)
    family = Family.of(destination)
    if not any(s.family is family for s in subnets):
        b.fail(
            token,
            f"network '{name}' has no {family.value} subnet, so no guest traffic matches {destination}",
        )
    return GuestFilter(action, destination, proto, ports, b.span(stmt))


def _filter_action(node: Tree) -> FilterAction:
    word = str(node.children[0])
    return _FILTER_ACTIONS.get(word) or FilterAction(word)  # a dict is cheaper than the enum


def _proto_ports(b: _Builder, node: Tree) -> tuple[Any, Any]:
    """A `filter_proto` node: the protocol, and the port range or None."""
    ports = _ports(b, node.children[1]) if len(node.children) > 1 else None
    return _proto(node.children[0]), ports


def _prefix(b: _Builder, token: Token) -> Any:
    """An address or a prefix without host bits (`10.0.0.0/8`, `203.0.113.5`)."""
    zoned = zone_id_problem(str(token))
    if zoned:
        return b.fail(token, *zoned)
    try:
        return ipaddress.ip_network(str(token), strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(str(token), strict=False)
        except ValueError:
            return b.fail(
                token, f"'{shown(str(token))}' is not an address or prefix (like 10.0.0.0/8)"
            )
        return b.fail(token, f"'{token}' has host bits set", f"did you mean {loose}?")


def _masqueraded(forward: Forward, family: Family) -> bool:
    return forward.mode is Mode.NAT and (family is Family.IPV4 or forward.ipv6_nat)


def inbound_filter(
    b: _Builder, stmt: Tree, name: str, forward: Forward, subnets: Sequence[Subnet]
) -> InboundFilter:
    """`allow|deny from PREFIX [tcp|udp [PORTS]] [to GUEST-PREFIX]`.

    Refused where it could not mean what it says: on networks that forward nothing, for a family
    without a subnet, and `allow` towards masqueraded guests (the outside cannot address them;
    `expose` is how a guest's port is opened there).
    """
    action_node, token, *rest = stmt.children
    action = _filter_action(action_node)
    proto = ports = guests_node = None
    for node in rest:
        if node.data == "filter_proto":
            proto, ports = _proto_ports(b, node)
        else:
            guests_node = node.children[0]
    if forward.mode not in (Mode.NAT, Mode.ROUTE):
        b.fail(
            stmt,
            f"'{action.value} from' filters traffic from the outside to guests, which "
            f"'forward {forward.mode.value}' does not forward at all",
        )
    source = _prefix(b, token)
    family = Family.of(source)
    home = [s for s in subnets if s.family is family]
    if not home:
        b.fail(
            token,
            f"network '{name}' has no {family.value} subnet, so no traffic from {source} "
            "reaches its guests",
        )
    if action is FilterAction.ALLOW and _masqueraded(forward, family):
        b.fail(
            stmt,
            f"'allow from' cannot open network '{name}' to {source}: its {family.value} guests "
            "are masqueraded, so the outside cannot address them",
            "use 'expose' to forward a host port to a guest, or 'forward route'",
        )
    guests = None
    if guests_node is not None:
        guests = _prefix(b, guests_node)
        if Family.of(guests) is not family:
            b.fail(
                guests_node,
                f"guests {guests} and source {source} are of different families",
                "write one filter per address family",
            )
        if not any(guests.subnet_of(s.network) for s in home):
            declared = ", ".join(str(s.network) for s in home)
            b.fail(
                guests_node,
                f"{guests} is not inside a subnet of network '{name}'",
                f"its {family.value} subnets: {declared}",
            )
    return InboundFilter(action, source, guests, proto, ports, b.span(stmt))
