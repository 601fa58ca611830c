"""Guest filters (`allow` / `deny`) in a real kernel, before the forward mode's defaults.

The wan namespace serves on 198.51.100.1 and 2001:db8:5100::1 ("the internet") and on its uplink
addresses 203.0.113.2 / 2001:db8:ffff::2; guests reach it through the host (IPv4 masqueraded,
IPv6 routed).
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
    allow tcp 8443 to 198.51.100.1
    deny to 198.51.100.0/24
    deny tcp 8080 to 2001:db8:5100::/48
    deny udp to 203.0.113.0/24
    deny udp 5000 to 2001:db8:5100::/48
}
"""


# An IPv6 TCP reject may look like a timeout in namespaces (see test_services._tcp6): probed from
# guest2, in parallel with the others.
SLOW = "tcp/2001:db8:5100::1/8080"


@pytest.mark.parametrize("backend", BACKENDS)
def test_guest_filters(make_topology, backend: str) -> None:
    topo = make_topology(Shape(), tag="filt")
    load(topo, SOURCE, backend)
    listen = {"wan": ["tcp/8080", "tcp/8443", "udp/5000"]}
    allowed = [
        "tcp/198.51.100.1/8443",  # allowed before the deny that covers it
        "tcp/203.0.113.2/8080",  # not denied: the mode's default (masquerade) applies
        "tcp/2001:db8:5100::1/8443",  # IPv6: only tcp 8080 is denied
        "tcp/2001:db8:ffff::2/8080",  # outside the denied IPv6 prefix
    ]
    denied = [
        "tcp/198.51.100.1/8080",  # inside the denied prefix
        "udp/198.51.100.1/5000",
        "udp/203.0.113.2/5000",  # a protocol-only deny
        "udp/2001:db8:5100::1/5000",
    ]
    with servers(topo, listen) as srv:
        got = srv.probe({"guest": allowed + denied, "guest2": [SLOW]})
    why = explain(got)
    for spec in allowed:
        assert got[("guest", spec)].ok, why
    for spec in denied:
        outcome = got[("guest", spec)]
        # rejected, not dropped: the guest learns at once (ICMP port unreachable)
        assert outcome.blocked and outcome.result in ("refused", "unreachable"), why
    assert got[("guest2", SLOW)].blocked, why
    masqueraded = got[("guest", "tcp/203.0.113.2/8080")]
    assert masqueraded.peer == "203.0.113.1", why
