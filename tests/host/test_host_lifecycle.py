"""apply / down / status in a scratch namespace, on both backends."""

from __future__ import annotations

import os
import pytest

from host_support import DEFAULT_NET, DOCKER_LIKE, FOREIGN_NFT, load_iptables, snapshot, write
from kernel_support import nsrun

pytestmark = pytest.mark.kernel
BACKENDS = ["nftables", "iptables"]

DUAL = """network dual {
    bridge virbr7
    forward nat
    ip 192.168.50.1/24 { dhcp 192.168.50.10 - 192.168.50.99 }
    ip 2001:db8:50::1/64
}
"""


def rules(ns: str) -> str:
    return snapshot(ns).split("## links")[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_apply_twice_is_identical_and_down_restores_everything(netc, backend):
    ns = netc.ns
    before = snapshot(ns)
    first = netc("apply", DEFAULT_NET, "--backend", backend)
    assert first.code == 0, first.err
    assert f"backend: {backend} (chosen with --backend)" in first.out
    assert "bridge virbr0 (created)" in first.out
    applied = snapshot(ns)
    assert "virbr0" in applied and "192.168.122.1/24" in applied
    assert "net.ipv4.ip_forward = 1" in applied
    second = netc("apply", DEFAULT_NET, "--backend", backend)
    assert second.code == 0 and "rules: unchanged" in second.out
    assert snapshot(ns) == applied
    down = netc("down")
    assert down.code == 0, down.err
    assert snapshot(ns) == before
    state_dir = os.environ["NETC_STATE_DIR"]
    assert os.listdir(state_dir) == []  # neither the state nor its lock file is left


@pytest.mark.parametrize("backend", BACKENDS)
def test_reloading_the_same_rules_is_byte_identical(netc, backend, tmp_path):
    """Force a real reload (edit, then edit back): the ruleset is the one the first load made."""
    ns = netc.ns
    path = write(tmp_path / "n.net", open(DEFAULT_NET).read())
    assert netc("apply", path, "--backend", backend).code == 0
    first = rules(ns)
    write(tmp_path / "n.net", DUAL)
    edited = netc("apply", path, "--backend", backend)
    assert edited.code == 0, edited.err
    assert "no longer declared, taken down" in edited.out
    assert "192.168.50.0/24" in rules(ns) and "192.168.122.0/24" not in rules(ns)
    assert "virbr0" not in nsrun(ns, "ip", "link")
    write(tmp_path / "n.net", open(DEFAULT_NET).read())
    again = netc("apply", path, "--backend", backend)
    assert "rules: loaded" in again.out
    assert rules(ns) == first
    if backend == "iptables":
        assert nsrun(ns, "iptables-save").count("-j NETC_FWO") == 1


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("foreign", ["docker", "nft-table"])
def test_down_restores_byte_for_byte_with_foreign_rules(netc, backend, foreign):
    ns = netc.ns
    if foreign == "docker":
        load_iptables(ns, v4=DOCKER_LIKE)
    else:
        nsrun(ns, "nft", "-f", "-", input=FOREIGN_NFT)
    nsrun(ns, "ip", "link", "add", "docker0", "type", "bridge")
    before = snapshot(ns)
    result = netc("apply", DEFAULT_NET, "--backend", backend)
    assert result.code == 0, result.err
    if foreign == "docker":
        assert "DOCKER-USER" in nsrun(ns, "iptables-save")
    assert netc("down").code == 0
    assert snapshot(ns) == before


def test_two_files_and_down_of_one(netc, tmp_path):
    ns = netc.ns
    before = snapshot(ns)
    dual = write(tmp_path / "dual.net", DUAL)
    assert netc("apply", DEFAULT_NET).code == 0
    assert netc("apply", dual).code == 0
    both = nsrun(ns, "nft", "list", "table", "inet", "netc")
    assert '"virbr0"' in both and '"virbr7"' in both
    assert nsrun(ns, "sysctl", "-n", "net.ipv6.conf.all.forwarding").strip() == "1"
    result = netc("down", dual)
    assert result.code == 0, result.err
    left = nsrun(ns, "nft", "list", "table", "inet", "netc")
    assert '"virbr0"' in left and '"virbr7"' not in left
    assert "virbr7" not in nsrun(ns, "ip", "link")
    assert nsrun(ns, "sysctl", "-n", "net.ipv6.conf.all.forwarding").strip() == "0"
    assert netc("down").code == 0
    assert snapshot(ns) == before


def test_existing_bridge_is_kept_and_only_netc_addresses_go(netc):
    ns = netc.ns
    nsrun(ns, "ip", "link", "add", "virbr0", "type", "bridge")
    nsrun(ns, "ip", "addr", "add", "198.51.100.1/24", "dev", "virbr0")
    nsrun(ns, "ip", "link", "set", "virbr0", "up")  # a bridge left by libvirt is up
    before = snapshot(ns)
    result = netc("apply", DEFAULT_NET)
    assert "bridge virbr0 (already there)" in result.out
    down = netc("down")
    assert "left in place" in down.out
    assert snapshot(ns) == before


def test_status_reports_drift_after_flush_and_edit(netc, tmp_path):
    ns = netc.ns
    path = write(tmp_path / "n.net", open(DEFAULT_NET).read())
    assert netc("apply", path).code == 0
    clean = netc("status")
    assert clean.code == 0
    assert "live netc rules in: nftables" in clean.out
    assert "network default: bridge virbr0 up" in clean.out
    assert "in sync" in clean.out
    nsrun(ns, "nft", "flush", "ruleset")
    flushed = netc("status")
    assert flushed.code == 1
    assert "drift: netc's rules are missing from nftables" in flushed.out
    assert netc("apply", path).code == 0
    assert netc("status").code == 0
    write(tmp_path / "n.net", DUAL)
    edited = netc("status")
    assert edited.code == 1 and "changed since it was applied" in edited.out


def test_backend_from_config_and_auto(netc, isolated_config):
    isolated_config.write_text('firewall_backend = "iptables"\n')
    result = netc("apply", DEFAULT_NET)
    assert f"backend: iptables (firewall_backend in {isolated_config})" in result.out
    assert "-j NETC_FWO" in nsrun(netc.ns, "iptables-save")
    switched = netc("apply", DEFAULT_NET, "--backend", "auto")
    assert "backend: nftables (auto-detected: nft found in PATH)" in switched.out
    assert "removed from iptables" in switched.out
    assert "NETC_" not in nsrun(netc.ns, "iptables-save")
    assert netc("down").code == 0


def test_down_without_state_removes_live_rules(netc):
    nsrun(netc.ns, "nft", "-f", "-", input="table inet netc {\n chain c {\n }\n}\n")
    result = netc("down")
    assert result.code == 0 and "removed: nft table inet netc" in result.out
    assert nsrun(netc.ns, "nft", "list", "ruleset") == ""
