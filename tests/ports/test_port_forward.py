"""Port forwards in a real kernel: wan → host port → guest, hairpin, host-opened, bound, via.

The topology (tests/kernel/topology.py): guest 192.168.122.10 / 2001:db8:ca2:2::10 and guest2
.11 / ::11 on virbr0 (host 192.168.122.1), host uplink wan0 203.0.113.1 / 2001:db8:ffff::1, wan
203.0.113.2 (and routes back to the guest subnets, so only the firewall stops a direct connection).
"""

from __future__ import annotations

import pytest

from kernel.probing import servers
from kernel.topology import Shape

from netc.ir.intents import Dnat, ForwardAllowDnat, NatHairpin, NatHook

from .support import BACKENDS, explain, load

pytestmark = pytest.mark.kernel

SOURCE = """
network default {
    bridge virbr0
    forward nat { ipv6 nat }
    ip 192.168.122.1/24 { dhcp 192.168.122.2 - 192.168.122.254 }
    ip 2001:db8:ca2:2::1/64
    expose tcp 8022 to 192.168.122.10 port 22
    expose tcp 8022 to 2001:db8:ca2:2::10 port 22
    expose udp 9000 - 9002 to 192.168.122.11 on 203.0.113.1
    expose tcp 8443 to 192.168.122.11 port 443 via wan0
}
"""

HOST4, HOST6, GW4 = "203.0.113.1", "2001:db8:ffff::1", "192.168.122.1"


@pytest.mark.parametrize("br_nf", [True, False], ids=["br_nf-on", "br_nf-off"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_port_forwards(make_topology, backend: str, br_nf: bool) -> None:
    topo = make_topology(Shape(bridge_nf_call=br_nf), tag="pfwd")
    load(topo, SOURCE, backend)
    guest4, guest6 = topo.addr("guest"), topo.addr("guest", 6)
    listen = {"guest": ["tcp/22"], "guest2": ["udp/9001", "tcp/443"]}
    with servers(topo, listen) as srv:
        got = srv.probe(
            {
                "wan": [
                    f"tcp/{HOST4}/8022",  # the forwarded port, from outside
                    f"tcp/{HOST6}/8022",
                    f"udp/{HOST4}/9001",  # inside the bound UDP range
                    f"tcp/{HOST4}/8443",  # via wan0: arrives on wan0
                    f"tcp/{guest4}/22",  # routable, but not translated: rejected
                ],
                "guest2": [
                    f"tcp/{HOST4}/8022",  # hairpin through the public address
                    f"tcp/{GW4}/8022",  # hairpin through the gateway address
                    f"tcp/{HOST6}/8022",  # IPv6 hairpin (ipv6 nat)
                ],
                "host": [
                    f"tcp/{HOST4}/8022",  # a connection the host itself opens (output DNAT)
                    "tcp/127.0.0.1/8022",  # loopback is left alone: nothing listens there
                ],
                "guest": [
                    f"tcp/{HOST4}/8443",  # 'via wan0' does not apply to traffic from guests
                    f"udp/{GW4}/9001",  # bound to 203.0.113.1 only
                ],
            }
        )
    why = explain(got)
    wan = {spec: o for (role, spec), o in got.items() if role == "wan"}
    assert wan[f"tcp/{HOST4}/8022"].ok and wan[f"tcp/{HOST4}/8022"].peer == "203.0.113.2", why
    assert wan[f"tcp/{HOST6}/8022"].ok and wan[f"tcp/{HOST6}/8022"].peer == "2001:db8:ffff::2", why
    assert wan[f"udp/{HOST4}/9001"].ok, why
    assert wan[f"tcp/{HOST4}/8443"].ok, why
    assert wan[f"tcp/{guest4}/22"].blocked, why
    # hairpin: the target sees the host's gateway address, so its reply goes back through NAT
    for spec in (f"tcp/{HOST4}/8022", f"tcp/{GW4}/8022"):
        outcome = got[("guest2", spec)]
        assert outcome.ok and outcome.peer == GW4, why
    v6 = got[("guest2", f"tcp/{HOST6}/8022")]
    assert v6.ok and v6.peer == "2001:db8:ca2:2::1", why
    assert got[("host", f"tcp/{HOST4}/8022")].ok, why
    assert got[("host", "tcp/127.0.0.1/8022")].result == "refused", why
    assert got[("guest", f"tcp/{HOST4}/8443")].blocked, why
    assert got[("guest", f"udp/{GW4}/9001")].blocked, why
    assert guest6  # the IPv6 forward's target is the guest's address in the shape


# Each intent is needed: without it, the probe that depends on it fails (nft backend). Without
# br_netfilter (the distro default): with it, the target's bridged reply to a hairpinned client
# passes conntrack in the bridge and is un-DNATed even without the hairpin masquerade.
MUTANTS = {
    "no-forward-accept": (
        lambda i: isinstance(i, ForwardAllowDnat),
        ("wan", f"tcp/{HOST4}/8022"),
    ),
    "no-hairpin-masquerade": (lambda i: isinstance(i, NatHairpin), ("guest2", f"tcp/{HOST4}/8022")),
    "no-output-dnat": (
        lambda i: isinstance(i, Dnat) and i.hook is NatHook.OUTPUT,
        ("host", f"tcp/{HOST4}/8022"),
    ),
}


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_each_forward_intent_is_needed(make_topology, mutant: str) -> None:
    drop, (role, spec) = MUTANTS[mutant]
    topo = make_topology(Shape(bridge_nf_call=False), tag="pmut")
    load(topo, SOURCE, "nft", drop=drop)
    with servers(topo, {"guest": ["tcp/22"]}) as srv:
        got = srv.probe({role: [spec]}, timeout=0.5)
    assert not got[(role, spec)].ok, explain(got)
