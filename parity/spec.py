"""The behaviour users rely on, per forward mode: parity is not correctness.

Two backends wrong in the same way pass `verify`; they fail here. Each network yields a small
verdict table (guest -> outside masqueraded, outside -> guest rejected for NAT, DHCP/DNS to the
host accepted, ...), every row is a concrete packet run through the concrete evaluator.

`SpecNetwork` is parity's own description of a network, built by the CLI from the parsed `.net`
model, so this package never imports netc's IR.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .evaluate import Evaluation, Packet, evaluate
from .model import Family, Hook, ParityError, Path, Ruleset
from .report import format_evaluation, format_packet

MODES = ("nat", "route", "open", "isolated")
TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58  # IP protocol numbers


def _icmp(family: Family) -> int:
    return ICMP if family is Family.IPV4 else ICMPV6


@dataclass(frozen=True, slots=True)
class SpecNetwork:
    """What the spec needs to know about one network.

    `subnets4`/`subnets6` are host interfaces (`192.168.122.1/24`): the gateway and its subnet.
    `nat_ports` is the source-port range masquerade must use for tcp/udp (None: any).
    """

    name: str
    bridge: str
    mode: str
    subnets4: tuple[str, ...] = ()
    subnets6: tuple[str, ...] = ()
    forward_dev: str | None = None
    nat_ports: tuple[int, int] | None = (1024, 65535)
    ipv6_masquerade: bool = False
    dhcp: bool = True
    dhcp6: bool | None = None  # DHCPv6 served (None: as `dhcp`); a v4-only range serves no v6
    dns: bool = True
    tftp: bool = False
    stateful_inbound: bool = False
    # Port forwards, services and filters (not in libvirt); the defaults describe a network
    # without these statements.
    port_forwards: tuple["SpecForward", ...] = ()
    services: tuple["SpecService", ...] | None = None  # None: the host is not closed to guests
    filters: tuple["SpecFilter", ...] = ()  # first match wins, in order
    isolate_guests: bool = False
    inbound_filters: tuple["SpecInboundFilter", ...] = ()  # first match wins, in order

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}")


@dataclass(frozen=True, slots=True)
class SpecForward:
    """`expose`: host port(s) -> target; `host_address` None means any local address."""

    proto: int
    host_ports: tuple[int, int]
    target: str
    target_ports: tuple[int, int]
    host_address: str | None = None
    in_dev: str | None = None


@dataclass(frozen=True, slots=True)
class SpecService:
    """One `services { }` entry: guests may reach these ports on the host, in these families."""

    proto: int
    ports: tuple[int, int]
    families: tuple[str, ...] = ("ipv4", "ipv6")


@dataclass(frozen=True, slots=True)
class SpecFilter:
    """`allow`/`deny` of guest traffic to `destination` (proto/ports None: any)."""

    allow: bool
    destination: str
    proto: int | None = None
    ports: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class SpecInboundFilter:
    """`allow from`/`deny from`: traffic from `source` to the guests (`guests` None: every
    subnet of the family), whatever its conntrack state (proto/ports None: any)."""

    allow: bool
    source: str
    guests: str | None = None
    proto: int | None = None
    ports: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class SpecFailure:
    network: str
    check: str
    packet: Packet
    expected: str
    got: Evaluation

    def __str__(self) -> str:
        return (
            f"spec: network {self.network}: {self.check}: expected {self.expected}, got "
            f"{format_evaluation(self.got)}\n  packet: {format_packet(self.packet)}"
        )


Expect = Callable[[Evaluation], bool]


def accepted(ev: Evaluation) -> bool:
    return ev.outcome.verdict == "accept"


def accepted_no_nat(ev: Evaluation) -> bool:
    return accepted(ev) and not ev.outcome.nat


def blocked(ev: Evaluation) -> bool:
    return ev.outcome.verdict in ("drop", "reject")


def no_nat(ev: Evaluation) -> bool:
    return not ev.outcome.nat


def masqueraded(ports: tuple[int, int] | None) -> Expect:
    def check(ev: Evaluation) -> bool:
        if not accepted(ev):
            return False
        src = [n for n in ev.outcome.nat if n.hook is Hook.POSTROUTING]
        if len(src) != 1 or src[0].nat.kind not in ("masquerade", "snat"):
            return False
        return ports is None or src[0].nat.ports == ports

    return check


_OUTSIDE = {Family.IPV4: "198.51.100.1", Family.IPV6: "2001:db8:ffff::1"}
_OTHER = {Family.IPV4: "203.0.113.77", Family.IPV6: "2001:db8:fffe::1"}


def _outside(family: Family, subnets: list[ipaddress._BaseNetwork]) -> int:
    return _free(family, (_OUTSIDE[family], _OTHER[family]), subnets)


_FREE: dict[tuple, tuple[list, int]] = {}


def _free(family: Family, candidates: Iterable[str], subnets: list) -> int:
    """The first candidate no network's subnet holds; else any such address (networks may sit
    on the documentation ranges themselves: an outside host must still exist).

    Cached per subnet list: every network asks with the same list, and scanning it for each
    would make the spec check quadratic in the number of networks."""
    candidates = tuple(candidates)
    key = (family, candidates, id(subnets), len(subnets))
    hit = _FREE.get(key)
    if hit is not None and hit[0] is subnets:
        return hit[1]
    if len(_FREE) > 64:
        _FREE.clear()
    value = _free_uncached(family, candidates, subnets)
    _FREE[key] = (subnets, value)
    return value


def _free_uncached(family: Family, candidates: tuple[str, ...], subnets: list) -> int:
    for candidate in candidates:
        addr = ipaddress.ip_address(candidate)
        if not any(addr in s for s in subnets):
            return int(addr)
    shift = 24 if family is Family.IPV4 else 112
    base = 0 if family is Family.IPV4 else 0x2000
    for block in range(1, 224 if family is Family.IPV4 else 0x2000):
        value = (base + block) << shift | 1
        addr = (
            ipaddress.ip_address(value) if family is Family.IPV6 else ipaddress.IPv4Address(value)
        )
        if not any(addr in s for s in subnets if s.version == addr.version):
            return value
    raise ParityError(f"no {family.value} address is outside every network's subnets")


def _guests(
    iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface, avoid: int | None = None
) -> tuple[int, int]:
    """Two guest addresses inside the subnet, neither the gateway (nor `avoid`): .10 and .11
    when the subnet is big enough, else the first free ones (a /30 has room for one guest)."""
    net = iface.network
    lo, hi = int(net.network_address), int(net.broadcast_address)
    taken = {int(iface.ip), avoid}
    picks = [a for a in range(lo + 10, min(hi, lo + 13) + 1) if a not in taken]
    if len(picks) < 2:
        picks = [a for a in range(lo + 1, min(hi, lo + 16) + 1) if a not in taken] or [hi]
    return picks[0], picks[1] if len(picks) > 1 else picks[0]


@dataclass(frozen=True, slots=True)
class _Row:
    check: str
    packet: Packet
    expected: str
    expect: Expect
    br_netfilter_only: bool = False  # bridged traffic: the IP hooks decide only with br_netfilter


def spec_rows(net: SpecNetwork, all_subnets: list) -> Iterable[_Row]:
    uplink = net.forward_dev or "netc-uplink0"
    for family, subnets in ((Family.IPV4, net.subnets4), (Family.IPV6, net.subnets6)):
        outside = _outside(family, all_subnets)
        for text in subnets:
            iface = ipaddress.ip_interface(text)
            guest, guest2 = _guests(iface)
            site = _Site(net, family, int(iface.ip), guest, guest2, outside, uplink, text)
            for rows in _SUBNET_ROWS:
                yield from rows(site)
    yield from _policy_rows(net, all_subnets, uplink)


def _packet(
    family: Family,
    path: Path,
    iif: str | None,
    oif: str | None,
    src: int,
    dst: int,
    proto: int = TCP,
    sport: int = 40000,
    dport: int | None = 443,
    ct: str = "new",
    local: bool = False,
) -> Packet:
    """The spec's packets: ports only for tcp and udp."""
    ports = proto in (TCP, UDP)
    return Packet(
        path,
        family,
        iif,
        oif,
        src,
        dst,
        proto,
        sport if ports else None,
        dport if ports else None,
        ct,
        daddr_local=local,
    )


