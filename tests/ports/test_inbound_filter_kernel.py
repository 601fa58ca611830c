"""`allow from` / `deny from` in a real kernel: a wan client allowed or blocked by its source.

The wan namespace reaches the guests through the host (it routes the guest subnets via the
host's uplink) from its uplink address 203.0.113.2 / 2001:db8:ffff::2 by default; `_source`
switches those routes to the "internet" addresses on its loopback (198.51.100.1,
2001:db8:5100::1), so one wan tries from two prefixes. Blocked probes from the wan are rejected
(ICMP back to the wan) or, for IPv6 TCP, may look like timeouts (see test_services._tcp6):
`blocked` covers both, since it also demands that the guest's server saw nothing.

Shown on nft, iptables-nft and iptables-legacy: `allow from` opens a stateful routed network to
one prefix (and, with `to`, one guest); `deny from` closes a stateless one, and a nat network's
forwarded port, to one prefix while hairpins from the guests still pass; the filters are
stateless (a guest's own connection to a denied prefix gets no reply). Mutants without the
filter intents turn each verdict around, so the probes can fail.
"""

from __future__ import annotations

import ipaddress

import pytest

from netc.ir import ForwardFilterIn

from kernel.probing import servers
from kernel.topology import HOST_UPLINK4, HOST_UPLINK6, Shape, Topology

from .support import BACKENDS, explain, load

pytestmark = pytest.mark.kernel

G4, G4B = "192.168.122.10", "192.168.122.11"
G6, G6B = "2001:db8:ca2:2::10", "2001:db8:ca2:2::11"

# A stateful routed network opened to the admin prefix, for ssh; IPv6 to one guest only.
STATEFUL = """
network default {
    bridge virbr0
    forward route { inbound stateful }
    ip 192.168.122.1/24
    ip 2001:db8:ca2:2::1/64
    allow from 203.0.113.0/24 tcp 22
    allow from 2001:db8:ffff::/64 tcp 22 to 2001:db8:ca2:2::10/128
}
"""

# A stateless routed network (libvirt's default for route) closed to one prefix.
STATELESS = """
network default {
    bridge virbr0
    forward route
    ip 192.168.122.1/24
    ip 2001:db8:ca2:2::1/64
    deny from 198.51.100.0/24
    deny from 2001:db8:5100::/48 tcp
}
"""


# A nat network with a forwarded port, closed to one prefix: the forward included.
FORWARDED = """
network default {
    bridge virbr0
    forward nat
    ip 192.168.122.1/24
    expose tcp 8022 to 192.168.122.10 port 22
    deny from 198.51.100.0/24
}
"""
HOST4 = str(HOST_UPLINK4.ip)


def _source(topo: Topology, v4: str, v6: str) -> None:
    """Make the wan's connections to the guest subnets come from `v4` / `v6`."""
    for family, subnet, via, src in (
        ("-4", topo.shape.subnet(4), HOST_UPLINK4.ip, v4),
        ("-6", topo.shape.subnet(6), HOST_UPLINK6.ip, v6),
    ):
        topo.run("wan", "ip", family, "route", "replace", subnet, "via", str(via), "src", src)
        assert ipaddress.ip_address(src)  # a literal, not an option


def _stateful(topo: Topology, backend: str, drop=None) -> dict:
    load(topo, STATEFUL, backend, drop)
    listen = {"guest": ["tcp/22", "tcp/8080"], "guest2": ["tcp/22"], "wan": ["tcp/8080"]}
    with servers(topo, listen) as srv:
        admin = srv.probe(
            {
                "wan": [f"tcp/{G4}/22", f"tcp/{G4}/8080", f"tcp/{G6}/22"],
                "guest": ["tcp/198.51.100.1/8080"],  # the guest's own connection: replies pass
            }
        )
        slow = srv.probe({"wan": [f"tcp/{G6B}/22"]})  # outside the IPv6 `to`
        _source(topo, "198.51.100.1", "2001:db8:5100::1")
        other = srv.probe({"wan": [f"tcp/{G4}/22"]})
    return {**admin, **slow, **{("wan-other", k[1]): v for k, v in other.items()}}


@pytest.mark.parametrize("backend", BACKENDS)
def test_allow_from_opens_a_stateful_network_to_one_prefix(make_topology, backend: str) -> None:
    got = _stateful(make_topology(Shape(), tag="infa"), backend)
    why = explain(got)
    assert got[("wan", f"tcp/{G4}/22")].ok, why  # allowed from 203.0.113.0/24
    assert got[("wan", f"tcp/{G6}/22")].ok, why
    assert got[("guest", "tcp/198.51.100.1/8080")].ok, why
    assert got[("wan", f"tcp/{G4}/8080")].blocked, why  # another port: the mode's default
    assert got[("wan", f"tcp/{G6B}/22")].blocked, why  # not the guest the IPv6 filter names
    assert got[("wan-other", f"tcp/{G4}/22")].blocked, why  # another source prefix


