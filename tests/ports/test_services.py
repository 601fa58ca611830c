"""Guest → host services (`services { }`) in a real kernel.

What must pass besides the listed services: replies to connections the host opened (established),
DHCP/DNS the network serves, and ICMPv6: without neighbour discovery the host could not even
answer an allowed IPv6 connection (parity.md §3 pitfall 4).
"""

from __future__ import annotations

import pytest

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
    services { ssh tcp 8080 }
}
"""


def _tcp6(spec: str) -> bool:
    """An IPv6 TCP reject may show as a timeout here, not as "refused": in veth namespaces the
    ICMPv6 error comes back synchronously inside connect(), while the socket is still owned by
    the caller, and TCP keeps it as a soft error until the SYN retransmit (nstat
    TcpExtLockDroppedIcmps). UDP probes prove the IPv6 reject instead."""
    return spec.startswith("tcp/") and ":" in spec.split("/")[1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_host_services(make_topology, backend: str) -> None:
    topo = make_topology(Shape(), tag="svc")
    load(topo, SOURCE, backend)
    gw4, gw6 = topo.addr("host"), topo.addr("host", 6)
    listen = {"host": ["tcp/22", "tcp/8080", "tcp/9090", "udp/53", "udp/67", "udp/5353"]}
    listen["guest"] = ["tcp/22"]
    allowed = [f"tcp/{gw4}/22", f"tcp/{gw4}/8080", f"udp/{gw4}/53", f"tcp/{gw6}/22"]
    allowed += [f"tcp/{gw6}/8080", f"udp/{gw6}/53", "udp/255.255.255.255/67/68"]
    denied = [f"tcp/{gw4}/9090", "tcp/203.0.113.1/9090", f"udp/{gw6}/5353"]
    slow = [f"tcp/{gw6}/9090"]  # may time out (see _tcp6): probed from guest2, in parallel
    host_to_guest = [f"tcp/{topo.addr('guest')}/22", f"tcp/{topo.addr('guest', 6)}/22"]
    with servers(topo, listen) as srv:
        got = srv.probe({"guest": allowed + denied, "guest2": slow, "host": host_to_guest})
    why = explain(got)
    for spec in allowed:
        assert got[("guest", spec)].ok, why
    for spec in denied:
        assert got[("guest", spec)].blocked and got[("guest", spec)].result != "timeout", why
    for spec in slow:
        assert got[("guest2", spec)].blocked and _tcp6(spec), why
    # the host's own connections to guests: the replies pass the input reject (established)
    for spec in host_to_guest:
        assert got[("host", spec)].ok, why