@dataclass(frozen=True, slots=True)
class _Site:
    """One subnet of a network, with the addresses its rows use."""

    net: SpecNetwork
    family: Family
    gw: int
    guest: int
    guest2: int
    outside: int
    uplink: str
    where: str

    @property
    def tag(self) -> str:
        return f"{self.family.value} {self.where}"

    @property
    def masq(self) -> bool:
        return self.net.mode == "nat" and (self.family is Family.IPV4 or self.net.ipv6_masquerade)

    @property
    def routed(self) -> bool:
        return self.net.mode == "route" or (self.net.mode == "nat" and not self.masq)

    def pkt(self, path: Path, iif: str | None, oif: str | None, src: int, dst: int, *args, **kw):
        return _packet(self.family, path, iif, oif, src, dst, *args, **kw)


def _guest_to_outside_rows(s: _Site) -> Iterable[_Row]:
    net, br, tag = s.net, s.net.bridge, s.tag
    for proto, name in ((TCP, "tcp"), (UDP, "udp"), (_icmp(s.family), "icmp")):
        p = s.pkt(Path.FORWARD, br, s.uplink, s.guest, s.outside, proto)
        first = next(
            (r for r in net.filters if _filter_matches(r, s.family, s.outside, proto, 443)), None
        )
        if first is not None and not first.allow:  # a `deny to` covering the outside host
            yield _Row(f"{tag}: guest -> outside {name}", p, "drop or reject (filter)", blocked)
        elif s.masq:
            ports = net.nat_ports if proto in (TCP, UDP) else None
            want = "accept, masquerade" + (f" to ports {ports[0]}-{ports[1]}" if ports else "")
            yield _Row(f"{tag}: guest -> outside {name}", p, want, masqueraded(ports))
        elif s.routed or net.mode == "open":
            yield _Row(f"{tag}: guest -> outside {name}", p, "accept, no NAT", accepted_no_nat)
        else:
            yield _Row(f"{tag}: guest -> outside {name}", p, "drop or reject", blocked)


