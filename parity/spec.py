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
from .model import Family, Hook, Path, Ruleset
from .report import format_evaluation, format_packet

MODES = ("nat", "route", "open", "isolated")


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
    dns: bool = True
    tftp: bool = False
    stateful_inbound: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}")


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
    for candidate in (_OUTSIDE[family], _OTHER[family]):
        addr = ipaddress.ip_address(candidate)
        if not any(addr in s for s in subnets):
            return int(addr)
    raise ValueError("no outside address left")


@dataclass(frozen=True, slots=True)
class _Row:
    check: str
    packet: Packet
    expected: str
    expect: Expect


def spec_rows(net: SpecNetwork, all_subnets: list) -> Iterable[_Row]:
    uplink = net.forward_dev or "netc-uplink0"
    for family, subnets in ((Family.IPV4, net.subnets4), (Family.IPV6, net.subnets6)):
        outside = _outside(family, all_subnets)
        for text in subnets:
            iface = ipaddress.ip_interface(text)
            gw, subnet = int(iface.ip), iface.network
            guest = int(subnet.network_address) + 10
            guest2 = guest + 1
            yield from _rows(net, family, gw, guest, guest2, outside, uplink, text)


def _rows(net, family, gw, guest, guest2, outside, uplink, where) -> Iterable[_Row]:
    mode = net.mode
    v4 = family is Family.IPV4
    masq = mode == "nat" and (v4 or net.ipv6_masquerade)
    routed = mode == "route" or (mode == "nat" and not masq)
    br = net.bridge
    icmp = 1 if v4 else 58

    def pkt(path, iif, oif, src, dst, proto=6, sport=40000, dport=443, ct="new") -> Packet:
        has_ports = proto in (6, 17)
        return Packet(
            path,
            family,
            iif,
            oif,
            src,
            dst,
            proto,
            sport if has_ports else None,
            dport if has_ports else None,
            ct,
        )

    tag = f"{family.value} {where}"
    fwd, inp, out = Path.FORWARD, Path.INPUT, Path.OUTPUT
    # guest -> outside
    for proto, name in ((6, "tcp"), (17, "udp"), (icmp, "icmp")):
        p = pkt(fwd, br, uplink, guest, outside, proto)
        if masq:
            ports = net.nat_ports if proto in (6, 17) else None
            want = "accept, masquerade" + (f" to ports {ports[0]}-{ports[1]}" if ports else "")
            yield _Row(f"{tag}: guest -> outside {name}", p, want, masqueraded(ports))
        elif routed or mode == "open":
            yield _Row(f"{tag}: guest -> outside {name}", p, "accept, no NAT", accepted_no_nat)
        else:
            yield _Row(f"{tag}: guest -> outside {name}", p, "drop or reject", blocked)
    # outside -> guest, new and established
    p_new = pkt(fwd, uplink, br, outside, guest, 6, 40000, 22)
    if mode == "open" or (routed and not net.stateful_inbound):
        yield _Row(f"{tag}: outside -> guest new", p_new, "accept, no NAT", accepted_no_nat)
    else:
        yield _Row(f"{tag}: outside -> guest new", p_new, "drop or reject", blocked)
    p_est = pkt(fwd, uplink, br, outside, guest, 6, 443, 40000, "established")
    if mode == "isolated":
        yield _Row(f"{tag}: outside -> guest established", p_est, "drop or reject", blocked)
    else:
        yield _Row(f"{tag}: outside -> guest established", p_est, "accept", accepted)
    # host <-> guest
    yield _Row(
        f"{tag}: host -> guest new",
        pkt(out, None, br, gw, guest, 6, 40000, 22),
        "accept, no NAT",
        accepted_no_nat,
    )
    yield _Row(
        f"{tag}: guest -> host reply",
        pkt(inp, br, None, guest, gw, 6, 22, 40000, "established"),
        "accept",
        accepted,
    )
    # guest <-> guest on the same bridge
    yield _Row(
        f"{tag}: guest -> guest on {br}",
        pkt(fwd, br, br, guest, guest2, 6, 40000, 22),
        "accept, no NAT",
        accepted_no_nat,
    )
    # guest -> host services
    if net.dhcp:
        if v4:
            bcast = int(ipaddress.IPv4Address("255.255.255.255"))
            p = pkt(inp, br, None, 0, bcast, 17, 68, 67)
            yield _Row(f"{tag}: guest -> host DHCP", p, "accept", accepted)
            reply = pkt(out, None, br, gw, bcast, 17, 67, 68)
            yield _Row(f"{tag}: host -> guest DHCP reply", reply, "accept, no NAT", accepted_no_nat)
        else:
            ll = int(ipaddress.IPv6Address("fe80::10"))
            mc = int(ipaddress.IPv6Address("ff02::1:2"))
            p = pkt(inp, br, None, ll, mc, 17, 546, 547)
            yield _Row(f"{tag}: guest -> host DHCPv6", p, "accept", accepted)
    if net.dns:
        for proto, name in ((17, "udp"), (6, "tcp")):
            p = pkt(inp, br, None, guest, gw, proto, 40000, 53)
            yield _Row(f"{tag}: guest -> host DNS/{name}", p, "accept", accepted)
    if net.tftp and v4:
        p = pkt(inp, br, None, guest, gw, 17, 40000, 69)
        yield _Row(f"{tag}: guest -> host TFTP", p, "accept", accepted)
    # link-local multicast and broadcast are never masqueraded
    if masq:
        mcast = ipaddress.ip_address("224.0.0.251" if v4 else "ff02::fb")
        p = pkt(fwd, br, uplink, guest, int(mcast), 17, 5353, 5353)
        yield _Row(f"{tag}: guest -> {mcast} not masqueraded", p, "no NAT", no_nat)
        if v4:
            bcast = int(ipaddress.IPv4Address("255.255.255.255"))
            p = pkt(fwd, br, uplink, guest, bcast, 17, 68, 67)
            yield _Row(f"{tag}: guest -> 255.255.255.255 not masqueraded", p, "no NAT", no_nat)


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
            ev = evaluate(ruleset, row.packet, br_netfilter)
            if not row.expect(ev):
                failures.append(SpecFailure(net.name, row.check, row.packet, row.expected, ev))
    return failures


def format_spec_failures(failures: list[SpecFailure]) -> str:
    return "\n".join(str(f) for f in failures)
