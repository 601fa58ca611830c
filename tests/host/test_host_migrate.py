"""`netc migrate` both ways on a namespace that carries libvirt's iptables rules.

libvirt's rules are built by running the exact commands of libvirt's own test corpus
(tests/libvirt/corpus, vendored from libvirt: the global LIBVIRT_* chains, then the default network's rules).
"""

from __future__ import annotations

import os

import pytest

from host_support import CORPUS, DEFAULT_NET, corpus_commands
from kernel_support import nsrun

pytestmark = pytest.mark.kernel


def load_libvirt(ns: str, bridge: str = "virbr0", prefix: str = "192.168.122") -> None:
    for argv in corpus_commands("inferred/nat-default-linux.iptables"):
        argv = [t.replace("virbr0", bridge).replace("192.168.122", prefix) for t in argv]
        nsrun(ns, *argv)


def libvirt_base(ns: str) -> None:
    for argv in corpus_commands("base.iptables"):
        nsrun(ns, *argv)
    nsrun(ns, "ip", "link", "add", "virbr0", "type", "bridge")
    nsrun(ns, "ip", "addr", "add", "192.168.122.1/24", "dev", "virbr0")
    nsrun(ns, "ip", "link", "set", "virbr0", "up")


def saved(ns: str) -> str:
    return nsrun(ns, "iptables-save") + nsrun(ns, "ip6tables-save")


@pytest.fixture
def corpus():
    if not os.path.isdir(CORPUS):
        pytest.skip(f"libvirt corpus not found at {CORPUS} (set NETC_LIBVIRT_CORPUS)")


def test_corpus_builds_libvirt_rules(scratch_ns, corpus):
    libvirt_base(scratch_ns)
    load_libvirt(scratch_ns)
    text = nsrun(scratch_ns, "iptables-save")
    assert "-A LIBVIRT_FWO -s 192.168.122.0/24 -i virbr0 -j ACCEPT" in text
    assert "-A POSTROUTING -j LIBVIRT_PRT" in text


def test_migrate_from_libvirt_to_nftables_and_back(netc, corpus):
    ns = netc.ns
    libvirt_base(ns)
    load_libvirt(ns)
    to_nft = netc("migrate", "--to", "nftables", DEFAULT_NET)
    assert to_nft.code == 0, to_nft.err
    assert "backend: nftables (chosen with --to)" in to_nft.out
    assert "bridge virbr0 (already there)" in to_nft.out
    for chain in ("LIBVIRT_INP", "LIBVIRT_OUT", "LIBVIRT_FWO", "LIBVIRT_FWI", "LIBVIRT_FWX"):
        assert f"removed libvirt's iptables filter chain: {chain}" in to_nft.out
        assert f"removed libvirt's ip6tables filter chain: {chain}" in to_nft.out
    assert "removed libvirt's iptables nat chain: LIBVIRT_PRT" in to_nft.out
    assert "removed libvirt's iptables mangle chain: LIBVIRT_PRT" in to_nft.out
    assert "removed libvirt's iptables filter rule: -A LIBVIRT_FWO -s 192.168.122.0/24" in (
        to_nft.out
    )
    assert "libvirt: its LIBVIRT_* chains are gone; restart virtnetworkd" in to_nft.out
    left = saved(ns)
    assert "LIBVIRT_" not in left and "NETC_" not in left
    assert '"virbr0"' in nsrun(ns, "nft", "list", "table", "inet", "netc")

    to_ipt = netc("migrate", "--to", "iptables")
    assert to_ipt.code == 0, to_ipt.err
    assert "removed from nftables: nft table inet netc" in to_ipt.out
    assert "libvirt: no LIBVIRT_* iptables chains" in to_ipt.out
    assert nsrun(ns, "nft", "list", "table", "inet", "netc", check=False) == ""
    live = saved(ns)
    assert "LIBVIRT_" not in live
    assert live.count("-A FORWARD -j NETC_FWO") == 2  # one for IPv4, one for IPv6
    status = netc("status")
    assert status.code == 0 and "live netc rules in: iptables" in status.out

    back = netc("migrate", "--to", "nftables")
    assert back.code == 0, back.err
    assert "NETC_" not in saved(ns)
    assert netc("status").code == 0


def test_migrate_keeps_libvirt_chains_other_networks_use(netc, corpus):
    """While virbr1 runs, every LIBVIRT_* chain and jump stays, in both families.

    This test used to expect the (empty) IPv6 chains to go. That broke libvirt: it creates the
    chains of both families together, once per daemon run (`networkSetupPrivateChains`, guarded
    by `chainInitDone`), and inserts into them from then on, so the next network it starts with
    IPv6 fails on `ip6tables --insert LIBVIRT_FWO`. More cases, iptables-nft and -legacy, in
    test_host_migrate_iptables.py.
    """
    ns = netc.ns
    libvirt_base(ns)
    load_libvirt(ns)
    load_libvirt(ns, bridge="virbr1", prefix="192.168.100")
    result = netc("migrate", "--to", "nftables", DEFAULT_NET)
    assert result.code == 0, result.err
    text = nsrun(ns, "iptables-save")
    assert "virbr0" not in text and "192.168.122." not in text
    assert "-A LIBVIRT_FWO -s 192.168.100.0/24 -i virbr1 -j ACCEPT" in text
    assert "-A FORWARD -j LIBVIRT_FWO" in text
    assert "removed libvirt's iptables filter chain: LIBVIRT_FWO" not in result.out
    assert "removed libvirt's ip6tables filter chain" not in result.out
    v6 = nsrun(ns, "ip6tables-save")
    assert ":LIBVIRT_FWO - [0:0]" in v6 and "-A FORWARD -j LIBVIRT_FWO" in v6
    assert "libvirt: kept its LIBVIRT_* chains in iptables and ip6tables" in result.out