def _outside_to_guest_rows(s: _Site) -> Iterable[_Row]:
    """New and established; inbound filters come before the mode's defaults."""
    net, br, tag, fwd = s.net, s.net.bridge, s.tag, Path.FORWARD
    p_new = s.pkt(fwd, s.uplink, br, s.outside, s.guest, TCP, 40000, 22)
    filtered = _inbound_verdict(net, s.family, s.outside, s.guest, TCP, 22)
    if filtered is not None:
        yield _inbound_row(f"{tag}: outside -> guest new", p_new, filtered)
    elif net.mode == "open" or (s.routed and not net.stateful_inbound):
        yield _Row(f"{tag}: outside -> guest new", p_new, "accept, no NAT", accepted_no_nat)
    else:
        yield _Row(f"{tag}: outside -> guest new", p_new, "drop or reject", blocked)
    p_est = s.pkt(fwd, s.uplink, br, s.outside, s.guest, TCP, 443, 40000, "established")
    filtered = _inbound_verdict(net, s.family, s.outside, s.guest, TCP, 40000)  # stateless
    if filtered is not None:
        yield _inbound_row(f"{tag}: outside -> guest established", p_est, filtered)
    elif net.mode == "isolated":
        yield _Row(f"{tag}: outside -> guest established", p_est, "drop or reject", blocked)
    else:
        yield _Row(f"{tag}: outside -> guest established", p_est, "accept", accepted)


def _host_and_guest_rows(s: _Site) -> Iterable[_Row]:
    """Host <-> guest, and guest <-> guest on the same bridge."""
    br, tag = s.net.bridge, s.tag
    yield _Row(
        f"{tag}: host -> guest new",
        s.pkt(Path.OUTPUT, None, br, s.gw, s.guest, TCP, 40000, 22),
        "accept, no NAT",
        accepted_no_nat,
    )
    yield _Row(
        f"{tag}: guest -> host reply",
        s.pkt(Path.INPUT, br, None, s.guest, s.gw, TCP, 22, 40000, "established"),
        "accept",
        accepted,
    )
    between = s.pkt(Path.FORWARD, br, br, s.guest, s.guest2, TCP, 40000, 22)
    if s.net.isolate_guests:
        yield _Row(
            f"{tag}: guest -> guest on {br} (isolate guests)",
            between,
            "drop or reject",
            blocked,
            br_netfilter_only=True,
        )
    else:
        yield _Row(f"{tag}: guest -> guest on {br}", between, "accept, no NAT", accepted_no_nat)


