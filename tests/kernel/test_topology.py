"""The harness itself: every role reaches the others with no firewall, and teardown is total."""

from __future__ import annotations

import subprocess

import pytest

from .probing import servers
from .topology import Shape, Topology, topology

pytestmark = pytest.mark.kernel


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_open_topology_connects_everything(topo: Topology) -> None:
    with servers(topo, {"wan": ["tcp/8080"], "guest": ["tcp/22"], "guest2": ["tcp/8080"]}) as srv:
        got = srv.probe(
            {
                "guest": [
                    f"tcp/{topo.addr('wan')}/8080/700",
                    f"tcp/{topo.addr('wan', 6)}/8080",
                    f"tcp/{topo.addr('guest2')}/8080",
                ],
                "host": [f"tcp/{topo.addr('guest')}/22", f"tcp/{topo.addr('guest', 6)}/22"],
                "wan": [f"tcp/{topo.addr('guest')}/22"],
            }
        )
    for outcome in got.values():
        assert outcome.ok, str(outcome)
    # no rules: the guest's own address and port reach the internet unchanged
    leak = got[("guest", f"tcp/{topo.addr('wan')}/8080/700")]
    assert (leak.peer, leak.sport) == (topo.addr("guest"), 700)
    assert got[("wan", f"tcp/{topo.addr('guest')}/22")].peer == "203.0.113.2"


def test_closed_port_is_refused_not_blocked_silently(topo: Topology) -> None:
    with servers(topo, {"wan": ["udp/9"]}) as srv:
        got = srv.probe({"guest": [f"tcp/{topo.addr('wan')}/9", f"udp/{topo.addr('wan')}/10"]})
    assert [o.result for o in got.values()] == ["refused", "refused"]
    assert all(o.blocked for o in got.values())


def test_topology_is_removed_even_on_failure() -> None:
    from kernel_support import require_kernel

    require_kernel()
    names: dict[str, str] = {}
    with pytest.raises(RuntimeError):
        with topology(Shape(bridge="virbr9", gateway6=None), tag="gone") as built:
            names = built.names
            assert set(names.values()) <= _namespaces()
            raise RuntimeError("boom")
    assert names and not set(names.values()) & _namespaces()
