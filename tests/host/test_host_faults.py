"""Faults: each gives a clear error (exit 2) and leaves the namespace exactly as before."""

from __future__ import annotations

import shutil

import pytest

import netc.host.backends as backends
from host_support import DEFAULT_NET, snapshot, write
from kernel_support import nsrun

pytestmark = pytest.mark.kernel

# Valid nft syntax the kernel refuses: masquerade belongs in a nat chain, not a filter chain.
KERNEL_REJECTS_NFT = "add rule inet netc forward masquerade\n"
# iptables refuses MASQUERADE outside the nat table.
REJECTED_IPTABLES = "*filter\n-A NETC_FWO -j MASQUERADE\nCOMMIT\n"


def _bad_nft(monkeypatch):
    good = backends.nft_text
    monkeypatch.setattr(backends, "nft_text", lambda compiled: good(compiled) + KERNEL_REJECTS_NFT)


def _bad_ip6tables(monkeypatch):
    good = backends.iptables_text

    def text(compiled, target, jumps):
        extra = REJECTED_IPTABLES if target == "ip6tables" else ""
        return good(compiled, target, jumps) + extra

    monkeypatch.setattr(backends, "iptables_text", text)


def test_kernel_rejects_nft_ruleset_from_clean(netc, monkeypatch):
    before = snapshot(netc.ns)
    _bad_nft(monkeypatch)
    result = netc("apply", DEFAULT_NET, "--backend", "nftables")
    assert result.code == 2
    assert "loading netc's nft table failed" in result.err
    assert "Operation not supported" in result.err
    assert snapshot(netc.ns) == before


def test_kernel_rejects_edited_nft_ruleset_keeps_old_rules(netc, monkeypatch, tmp_path):
    path = write(tmp_path / "n.net", open(DEFAULT_NET).read())
    assert netc("apply", path).code == 0
    applied = snapshot(netc.ns)
    write(tmp_path / "n.net", open(DEFAULT_NET).read().replace("192.168.122", "192.168.123"))
    good_nft = backends.nft_text
    _bad_nft(monkeypatch)
    result = netc("apply", path)
    assert result.code == 2
    assert snapshot(netc.ns) == applied
    monkeypatch.setattr(backends, "nft_text", good_nft)
    assert netc("status").code == 1  # the file was edited, the old rules are still live


@pytest.mark.parametrize("first", ["clean", "applied"])
def test_ip6tables_failure_rolls_back_ipv4(netc, monkeypatch, tmp_path, first):
    path = write(tmp_path / "n.net", open(DEFAULT_NET).read())
    if first == "applied":
        assert netc("apply", path, "--backend", "iptables").code == 0
        write(tmp_path / "n.net", open(DEFAULT_NET).read().replace("192.168.122", "192.168.123"))
    before = snapshot(netc.ns)
    _bad_ip6tables(monkeypatch)
    result = netc("apply", path, "--backend", "iptables")
    assert result.code == 2, result.err
    assert "loading netc's ip6tables rules failed" in result.err
    assert snapshot(netc.ns) == before


def test_missing_nft_binary(netc, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ip", "sysctl", "iptables", "iptables-save", "iptables-restore", "dnsmasq"):
        for name in {tool, tool.replace("iptables", "ip6tables")}:
            found = shutil.which(name)
            if found:
                (bin_dir / name).symlink_to(found)
    before = snapshot(netc.ns)
    with monkeypatch.context() as only_path:  # undoes PATH alone, not the isolated state dir
        only_path.setenv("PATH", str(bin_dir))
        result = netc("apply", DEFAULT_NET, "--backend", "nftables")
    assert result.code == 2
    assert "needs 'nft', which is not in PATH" in result.err
    assert "install the 'nftables' package" in result.err
    assert snapshot(netc.ns) == before
    monkeypatch.setenv("PATH", str(bin_dir))
    auto = netc("apply", DEFAULT_NET)
    assert auto.code == 0, auto.err
    assert "backend: iptables (auto-detected: no nft in PATH, iptables-restore found)" in auto.out


def test_bridge_name_taken_by_a_veth(netc):
    nsrun(netc.ns, "ip", "link", "add", "virbr0", "type", "veth", "peer", "name", "vb-peer")
    before = snapshot(netc.ns)
    result = netc("apply", DEFAULT_NET)
    assert result.code == 2
    assert "'virbr0' exists and is a veth link, not a bridge" in result.err
    assert "default.net:" in result.err  # points at the network in the file
    assert snapshot(netc.ns) == before


def test_missing_namespace_is_an_error(isolated_config, capsys):
    from netc.cli import main

    assert main(["apply", DEFAULT_NET, "--netns", "netc-no-such-namespace"]) == 2
    assert "network namespace 'netc-no-such-namespace' does not exist" in capsys.readouterr().err
    state_dir = isolated_config.parent / "state"
    assert not state_dir.exists() or list(state_dir.iterdir()) == []  # no stray lock file


def test_failure_while_bringing_links_up_undoes_rules_and_bridges(netc, monkeypatch, tmp_path):
    import netc.host.links as links

    two = open(DEFAULT_NET).read() + (
        "network second {\n    bridge virbr5\n    forward nat\n    ip 192.168.55.1/24\n}\n"
    )
    path = write(tmp_path / "two.net", two)
    real = links.bring_up

    def flaky(netns, net, *args):
        if net.name == "second":
            raise OSError("simulated netlink failure")
        return real(netns, net, *args)

    monkeypatch.setattr(links, "bring_up", flaky)
    before = snapshot(netc.ns)
    for backend in ("nftables", "iptables"):
        result = netc("apply", path, "--backend", backend)
        assert result.code == 2, result.err
        assert "setting up bridge virbr5 failed: simulated netlink failure" in result.err
        assert snapshot(netc.ns) == before