def _host_service_rows(s: _Site) -> Iterable[_Row]:
    """DHCP, DHCPv6, neighbour discovery, DNS and TFTP from guests to the host."""
    net, br, tag, inp = s.net, s.net.bridge, s.tag, Path.INPUT
    v4 = s.family is Family.IPV4
    if net.dhcp and v4:
        bcast = int(ipaddress.IPv4Address("255.255.255.255"))
        p = s.pkt(inp, br, None, 0, bcast, UDP, 68, 67)
        yield _Row(f"{tag}: guest -> host DHCP", p, "accept", accepted)
        reply = s.pkt(Path.OUTPUT, None, br, s.gw, bcast, UDP, 67, 68)
        yield _Row(f"{tag}: host -> guest DHCP reply", reply, "accept, no NAT", accepted_no_nat)
    if (net.dhcp if net.dhcp6 is None else net.dhcp6) and not v4:
        ll = int(ipaddress.IPv6Address("fe80::10"))
        mc = int(ipaddress.IPv6Address("ff02::1:2"))
        p = s.pkt(inp, br, None, ll, mc, UDP, 546, 547)
        yield _Row(f"{tag}: guest -> host DHCPv6", p, "accept", accepted)
    if not v4:
        yield from _nd_rows(s.pkt, tag, br, s.gw, s.guest)
    if net.dns:
        for proto, name in ((UDP, "udp"), (TCP, "tcp")):
            p = s.pkt(inp, br, None, s.guest, s.gw, proto, 40000, 53)
            yield _Row(f"{tag}: guest -> host DNS/{name}", p, "accept", accepted)
    if net.tftp and v4:
        p = s.pkt(inp, br, None, s.guest, s.gw, UDP, 40000, 69)
        yield _Row(f"{tag}: guest -> host TFTP", p, "accept", accepted)


def _link_local_rows(s: _Site) -> Iterable[_Row]:
    """Link-local multicast and broadcast are never masqueraded."""
    if not s.masq:
        return
    br, tag, v4 = s.net.bridge, s.tag, s.family is Family.IPV4
    mcast = ipaddress.ip_address("224.0.0.251" if v4 else "ff02::fb")
    p = s.pkt(Path.FORWARD, br, s.uplink, s.guest, int(mcast), UDP, 5353, 5353)
    yield _Row(f"{tag}: guest -> {mcast} not masqueraded", p, "no NAT", no_nat)
    if v4:
        bcast = int(ipaddress.IPv4Address("255.255.255.255"))
        p = s.pkt(Path.FORWARD, br, s.uplink, s.guest, bcast, UDP, 68, 67)
        yield _Row(f"{tag}: guest -> 255.255.255.255 not masqueraded", p, "no NAT", no_nat)


_SUBNET_ROWS = (
    _guest_to_outside_rows,
    _outside_to_guest_rows,
    _host_and_guest_rows,
    _host_service_rows,
    _link_local_rows,
)


def _nd_rows(pkt, tag: str, br: str, gw: int, guest: int) -> Iterable[_Row]:
    """IPv6 dies without ICMPv6: a host that rejects neighbour discovery from guests (an input
    chain ending in `iifname virbr0 reject`, as `services { }` produces) makes even the allowed
    services time out (../shared/reference/parity.md §3, pitfall 4). IPv4 has ARP below IP.
    The model has no ICMPv6 types, so the rows differ by address: solicited-node and all-routers
    multicast from a link-local source, unicast to the gateway, and the host's own solicitations.
    """
    ll = int(ipaddress.IPv6Address("fe80::10"))
    solicited = int(ipaddress.IPv6Address("ff02::1:ff00:0"))
    inp, out = Path.INPUT, Path.OUTPUT
    rows = (
        ("neighbour solicitation", ll, solicited | (gw & 0xFFFFFF)),
        ("router solicitation", ll, int(ipaddress.IPv6Address("ff02::2"))),
        ("unicast ICMPv6 (neighbour unreachability detection)", guest, gw),
    )
    for name, src, dst in rows:
        p = pkt(inp, br, None, src, dst, ICMPV6)
        yield _Row(f"{tag}: guest -> host {name}", p, "accept", accepted)
    p = pkt(
        out, None, br, int(ipaddress.IPv6Address("fe80::1")), solicited | (guest & 0xFFFFFF), ICMPV6
    )
    yield _Row(f"{tag}: host -> guest neighbour solicitation", p, "accept, no NAT", accepted_no_nat)


