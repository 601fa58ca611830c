"""apply → the default network behaves as libvirt's does; down and migrate keep that true.

Uses the shared guest/guest2/host/wan topology (tests/kernel/topology.py); netc acts on the
`host` namespace, where the topology already made virbr0 with its address (as libvirt would
have), so netc finds the bridge there and leaves it there.
"""

from __future__ import annotations

import os
import re

import pytest

from host_support import CORPUS, DEFAULT_NET, corpus_commands, snapshot

pytestmark = pytest.mark.kernel

topology_mod = pytest.importorskip("kernel.topology", reason="needs tests/kernel/topology.py")
probing = pytest.importorskip("kernel.probing", reason="needs tests/kernel/probing.py")


@pytest.fixture
def cli(isolated_config, capsys):
    from netc.cli import main

    def run(ns: str, *args: str):
        code = main([*args, "--netns", ns])
        out = capsys.readouterr()
        assert code == 0, out.err
        return out.out

    return run


@pytest.fixture
def topo():
    from kernel_support import require_kernel

    require_kernel()
    with topology_mod.topology(topology_mod.Shape(), tag="host") as built:
        yield built


def check_default_network(topo) -> None:
    """Fedora's test plan: masquerade with ports remapped, no inbound, host reaches guests."""
    wan, guest, guest2 = topo.addr("wan"), topo.addr("guest"), topo.addr("guest2")
    with probing.servers(
        topo, {"wan": ["tcp/8080"], "guest": ["tcp/22"], "guest2": ["tcp/80"]}
    ) as srv:
        got = srv.probe(
            {
                "guest": [f"tcp/{wan}/8080/700", f"tcp/{guest2}/80"],
                "wan": [f"tcp/{guest}/22"],
                "host": [f"tcp/{guest}/22"],
            }
        )
    out = got[("guest", f"tcp/{wan}/8080/700")]
    assert out.ok, str(out)
    assert out.peer == "203.0.113.1" and out.sport >= 1024, str(out)
    assert got[("guest", f"tcp/{guest2}/80")].ok
    assert got[("wan", f"tcp/{guest}/22")].blocked
    assert got[("host", f"tcp/{guest}/22")].ok


def rules_and_links(ns: str) -> str:
    """The snapshot without operational states (carrier comes and goes with probe traffic)."""
    return re.sub(r" state [A-Z]+ ", " state * ", snapshot(ns))


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_apply_gives_libvirt_behaviour_and_down_restores(topo, cli, backend):
    host = topo.ns("host")
    before = rules_and_links(host)
    out = cli(host, "apply", DEFAULT_NET, "--backend", backend)
    assert "bridge virbr0 (already there), no new address, up" in out
    check_default_network(topo)
    cli(host, "down")
    assert rules_and_links(host) == before


def test_migrate_from_libvirt_keeps_behaviour(topo, cli):
    if not os.path.isdir(CORPUS):
        pytest.skip(f"libvirt corpus not found at {CORPUS}")
    host = topo.ns("host")
    for name in ("base.iptables", "inferred/nat-default-linux.iptables"):
        for argv in corpus_commands(name):
            topo.run("host", *argv)
    check_default_network(topo)  # libvirt's own rules
    cli(host, "migrate", "--to", "nftables", DEFAULT_NET)
    assert "LIBVIRT_" not in topo.run("host", "iptables-save")
    check_default_network(topo)
    cli(host, "migrate", "--to", "iptables")
    assert "table inet netc" not in topo.run("host", "nft", "list", "ruleset")
    check_default_network(topo)
