"""The statements beyond libvirt, from text to intents: what is accepted, what is refused (and
how the refusal reads), and where each intent lands in the network's evaluation order."""

from __future__ import annotations

import ipaddress

import pytest

from netc.pipeline import compile_sources
from netc.diagnostics import NetcError
from netc.emitters.base import Slot, slot
from netc.ir import (
    Dnat,
    Family,
    FilterAction,
    ForwardAllowDnat,
    ForwardAllowOut,
    ForwardCross,
    ForwardCrossEstablished,
    ForwardFilter,
    ForwardIsolate,
    ForwardReject,
    HostAccept,
    HostAcceptEstablished,
    HostAcceptIcmp,
    HostAllow,
    HostReject,
    NatHairpin,
    NatHook,
    NatTranslate,
    PortRange,
    Proto,
    Verdict,
)


def compiled(body: str, mode: str = "nat", extra: str = ""):
    text = f"""
network default {{
    bridge virbr0
    forward {mode}
    ip 192.168.122.1/24 {{ dhcp 192.168.122.2 - 192.168.122.254 }}
    ip 192.168.123.1/24
    {body}
}}
{extra}
"""
    return compile_sources([("t.net", text)])


def errors(body: str, mode: str = "nat", extra: str = "") -> list[str]:
    with pytest.raises(NetcError) as err:
        compiled(body, mode, extra)
    return [f"{d.message} | {d.hint}" for d in err.value.diagnostics]


def of(found, kind):
    return [i for i in found if isinstance(i, kind)]


# -- building the model -------------------------------------------------------------------------


def test_expose_forms() -> None:
    net = compiled("""
        expose tcp 8022 to 192.168.122.10 port 22
        expose udp 5000 - 5010 to 192.168.122.11 on 203.0.113.1
        expose tcp 8443 to 192.168.122.12 port 443 via eth0
        expose udp 6000-6001 to 192.168.123.5
        """).program.networks[0]
    a, b, c, d = net.port_forwards
    assert (a.proto, a.host_ports, a.target_ports) == (
        Proto.TCP,
        PortRange(8022, 8022),
        PortRange(22, 22),
    )
    assert (b.host_ports, b.target_ports) == (PortRange(5000, 5010), PortRange(5000, 5010))
    assert b.host_address == ipaddress.ip_address("203.0.113.1") and b.in_dev is None
    assert c.in_dev == "eth0" and c.host_address is None
    assert d.target == ipaddress.ip_address("192.168.123.5") and d.family is Family.IPV4


def test_services_filters_isolation_in_the_model() -> None:
    net = compiled("""
        services { ssh dns tcp 8080 udp 6000 - 6010 }
        allow tcp 443 to 10.1.2.3
        deny to 10.0.0.0/8
        deny udp to 0.0.0.0/0
        isolate guests
        """).program.networks[0]
    names = [(s.name, s.proto, s.ports) for s in net.services.services]
    assert names == [
        ("ssh", Proto.TCP, PortRange(22, 22)),
        ("dns", Proto.TCP, PortRange(53, 53)),
        ("dns", Proto.UDP, PortRange(53, 53)),
        (None, Proto.TCP, PortRange(8080, 8080)),
        (None, Proto.UDP, PortRange(6000, 6010)),
    ]
    actions = [(f.action, str(f.destination), f.proto, f.ports) for f in net.filters]
    assert actions == [
        (FilterAction.ALLOW, "10.1.2.3/32", Proto.TCP, PortRange(443, 443)),
        (FilterAction.DENY, "10.0.0.0/8", None, None),
        (FilterAction.DENY, "0.0.0.0/0", Proto.UDP, None),
    ]
    assert net.isolate_guests


def test_without_the_new_statements_nothing_changes() -> None:
    net = compiled("").program.networks[0]
    assert (net.port_forwards, net.services, net.filters, net.isolate_guests) == (
        (),
        None,
        (),
        False,
    )


def test_new_keywords_still_work_as_network_names() -> None:
    text = "network guests { bridge virbr0 forward nat ip 192.168.122.1/24 }"
    assert compile_sources([("t.net", text)]).program.networks[0].name == "guests"