# -- port forwards, services, filters (not in libvirt) ------------------------------------------

_HOST = {
    Family.IPV4: ("203.0.113.1", "192.0.2.1"),
    Family.IPV6: ("2001:db8:fffd::1", "2001:db8:fffc::1"),
}
_UNLISTED = (9, 9090, 31337, 4444)


def dnatted(addr: int, ports: tuple[int, int] | None, hook: Hook, then_masquerade: bool) -> Expect:
    """Accepted, DNATed at `hook` to `addr`(:ports), and (for hairpins) masqueraded after."""

    def check(ev: Evaluation) -> bool:
        if not accepted(ev) or not ev.outcome.nat:
            return False
        first = ev.outcome.nat[0]
        ok = (
            first.hook is hook
            and first.nat.kind == "dnat"
            and first.nat.addrs == (addr, addr)
            and first.nat.ports == ports
        )
        rest = [(n.hook, n.nat.kind) for n in ev.outcome.nat[1:]]
        return ok and rest == ([(Hook.POSTROUTING, "masquerade")] if then_masquerade else [])

    return check


def _family_of(text: str) -> Family:
    return Family.IPV4 if ipaddress.ip_address(text.split("/")[0]).version == 4 else Family.IPV6


def _policy_rows(net: SpecNetwork, all_subnets: list, uplink: str) -> Iterable[_Row]:
    subnets = {
        Family.IPV4: [ipaddress.ip_interface(t) for t in net.subnets4],
        Family.IPV6: [ipaddress.ip_interface(t) for t in net.subnets6],
    }
    for f in net.port_forwards:
        yield from _forward_rows(net, f, subnets, all_subnets, uplink)
    if net.services is not None:
        for fam, ifaces in subnets.items():
            if ifaces:
                yield from _service_rows(net, net.services, fam, ifaces[0])
    for i, rule in enumerate(net.filters):
        yield from _filter_rows(net, i, rule, subnets, uplink)
    for i, inbound in enumerate(net.inbound_filters):
        yield from _inbound_rows(net, i, inbound, subnets, all_subnets, uplink)


