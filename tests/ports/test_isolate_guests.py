"""`isolate guests` in a real kernel: which mechanism stops guest ↔ guest, in which world.

Guest-to-guest traffic on one bridge is bridged, so the IP firewall sees it only when
br_netfilter is on. The tests pin that down on every backend:
* br_netfilter on: the IP rules alone isolate (ForwardIsolate rejects iif = oif = bridge);
* br_netfilter off: the IP rules alone do *not* isolate (the reason for the port flag), and the
  bridge ports' `isolated` flag (`netc.host.port_isolation`) does, whatever the backend.
In every world guests still reach the host, the outside, and a forwarded port of the other guest
through the host's address (hairpin is routed, not bridged).
"""

from __future__ import annotations

import pytest

from netc.host.port_isolation import ports_isolated, set_ports_isolated

from kernel.probing import servers
from kernel.topology import Shape

from .support import BACKENDS, explain, load

pytestmark = pytest.mark.kernel

SOURCE = """
network default {
    bridge virbr0
    forward nat
    ip 192.168.122.1/24 { dhcp 192.168.122.2 - 192.168.122.254 }
    ip 2001:db8:ca2:2::1/64
    isolate guests
    expose tcp 8022 to 192.168.122.11 port 22
}
"""

HOST4 = "203.0.113.1"

# (br_netfilter, port flag set, guests isolated from each other?)
WORLDS = {
    "br_nf-on": (True, False, True),
    "br_nf-off-no-flag": (False, False, False),
    "br_nf-off-port-flag": (False, True, True),
}


# The IP rules on every backend; the port flag on both rule languages; the pitfall once.
CASES = [(b, "br_nf-on") for b in BACKENDS]
CASES += [("nft", "br_nf-off-port-flag"), ("iptables-nft", "br_nf-off-port-flag")]
CASES += [("nft", "br_nf-off-no-flag")]


@pytest.mark.parametrize(("backend", "world"), CASES)
def test_isolated_guests(make_topology, backend: str, world: str) -> None:
    br_nf, flag, isolated = WORLDS[world]
    topo = make_topology(Shape(bridge_nf_call=br_nf), tag="iso")
    load(topo, SOURCE, backend)
    if flag:
        assert set_ports_isolated(topo.ns("host"), "virbr0") == ["vnet0", "vnet1"]
        assert ports_isolated(topo.ns("host"), "virbr0") == {"vnet0": True, "vnet1": True}
    # guest → guest2 over IPv4 and guest2 → guest over IPv6, in parallel (blocked = timeout: ARP
    # and neighbour discovery never complete across isolated ports)
    neighbour = {
        "guest": f"tcp/{topo.addr('guest2')}/22",
        "guest2": f"tcp/{topo.addr('guest', 6)}/22",
    }
    listen = {"guest": ["tcp/22"], "guest2": ["tcp/22"], "host": ["tcp/9090"], "wan": ["tcp/8080"]}
    reachable = [
        f"tcp/{topo.addr('host')}/9090",  # the gateway
        f"tcp/{topo.addr('wan')}/8080",  # the outside
        f"tcp/{HOST4}/8022",  # the neighbour's forwarded port, through the host (hairpin)
    ]
    with servers(topo, listen) as srv:
        got = srv.probe(
            {"guest": [neighbour["guest"]] + reachable, "guest2": [neighbour["guest2"]]},
            timeout=0.5,
        )
    why = explain(got)
    for role, spec in neighbour.items():
        outcome = got[(role, spec)]
        assert outcome.blocked if isolated else outcome.ok, why
    for spec in reachable:
        assert got[("guest", spec)].ok, why


def test_port_flag_helper_edges(make_topology) -> None:
    """A bridge that does not exist yet has no ports to flag; the flag can be cleared again."""
    topo = make_topology(Shape(), tag="isoh")
    host = topo.ns("host")
    assert set_ports_isolated(host, "virbr9") == [] and ports_isolated(host, "virbr9") == {}
    assert set_ports_isolated(host, "virbr0") == ["vnet0", "vnet1"]
    assert set_ports_isolated(host, "virbr0", isolated=False) == ["vnet0", "vnet1"]
    assert ports_isolated(host, "virbr0") == {"vnet0": False, "vnet1": False}
    assert ports_isolated(host, "wan0") == {}  # not a bridge: no ports


# libvirt's rules for `<port isolated='yes'/>`: the same as without it (its guest_cross accept
# stays); libvirt isolates by the port flag alone.
LIBVIRT_LIKE = SOURCE.replace("    isolate guests\n", "")


@pytest.mark.parametrize(
    ("backend", "rules", "isolated"),
    [(b, SOURCE, True) for b in BACKENDS] + [("nft", LIBVIRT_LIKE, False)],
    ids=[f"isolate-guests-{b}" for b in BACKENDS] + ["libvirt-like-nft"],
)
def test_guests_routing_via_the_gateway_pass_the_port_flag(
    make_topology, backend: str, rules: str, isolated: bool
) -> None:
    """Every port flagged, br_netfilter off (a typical libvirt host): a guest that routes its
    neighbour's address via the gateway sends to the host's MAC, the host routes the packet back
    out of the bridge (iif = oif = the bridge) and the bridge delivers it, as the flag only stops
    port → port. With libvirt's rules one guest alone so delivers datagrams to its neighbour, and
    two guests that both route so hold connections; `isolate guests`' reject stops both."""
    topo = make_topology(Shape(bridge_nf_call=False), tag="isor")
    load(topo, rules, backend)
    assert set_ports_isolated(topo.ns("host"), "virbr0") == ["vnet0", "vnet1"]
    # No ICMP redirect (it would teach the guests the direct path, which the flag blocks).
    topo.run(
        "host",
        "sysctl",
        "-qw",
        "net.ipv4.conf.all.send_redirects=0",
        "net.ipv4.conf.virbr0.send_redirects=0",
    )
    gateway = topo.addr("host")
    datagram, connection = f"udp/{topo.addr('guest2')}/5000", f"tcp/{topo.addr('guest2')}/22"
    with servers(topo, {"guest2": ["udp/5000", "tcp/22"]}) as srv:
        topo.run("guest", "ip", "route", "add", f"{topo.addr('guest2')}/32", "via", gateway)
        one_way = srv.probe({"guest": [datagram]}, timeout=0.5)[("guest", datagram)]
        topo.run("guest2", "ip", "route", "add", f"{topo.addr('guest')}/32", "via", gateway)
        both = srv.probe({"guest": [connection]}, timeout=0.5)[("guest", connection)]
    why = f"{one_way}\n{both}"
    if isolated:
        assert one_way.blocked and both.blocked, why
    else:
        assert one_way.logged and both.ok, why  # the reply to the datagram cannot come back
