"""Literal values both parsers share: addresses, ports, protocols, reject types.

Kept apart from the two syntax front ends so that the *meaning* of `192.168.122.0/24`, `domain`
or `icmp6-port-unreachable` is decided once; the syntax around them is parsed independently.
"""

from __future__ import annotations

import functools
import ipaddress

from .model import PROTOCOLS, Family, Loc, ParityError

SERVICES = {
    "ssh": 22,
    "domain": 53,
    "bootps": 67,
    "bootpc": 68,
    "tftp": 69,
    "http": 80,
    "https": 443,
    "dhcpv6-client": 546,
    "dhcpv6-server": 547,
}


def address_family(text: str) -> Family:
    return Family.IPV6 if ":" in text else Family.IPV4


def parse_address_span(text: str, loc: Loc, family: Family | None = None) -> tuple[int, int]:
    """`a`, `a/n` or `a-b` as an inclusive integer interval."""
    parsed = _address_span(text)
    if parsed is None:
        raise ParityError(f"not an address, prefix or range: {text!r}", loc)
    span, fam = parsed
    if family is not None and fam is not family:
        raise ParityError(f"{family.value} address expected, got {text!r}", loc)
    return span


@functools.lru_cache(maxsize=65536)
def _address_span(text: str) -> tuple[tuple[int, int], Family] | None:
    """Cached: a ruleset for N networks names each subnet several times, and `ipaddress`
    parsing was a fifth of the time to read one."""
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            span = (int(net.network_address), int(net.broadcast_address))
            fam = Family.IPV4 if net.version == 4 else Family.IPV6
        elif "-" in text and not _looks_single(text):
            lo_s, hi_s = text.split("-", 1)
            lo, hi = ipaddress.ip_address(lo_s), ipaddress.ip_address(hi_s)
            if lo.version != hi.version or int(lo) > int(hi):
                raise ValueError("bad range")
            span = (int(lo), int(hi))
            fam = Family.IPV4 if lo.version == 4 else Family.IPV6
        else:
            addr = ipaddress.ip_address(text)
            span = (int(addr), int(addr))
            fam = Family.IPV4 if addr.version == 4 else Family.IPV6
    except ValueError:
        return None
    return span, fam


def _looks_single(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def parse_port(text: str, loc: Loc) -> int:
    if text.isdigit():
        value = int(text)
        if value <= 65535:
            return value
    elif text in SERVICES:
        return SERVICES[text]
    raise ParityError(f"not a port: {text!r}", loc)


def parse_port_span(text: str, loc: Loc, sep: str = "-") -> tuple[int, int]:
    if sep in text:
        lo_s, hi_s = text.split(sep, 1)
        lo, hi = parse_port(lo_s, loc), parse_port(hi_s, loc)
        if lo > hi:
            raise ParityError(f"empty port range {text!r}", loc)
        return lo, hi
    port = parse_port(text, loc)
    return port, port


def parse_protocol(text: str, loc: Loc) -> int:
    if text.isdigit() and int(text) <= 255:
        return int(text)
    if text.lower() in PROTOCOLS:
        return PROTOCOLS[text.lower()]
    raise ParityError(f"unknown protocol {text!r}", loc)


# Abstract reject types. "icmpx:" types resolve per packet family, the others are fixed.
_ICMPX_V4 = {
    "port-unreachable": "icmp port-unreachable",
    "admin-prohibited": "icmp admin-prohibited",
    "no-route": "icmp net-unreachable",
    "host-unreachable": "icmp host-unreachable",
}
_ICMPX_V6 = {
    "port-unreachable": "icmpv6 port-unreachable",
    "admin-prohibited": "icmpv6 admin-prohibited",
    "no-route": "icmpv6 no-route",
    "host-unreachable": "icmpv6 addr-unreachable",
}
ICMPX_TYPES = frozenset(_ICMPX_V4)
ICMP_TYPES = frozenset(
    {
        "port-unreachable",
        "host-unreachable",
        "net-unreachable",
        "prot-unreachable",
        "net-prohibited",
        "host-prohibited",
        "admin-prohibited",
    }
)
ICMPV6_TYPES = frozenset(
    {"no-route", "admin-prohibited", "addr-unreachable", "port-unreachable", "policy-fail"}
    | {"reject-route"}
)
DEFAULT_REJECT = "icmpx:port-unreachable"


def resolve_reject(kind: str, family: Family) -> str:
    """The reject a packet of `family` actually gets (what both sides must agree on)."""
    if kind.startswith("icmpx:"):
        table = _ICMPX_V4 if family is Family.IPV4 else _ICMPX_V6
        return table[kind[6:]]
    return kind


IPT_REJECT = {
    "icmp-port-unreachable": "icmp port-unreachable",
    "port-unreach": "icmp port-unreachable",
    "icmp-net-unreachable": "icmp net-unreachable",
    "net-unreach": "icmp net-unreachable",
    "icmp-host-unreachable": "icmp host-unreachable",
    "host-unreach": "icmp host-unreachable",
    "icmp-proto-unreachable": "icmp prot-unreachable",
    "proto-unreach": "icmp prot-unreachable",
    "icmp-net-prohibited": "icmp net-prohibited",
    "net-prohib": "icmp net-prohibited",
    "icmp-host-prohibited": "icmp host-prohibited",
    "host-prohib": "icmp host-prohibited",
    "icmp-admin-prohibited": "icmp admin-prohibited",
    "admin-prohib": "icmp admin-prohibited",
    "tcp-reset": "tcp reset",
}
IP6T_REJECT = {
    "icmp6-no-route": "icmpv6 no-route",
    "no-route": "icmpv6 no-route",
    "icmp6-adm-prohibited": "icmpv6 admin-prohibited",
    "adm-prohibited": "icmpv6 admin-prohibited",
    "icmp6-addr-unreachable": "icmpv6 addr-unreachable",
    "addr-unreach": "icmpv6 addr-unreachable",
    "icmp6-port-unreachable": "icmpv6 port-unreachable",
    "port-unreach": "icmpv6 port-unreachable",
    "icmp6-policy-fail": "icmpv6 policy-fail",
    "policy-fail": "icmpv6 policy-fail",
    "icmp6-reject-route": "icmpv6 reject-route",
    "reject-route": "icmpv6 reject-route",
    "tcp-reset": "tcp reset",
}


def parse_nat_target(
    text: str, loc: Loc, family: Family | None
) -> tuple[Family | None, tuple[int, int] | None, tuple[int, int] | None]:
    """`ADDR[-ADDR][:P[-Q]]`, `[V6]:P`, `:P-Q` (ports only) as (family, addrs, ports)."""
    addr_part, port_part = text, None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ParityError(f"unterminated '[' in {text!r}", loc)
        addr_part, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ParityError(f"bad NAT target {text!r}", loc)
            port_part = rest[1:]
    elif text.startswith(":"):
        addr_part, port_part = "", text[1:]
    elif text.count(":") == 1:
        addr_part, port_part = text.split(":")
    addrs = None
    fam = family
    if addr_part:
        fam = address_family(addr_part)
        if family is not None and fam is not family:
            raise ParityError(f"{family.value} NAT address expected, got {addr_part!r}", loc)
        if "/" in addr_part:
            raise ParityError("NAT to a prefix is not supported", loc)
        addrs = parse_address_span(addr_part, loc, fam)
    ports = parse_port_span(port_part, loc) if port_part else None
    return fam, addrs, ports