def _forward_rows(
    net: SpecNetwork, f: SpecForward, subnets: dict, all_subnets: list, uplink: str
) -> Iterable[_Row]:
    """A port forward from outside, as a hairpin from a guest, untranslated, and from the host."""
    fwd, br = Path.FORWARD, net.bridge
    fam = _family_of(f.target)
    tag = f"{fam.value} forward {f.host_ports[0]} -> {f.target}"
    target = int(ipaddress.ip_address(f.target))
    to_ports = None if f.target_ports == f.host_ports else f.target_ports
    host = (
        int(ipaddress.ip_address(f.host_address))
        if f.host_address
        else _free(fam, _HOST[fam], all_subnets)
    )
    outside = _outside(fam, all_subnets)
    port = f.host_ports[0]
    iif = f.in_dev or uplink
    p = _packet(fam, fwd, iif, br, outside, host, f.proto, dport=port, local=True)
    # inbound filters see the translated connection (guest address and port)
    if _inbound_verdict(net, fam, outside, target, f.proto, f.target_ports[0]) is False:
        yield _inbound_row(f"{tag}: outside -> host port", p, False)
    else:
        yield _Row(
            f"{tag}: outside -> host port",
            p,
            "accept, dnat",
            dnatted(target, to_ports, Hook.PREROUTING, False),
        )
    home = next(s for s in subnets[fam] if ipaddress.ip_address(f.target) in s.network)
    client = _guests(home, avoid=target)[0]
    p = _packet(fam, fwd, br, br, client, host, f.proto, dport=port, local=True)
    if f.in_dev is None:  # `via DEV` forwards only what arrives on DEV, not guests' traffic
        # A hairpin is addressed to the host, so it is routed and crosses the IP hooks with
        # or without br_netfilter (tests/ports/test_port_forward.py shows it in a kernel;
        # evaluate.bridge_candidate models it): checked in both modes.
        yield _Row(
            f"{tag}: guest -> host port (hairpin)",
            p,
            "accept, dnat, masquerade",
            dnatted(target, to_ports, Hook.PREROUTING, True),
        )
    p = _packet(fam, fwd, uplink, br, outside, target, f.proto, dport=f.target_ports[0])
    filtered = _inbound_verdict(net, fam, outside, target, f.proto, f.target_ports[0])
    if filtered is not None:
        yield _inbound_row(f"{tag}: outside -> target port, untranslated", p, filtered)
    elif net.mode == "nat" or net.stateful_inbound:
        yield _Row(f"{tag}: outside -> target port, untranslated", p, "drop or reject", blocked)
    if f.in_dev is None:
        p = _packet(fam, Path.OUTPUT, None, br, host, host, f.proto, dport=port, local=True)
        yield _Row(
            f"{tag}: host -> own port",
            p,
            "accept, dnat at output",
            dnatted(target, to_ports, Hook.OUTPUT, False),
        )
    else:
        other = "netc-other0"
        p = _packet(fam, Path.INPUT, other, None, outside, host, f.proto, dport=port, local=True)
        yield _Row(f"{tag}: arriving on {other}, not {f.in_dev}", p, "no NAT", no_nat)


def _service_rows(
    net: SpecNetwork, services: tuple[SpecService, ...], fam: Family, iface
) -> Iterable[_Row]:
    """A closed host: listed services accepted, an unlisted tcp port refused, ICMP kept."""
    inp, br = Path.INPUT, net.bridge
    tag = f"{fam.value} services"
    gw = int(iface.ip)
    guest = _guests(iface)[0]
    listed = [s for s in services if fam.value in s.families]
    for svc in listed:
        p = _packet(fam, inp, br, None, guest, gw, svc.proto, dport=svc.ports[0])
        yield _Row(
            f"{tag}: guest -> host {svc.proto}/{svc.ports[0]} (listed)",
            p,
            "accept",
            accepted,
        )
    for port in _UNLISTED:
        if any(s.proto == TCP and s.ports[0] <= port <= s.ports[1] for s in listed):
            continue
        p = _packet(fam, inp, br, None, guest, gw, TCP, dport=port)
        yield _Row(f"{tag}: guest -> host tcp/{port} (not listed)", p, "drop or reject", blocked)
        break
    p = _packet(fam, inp, br, None, guest, gw, _icmp(fam))
    yield _Row(f"{tag}: guest -> host ICMP (ND for IPv6)", p, "accept", accepted)


def _filter_rows(
    net: SpecNetwork, i: int, rule: SpecFilter, subnets: dict, uplink: str
) -> Iterable[_Row]:
    """A guest of each subnet to the rule's destination, as the first matching filter says."""
    fam = _family_of(rule.destination)
    dest = ipaddress.ip_network(rule.destination)
    dst = int(dest.network_address) + (1 if dest.num_addresses > 2 else 0)
    proto = rule.proto if rule.proto is not None else TCP
    dport = rule.ports[0] if rule.ports else 443
    first = next(r for r in net.filters if _filter_matches(r, fam, dst, proto, dport))
    for iface in subnets[fam]:
        guest = _guests(iface)[0]
        p = _packet(fam, Path.FORWARD, net.bridge, uplink, guest, dst, proto, dport=dport)
        tag = f"{fam.value} filter {i + 1} ({'allow' if rule.allow else 'deny'} {rule.destination})"
        if first.allow:
            yield _Row(f"{tag}: from {iface.network}", p, "accept", accepted)
        else:
            yield _Row(f"{tag}: from {iface.network}", p, "drop or reject", blocked)