def _stateless(topo: Topology, backend: str, drop=None) -> dict:
    load(topo, STATELESS, backend, drop)
    listen = {"guest": ["tcp/22", "udp/53"], "wan": ["tcp/8080"]}
    with servers(topo, listen) as srv:
        before = srv.probe(
            {
                "wan": [f"tcp/{G4}/22", f"tcp/{G6}/22"],  # from 203.0.113.2: the default
                # the guest's own connections: to the denied prefix its replies are rejected
                "guest": ["tcp/198.51.100.1/8080", "tcp/203.0.113.2/8080"],
            }
        )
        _source(topo, "198.51.100.1", "2001:db8:5100::1")
        after = srv.probe({"wan": [f"tcp/{G4}/22", f"udp/{G6}/53", f"tcp/{G6}/22"]})
    return {**before, **{("wan-denied", k[1]): v for k, v in after.items()}}


@pytest.mark.parametrize("backend", BACKENDS)
def test_deny_from_closes_a_stateless_network_to_one_prefix(make_topology, backend: str) -> None:
    got = _stateless(make_topology(Shape(), tag="infd"), backend)
    why = explain(got)
    assert got[("wan", f"tcp/{G4}/22")].ok, why
    assert got[("wan", f"tcp/{G6}/22")].ok, why
    assert got[("guest", "tcp/203.0.113.2/8080")].ok, why
    assert got[("wan-denied", f"udp/{G6}/53")].ok, why  # the IPv6 deny is tcp only
    denied = got[("wan-denied", f"tcp/{G4}/22")]
    assert denied.blocked and denied.result in ("refused", "unreachable"), why  # rejected
    assert got[("wan-denied", f"tcp/{G6}/22")].blocked, why
    # stateless, like `deny to`: the SYN-ACK from the denied prefix is rejected, so the guest's
    # own connection there cannot complete (its server never sees the connection)
    assert got[("guest", "tcp/198.51.100.1/8080")].blocked, why


def _forwarded(topo: Topology, backend: str, drop=None) -> dict:
    load(topo, FORWARDED, backend, drop)
    listen = {"guest": ["tcp/22"], "wan": ["tcp/8080"]}
    with servers(topo, listen) as srv:
        before = srv.probe(
            {
                "wan": [f"tcp/{HOST4}/8022"],  # from 203.0.113.2
                "guest2": [f"tcp/{HOST4}/8022"],  # hairpin: in on the bridge, never filtered
                "guest": ["tcp/198.51.100.1/8080", "tcp/203.0.113.2/8080"],
            }
        )
        # the host's uplink address is on-link for the wan: a host route picks the source
        topo.run(
            "wan", "ip", "route", "replace", f"{HOST4}/32", "dev", "eth0", "src", "198.51.100.1"
        )
        after = srv.probe({"wan": [f"tcp/{HOST4}/8022"]})
    return {**before, **{("wan-denied", k[1]): v for k, v in after.items()}}


@pytest.mark.parametrize("backend", BACKENDS)
def test_deny_from_closes_a_forwarded_port_too(make_topology, backend: str) -> None:
    got = _forwarded(make_topology(Shape(), tag="inff"), backend)
    why = explain(got)
    assert got[("wan", f"tcp/{HOST4}/8022")].ok, why
    assert got[("guest2", f"tcp/{HOST4}/8022")].ok, why
    assert got[("guest", "tcp/203.0.113.2/8080")].ok, why
    denied = got[("wan-denied", f"tcp/{HOST4}/8022")]
    assert denied.blocked and denied.result in ("refused", "unreachable"), why
    assert got[("guest", "tcp/198.51.100.1/8080")].blocked, why  # stateless: replies too


def _no_filters(intent) -> bool:
    return isinstance(intent, ForwardFilterIn)


def test_mutant_without_the_allow_is_caught(make_topology) -> None:
    """Without the ForwardFilterIn intents the allowed ssh is refused: the test can fail."""
    got = _stateful(make_topology(Shape(), tag="infma"), "nft", drop=_no_filters)
    assert got[("wan", f"tcp/{G4}/22")].blocked, explain(got)


def test_mutant_without_the_deny_is_caught(make_topology) -> None:
    """Without the ForwardFilterIn intents the denied prefix gets in: the test can fail."""
    got = _stateless(make_topology(Shape(), tag="infmd"), "nft", drop=_no_filters)
    assert got[("wan-denied", f"tcp/{G4}/22")].ok, explain(got)
    assert got[("guest", "tcp/198.51.100.1/8080")].ok, explain(got)


def test_mutant_without_the_deny_lets_the_prefix_use_the_forward(make_topology) -> None:
    got = _forwarded(make_topology(Shape(), tag="inffm"), "nft", drop=_no_filters)
    assert got[("wan-denied", f"tcp/{HOST4}/8022")].ok, explain(got)