@pytest.mark.parametrize(
    ("body", "mode", "message"),
    [
        ("expose tcp 80 to 192.168.124.10", "nat", "is not inside a subnet of network 'default'"),
        ("expose tcp 80 to 192.168.122.1", "nat", "is the host's own gateway address"),
        ("expose tcp 80 to 192.168.122.255", "nat", "is the broadcast address"),
        ("expose tcp 80 to 2001:db8::10", "nat", "needs IPv6 NAT"),
        ("expose tcp 80 to 192.168.122.10 on 2001:db8::1", "nat", "are of different families"),
        ("expose tcp 80-90 to 192.168.122.10 port 22", "nat", "differ in length"),
        ("expose tcp 80-90 to 192.168.122.10 port 180-190", "nat", "cannot be shifted"),
        ("expose tcp 0 to 192.168.122.10", "nat", "is not a port number"),
        ("expose tcp 80 to 192.168.122.10 port 22 port 23", "nat", "'port' given twice"),
        ("expose tcp 80 to 192.168.122.10", "isolated", "is 'forward isolated'"),
        ("expose tcp 80 to 192.168.122.10", "open", "'forward open' gets none"),
        ("services { sshd }", "nat", "unknown service 'sshd' | did you mean 'ssh'?"),
        ("services { ssh } services { dns }", "nat", "'services' given twice"),
        ("deny to 10.0.0.1/8", "nat", "has host bits set | did you mean 10.0.0.0/8?"),
        ("deny to nowhere", "nat", "is not an address or prefix"),
        ("deny to 2001:db8::/32", "nat", "has no ipv6 subnet"),
        ("allow tcp 443 to 10.0.0.0/8", "isolated", "does not forward at all"),
        ("isolate guests isolate guests", "nat", "'isolate guests' given twice"),
    ],
)
def test_refusals(body: str, mode: str, message: str) -> None:
    found = errors(body, mode)
    assert any(message in e for e in found), found


def test_two_forwards_cannot_claim_one_host_port() -> None:
    found = errors("""
        expose tcp 8000-8010 to 192.168.122.10
        expose tcp 8005 to 192.168.122.11
        """)
    assert found == [
        "tcp port 8005 is already forwarded to 192.168.122.10 | the first forward is at t.net:8:9"
    ]


def test_host_ports_are_global_across_networks() -> None:
    other = """
network lab { bridge virbr1 forward route ip 198.51.100.1/24 expose tcp 8022 to 198.51.100.9 }
"""
    found = errors("expose tcp 8022 to 192.168.122.10", extra=other)
    assert "already forwarded to 192.168.122.10 in network 'default'" in found[0]


@pytest.mark.parametrize(
    "second",
    [
        "expose udp 8022 to 192.168.122.11",  # another protocol
        "expose tcp 8022 to 192.168.122.11 on 203.0.113.9",  # first is bound elsewhere
        "expose tcp 8022 to 192.168.122.11 via eth1",  # first arrives on eth0 only
    ],
)
def test_forwards_that_do_not_overlap(second: str) -> None:
    compiled(f"expose tcp 8022 to 192.168.122.10 on 203.0.113.1 via eth0\n{second}")


# -- lowering -----------------------------------------------------------------------------------


def test_port_forward_intents() -> None:
    found = compiled("""
        expose tcp 8022 to 192.168.122.10 port 22
        expose tcp 8443 to 192.168.122.12 port 443 via eth0
        expose udp 5000-5010 to 192.168.123.5
        """).intents
    dnats = [(d.hook, d.host_ports.first, d.target_ports) for d in of(found, Dnat)]
    assert dnats == [
        (NatHook.PREROUTING, 8022, PortRange(22, 22)),
        (NatHook.OUTPUT, 8022, PortRange(22, 22)),
        (NatHook.PREROUTING, 8443, PortRange(443, 443)),  # via: no output DNAT
        (NatHook.PREROUTING, 5000, None),  # same ports: the destination port is kept
        (NatHook.OUTPUT, 5000, None),
    ]
    accepts = [(str(a.target), a.target_ports.first) for a in of(found, ForwardAllowDnat)]
    assert accepts == [("192.168.122.10", 22), ("192.168.122.12", 443), ("192.168.123.5", 5000)]
    # nat mode: the hairpin masquerade only from the target's own subnet (the masquerade set
    # already rewrites traffic between the two subnets)
    hairpins = [(str(h.subnet), str(h.target)) for h in of(found, NatHairpin)]
    assert hairpins == [
        ("192.168.122.0/24", "192.168.122.10"),
        ("192.168.122.0/24", "192.168.122.12"),
        ("192.168.123.0/24", "192.168.123.5"),
    ]


