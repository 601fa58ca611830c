"""Lowering follows libvirt's semantics per forward mode."""

from __future__ import annotations

import ipaddress

from netc.pipeline import compile_sources
from netc.ir import (
    Direction,
    Family,
    ForwardAllowIn,
    ForwardAllowOut,
    ForwardCross,
    ForwardReject,
    HostAccept,
    NatExclude,
    NatTranslate,
    PortRange,
    Proto,
)


def intents(text: str):
    return compile_sources([("t.net", text)]).intents


def kinds(found, kind):
    return [i for i in found if isinstance(i, kind)]


DEFAULT = """
network default {
    bridge virbr0
    forward nat
    ip 192.168.122.1/24 { dhcp 192.168.122.2 - 192.168.122.254 }
}
"""


def test_default_network_is_libvirts_masquerade_set() -> None:
    found = intents(DEFAULT)
    net = ipaddress.ip_network("192.168.122.0/24")
    assert [type(i) for i in found[:3]] == [ForwardCross, ForwardAllowOut, ForwardAllowIn]
    allow_in = kinds(found, ForwardAllowIn)[0]
    assert allow_in.subnet == net and allow_in.established_only
    nat = [i for i in found if isinstance(i, (NatExclude, NatTranslate))]
    assert [str(i.destination) for i in nat[:2]] == ["224.0.0.0/24", "255.255.255.255/32"]
    assert [(i.proto, i.ports) for i in nat[2:]] == [
        (Proto.TCP, PortRange(1024, 65535)),
        (Proto.UDP, PortRange(1024, 65535)),
        (None, None),
    ]
    assert all(i.to_addresses is None for i in nat[2:])  # masquerade
    rejects = kinds(found, ForwardReject)
    assert {r.direction for r in rejects} == {Direction.TO_GUESTS, Direction.FROM_GUESTS}
    assert all(r.family is Family.IPV4 for r in found)  # no IPv6 subnet: IPv4 only


def test_every_intent_carries_family_network_and_span() -> None:
    for intent in intents(DEFAULT):
        assert intent.family in Family
        assert intent.network == "default"
        assert intent.span.file == "t.net" and intent.span.line >= 1


def test_rejects_come_after_every_accept_of_their_chain() -> None:
    found = intents(DEFAULT)
    first_reject = min(found.index(r) for r in kinds(found, ForwardReject))
    accepts = kinds(found, ForwardAllowOut) + kinds(found, ForwardAllowIn)
    assert all(found.index(a) < first_reject for a in accepts)


def test_host_services_follow_what_is_served() -> None:
    served = {(h.proto, h.port) for h in kinds(intents(DEFAULT), HostAccept)}
    assert served == {(Proto.UDP, 67), (Proto.UDP, 68), (Proto.TCP, 53), (Proto.UDP, 53)}
    quiet = intents("network q { bridge virbr0 forward nat ip 192.168.122.1/24 dns off }")
    assert kinds(quiet, HostAccept) == []
    pxe = intents(
        "network p { bridge virbr0 ip 192.168.122.1/24 { dhcp 192.168.122.2 - 192.168.122.9 "
        "tftp /srv/tftp } }"
    )
    assert (Proto.UDP, 69) in {(h.proto, h.port) for h in kinds(pxe, HostAccept)}


def test_ipv6_in_nat_mode_is_routed_unless_ipv6_nat() -> None:
    text = """
    network d { bridge virbr0 forward nat%s
        ip 192.168.122.1/24
        ip 2001:db8:ca2:2::1/64 }
    """
    routed = intents(text % "")
    v6_in = [i for i in kinds(routed, ForwardAllowIn) if i.family is Family.IPV6]
    assert len(v6_in) == 1 and not v6_in[0].established_only  # libvirt: stateless
    assert not [i for i in kinds(routed, NatTranslate) if i.family is Family.IPV6]
    masq = intents(text % " { ipv6 nat }")
    v6_nat = [
        i for i in masq if isinstance(i, (NatExclude, NatTranslate)) and i.family is Family.IPV6
    ]
    assert [str(i.destination) for i in v6_nat if isinstance(i, NatExclude)] == ["ff02::/16"]
    assert len(kinds(v6_nat, NatTranslate)) == 3


def test_route_mode_inbound_is_stateless_unless_stateful() -> None:
    text = "network r { bridge virbr2 forward route%s ip 192.0.2.1/25 }"
    assert not kinds(intents(text % ""), ForwardAllowIn)[0].established_only
    assert kinds(intents(text % " { inbound stateful }"), ForwardAllowIn)[0].established_only
    assert not kinds(intents(text % ""), NatTranslate)


def test_isolated_has_no_subnet_rules_and_open_has_nothing() -> None:
    iso = intents("network i { bridge virbr1 forward isolated ip 192.168.100.1/24 }")
    assert not kinds(iso, ForwardAllowOut) and not kinds(iso, ForwardAllowIn)
    assert len(kinds(iso, ForwardReject)) == 2 and len(kinds(iso, ForwardCross)) == 1
    no_forward = intents("network i { bridge virbr1 ip 192.168.100.1/24 }")
    assert no_forward == iso or [type(i) for i in no_forward] == [type(i) for i in iso]
    assert intents("network o { bridge virbr9 forward open ip 192.168.77.1/24 }") == ()


def test_ipv6_on_without_subnet_firewalls_ipv6_too() -> None:
    found = intents("network i { bridge virbr1 ipv6 on ip 192.168.100.1/24 }")
    assert {r.family for r in kinds(found, ForwardReject)} == {Family.IPV4, Family.IPV6}


def test_forward_dev_restricts_nat_and_allows() -> None:
    found = intents("network d { bridge virbr0 forward nat { dev enp0s7 } ip 192.168.122.1/24 }")
    assert kinds(found, ForwardAllowOut)[0].out_dev == "enp0s7"
    assert kinds(found, ForwardAllowIn)[0].in_dev == "enp0s7"
    assert all(i.out_dev == "enp0s7" for i in found if isinstance(i, (NatExclude, NatTranslate)))
    assert all(
        not hasattr(r, "out_dev") for r in kinds(found, ForwardReject) + kinds(found, ForwardCross)
    )


def test_snat_range_and_ports() -> None:
    found = intents(
        "network d { bridge virbr0 forward nat { address 203.0.113.10 - 203.0.113.20 "
        "ports 500 - 1000 } ip 192.168.122.1/24 }"
    )
    translate = kinds(found, NatTranslate)
    assert all(str(t.to_addresses.first) == "203.0.113.10" for t in translate)
    assert [t.ports for t in translate] == [PortRange(500, 1000), PortRange(500, 1000), None]