def _inbound_rows(net, i, rule, subnets, all_subnets, uplink) -> Iterable[_Row]:
    """A packet from inside the rule's source prefix to a guest it covers, new and as a reply
    (the filters are stateless), expected as the first matching inbound filter says."""
    fam = _family_of(rule.source)
    source = ipaddress.ip_network(rule.source)
    if source.prefixlen == 0:
        src = _outside(fam, all_subnets)
    else:
        src = int(source.network_address) + (1 if source.num_addresses > 2 else 0)
    proto = rule.proto if rule.proto is not None else TCP
    dport = rule.ports[0] if rule.ports else 22
    word = "allow" if rule.allow else "deny"
    tag = f"{fam.value} inbound filter {i + 1} ({word} from {rule.source})"
    for iface in subnets[fam]:
        dst = _guest_in(iface, rule.guests)
        if dst is None:
            continue
        verdict = _inbound_verdict(net, fam, src, dst, proto, dport)
        p = _packet(fam, Path.FORWARD, uplink, net.bridge, src, dst, proto, dport=dport)
        yield _inbound_row(f"{tag}: to {iface.network}", p, verdict)
        p = _packet(
            fam, Path.FORWARD, uplink, net.bridge, src, dst, proto, dport=dport, ct="established"
        )
        yield _inbound_row(f"{tag}: to {iface.network}, established", p, verdict)


def _guest_in(iface, guests: str | None) -> int | None:
    """A guest of `iface`'s subnet inside `guests` (None: the usual guest), not the gateway."""
    if guests is None:
        return _guests(iface)[0]
    prefix = ipaddress.ip_network(guests)
    if prefix.version != iface.network.version or not prefix.subnet_of(iface.network):
        return None
    first = _guests(iface)[0]
    if ipaddress.ip_address(first) in prefix:
        return first
    lo, hi = int(prefix.network_address), int(prefix.broadcast_address)
    return next((a for a in range(lo + 1, hi + 1) if a != int(iface.ip)), lo)


def _inbound_verdict(
    net: SpecNetwork, fam: Family, src: int, dst: int, proto: int, dport: int
) -> bool | None:
    """The first matching inbound filter's verdict (True: accept), None if none matches."""
    for rule in net.inbound_filters:
        if _family_of(rule.source) is not fam:
            continue
        source = ipaddress.ip_network(rule.source)
        if not int(source.network_address) <= src <= int(source.broadcast_address):
            continue
        if rule.guests is not None:
            guests = ipaddress.ip_network(rule.guests)
            if not int(guests.network_address) <= dst <= int(guests.broadcast_address):
                continue
        if rule.proto is not None and rule.proto != proto:
            continue
        if rule.ports is None or rule.ports[0] <= dport <= rule.ports[1]:
            return rule.allow
    return None


def _inbound_row(check: str, packet: Packet, allow: bool | None) -> _Row:
    if allow:
        return _Row(check, packet, "accept (inbound filter)", accepted)
    return _Row(check, packet, "drop or reject (inbound filter)", blocked)


def _filter_matches(rule: SpecFilter, fam: Family, dst: int, proto: int, dport: int) -> bool:
    """The reference semantics of one filter, for first-match over the list."""
    dest = ipaddress.ip_network(rule.destination)
    if _family_of(rule.destination) is not fam:
        return False
    if not int(dest.network_address) <= dst <= int(dest.broadcast_address):
        return False
    if rule.proto is not None and rule.proto != proto:
        return False
    return rule.ports is None or rule.ports[0] <= dport <= rule.ports[1]


def check_spec(
    ruleset: Ruleset, networks: Iterable[SpecNetwork], *, br_netfilter: bool = True
) -> list[SpecFailure]:
    """Every row of every network's verdict table that `ruleset` gets wrong."""
    networks = list(networks)
    all_subnets = [
        ipaddress.ip_interface(s).network for n in networks for s in n.subnets4 + n.subnets6
    ]
    failures = []
    for net in networks:
        for row in spec_rows(net, all_subnets):
            if row.br_netfilter_only and not br_netfilter:
                continue
            ev = evaluate(ruleset, row.packet, br_netfilter)
            if not row.expect(ev):
                failures.append(SpecFailure(net.name, row.check, row.packet, row.expected, ev))
    return failures


def format_spec_failures(failures: list[SpecFailure]) -> str:
    return "\n".join(str(f) for f in failures)