def test_routed_hairpin_from_every_subnet() -> None:
    found = compiled("expose tcp 80 to 192.168.123.5", mode="route").intents
    assert [str(h.subnet) for h in of(found, NatHairpin)] == [
        "192.168.122.0/24",
        "192.168.123.0/24",
    ]
    assert not of(found, NatTranslate)


def _slot_order(found, wanted: Slot) -> list[type]:
    return [type(i) for i in found if slot(i) is wanted]


def test_dnat_accepts_come_before_isolation_and_rejects() -> None:
    found = compiled("isolate guests\nexpose tcp 8022 to 192.168.122.10 port 22").intents
    assert not of(found, ForwardCross)
    forward_in = [
        type(i) for i in found if slot(i) in (Slot.DNAT_ACCEPT, Slot.CROSS, Slot.TO_GUESTS)
    ]
    assert forward_in[:3] == [ForwardAllowDnat, ForwardCrossEstablished, ForwardIsolate]
    assert forward_in[-1] is ForwardReject


def test_filters_come_before_the_allow_out_in_written_order() -> None:
    found = compiled("allow tcp 443 to 10.1.2.3\ndeny to 10.0.0.0/8").intents
    order = _slot_order(found, Slot.FROM_GUESTS)
    assert order == [ForwardFilter] * 4 + [ForwardAllowOut] * 2 + [ForwardReject]
    filters = [(f.verdict, str(f.subnet), str(f.destination)) for f in of(found, ForwardFilter)]
    assert filters == [
        (Verdict.ACCEPT, "192.168.122.0/24", "10.1.2.3/32"),
        (Verdict.ACCEPT, "192.168.123.0/24", "10.1.2.3/32"),
        (Verdict.REJECT, "192.168.122.0/24", "10.0.0.0/8"),
        (Verdict.REJECT, "192.168.123.0/24", "10.0.0.0/8"),
    ]


def test_services_close_the_host_after_what_is_served() -> None:
    found = compiled("services { ssh dns tftp }").intents
    order = _slot_order(found, Slot.HOST_IN)
    assert order == [HostAccept] * 3 + [
        HostAcceptEstablished,
        HostAcceptIcmp,
        HostAllow,  # ssh; dns is served already, so not repeated
        HostAllow,  # tftp: not served here, so listed
        HostReject,
    ]
    assert [a.service for a in of(found, HostAllow)] == ["ssh", "tftp"]


def test_services_cover_ipv6_with_icmpv6() -> None:
    text = """
network v6 {
    bridge virbr0
    forward nat
    ip 2001:db8:1::1/64 { dhcp 2001:db8:1::10 - 2001:db8:1::ff }
    services { dhcp dhcpv6 }
}
"""
    found = compile_sources([("t.net", text)]).intents
    icmp = {i.family for i in of(found, HostAcceptIcmp)}
    assert icmp == {Family.IPV4, Family.IPV6}
    # IPv4 is always firewalled: the listed dhcp opens it there; DHCPv6 is served already
    listed = [(a.family, a.service) for a in of(found, HostAllow)]
    assert listed == [(Family.IPV4, "dhcp")]


@pytest.mark.parametrize(
    "first, second, clash",
    [
        ("expose tcp 100-1000 to 192.168.122.10", "expose tcp 999 to 192.168.122.11", True),
        ("expose tcp 999 to 192.168.122.10", "expose tcp 100-1000 to 192.168.122.11", True),
        ("expose tcp 100-1000 to 192.168.122.10", "expose tcp 900-2000 to 192.168.122.11", True),
        ("expose tcp 100-1000 to 192.168.122.10", "expose tcp 1001-2000 to 192.168.122.11", False),
        ("expose tcp 100-1000 to 192.168.122.10", "expose udp 500 to 192.168.122.11", False),
        ("expose tcp 80 to 192.168.122.10", "expose tcp 81 to 192.168.122.11", False),
    ],
)
def test_indexed_clash_check_wide_and_narrow_ranges(first: str, second: str, clash: bool) -> None:
    """Forwards are indexed port by port up to a width, wider ones compared with all: both
    kinds must still find every overlap in either order."""
    if clash:
        assert any("already forwarded" in e for e in errors(first + "\n" + second))
    else:
        compiled(first + "\n" + second)


def test_clash_reports_the_earliest_forward() -> None:
    found = errors("""
        expose tcp 1-5000 to 192.168.122.10
        expose tcp 7000 to 192.168.122.12
        expose tcp 7000 to 192.168.122.11
        """)
    assert len(found) == 1 and "already forwarded to 192.168.122.12" in found[0], found
