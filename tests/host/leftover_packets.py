"""What libvirt's leftover rules would do to netc's guests: one packet check for both libvirt
backends (`test_host_migrate_nft.py`, `test_host_migrate_iptables.py`).

libvirt NAT'd virbr0; netc takes it over as a routed network. While libvirt's rules are left,
its reject still blocks inbound and its masquerade still rewrites the guests' source; after
`netc migrate` the packets follow netc's rules alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from host_support import write

topology_mod = pytest.importorskip("kernel.topology", reason="needs tests/kernel/topology.py")
probing = pytest.importorskip("kernel.probing", reason="needs tests/kernel/probing.py")

ROUTED = """network routed {
    bridge virbr0
    forward route
    ip 192.168.122.1/24
}
"""


@contextmanager
def topology(tag: str) -> Iterator:
    from kernel_support import require_kernel

    require_kernel()
    with topology_mod.topology(topology_mod.Shape(), tag=tag) as built:
        yield built


def assert_packets_follow_netc(
    topo, load_libvirt: Callable[[str], None], gone: Callable[[str], bool], capsys, tmp_path
) -> None:
    """`load_libvirt(ns)` loads libvirt's default network; `gone(ns)` says its rules are gone."""
    from netc.cli import main

    host = topo.ns("host")
    load_libvirt(host)
    wan, guest = topo.addr("wan"), topo.addr("guest")
    specs = {"guest": [f"tcp/{wan}/8080"], "wan": [f"tcp/{guest}/22"]}
    with probing.servers(topo, {"wan": ["tcp/8080"], "guest": ["tcp/22"]}) as srv:
        under_libvirt = srv.probe(specs)
    assert under_libvirt[("guest", f"tcp/{wan}/8080")].peer == "203.0.113.1"  # masqueraded
    assert under_libvirt[("wan", f"tcp/{guest}/22")].blocked  # libvirt rejects inbound

    path = write(tmp_path / "routed.net", ROUTED)
    assert main(["migrate", "--to", "nftables", path, "--netns", host]) == 0, capsys.readouterr()
    assert gone(host)
    with probing.servers(topo, {"wan": ["tcp/8080"], "guest": ["tcp/22"]}) as srv:
        under_netc = srv.probe(specs)
    out = under_netc[("guest", f"tcp/{wan}/8080")]
    assert out.ok and out.peer == guest, str(out)  # routed: the guest's own address
    assert under_netc[("wan", f"tcp/{guest}/22")].ok  # routed, stateless inbound (as libvirt)
