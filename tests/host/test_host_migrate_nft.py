"""`netc migrate` takes over from libvirt's nftables backend and leaves nothing of it behind.

libvirt's tables are built by running the exact `nft` commands of libvirt's own test corpus
(tests/libvirt/corpus: `base.nftables` once, as libvirt does once per daemon run, then one
network's `*-linux.nftables`), on bridges that exist in the scratch namespace (libvirt's
`iif`/`oif` need them). Two generations of libvirt are loaded: the 2024 one with the
`postroute_mangle` checksum chain, and the newest, whose tables carry a comment and which does
the checksum fix with tc instead.
"""

from __future__ import annotations

import json
import os

import pytest

import netc.host.libvirt_nft as libvirt_nft
import leftover_packets
from host_support import CORPUS, DEFAULT_NET, corpus_commands, snapshot, write
from kernel_support import nsrun

pytestmark = pytest.mark.kernel

COMMENT = "Managed by libvirt for virtual networks: https://libvirt.org/firewall.html#the-virtual-network-driver"


@pytest.fixture
def corpus():
    if not os.path.isdir(CORPUS):
        pytest.skip(f"libvirt corpus not found at {CORPUS} (set NETC_LIBVIRT_CORPUS)")


def libvirt_base(ns: str, newest: bool = False, host_chains: bool = False) -> None:
    """libvirt's global tables and chains (what it creates once per daemon run)."""
    if host_chains:  # an early generation (nat-no-dhcp's file) also filtered guest<->host
        for family in ("ip", "ip6"):
            for chain, hook in (("guest_to_host", "input"), ("host_to_guest", "output")):
                base = f"{{ type filter hook {hook} priority 0; policy accept; }}"
                nsrun(ns, "nft", "add", "table", family, "libvirt_network")
                nsrun(ns, "nft", "add", "chain", family, "libvirt_network", chain, base)
    for argv in corpus_commands("base.nftables"):
        if argv[:2] == ["nft", "list"]:
            continue
        if newest and "postroute_mangle" in argv:
            continue
        if newest and argv[1:3] == ["add", "table"]:
            argv = [*argv, "{", "comment", f'"{COMMENT}"', ";", "}"]
        nsrun(ns, *argv)


def libvirt_network(
    ns: str,
    case: str = "nat-default-linux.nftables",
    bridge: str = "virbr0",
    prefix: str = "192.168.122",
    newest: bool = False,
) -> None:
    """One libvirt network's rules, as libvirt inserts them (its bridge must exist)."""
    if not nsrun(ns, "ip", "link", "show", "dev", bridge, check=False):
        nsrun(ns, "ip", "link", "add", bridge, "type", "bridge")
    for argv in corpus_commands(case):
        if newest and "postroute_mangle" in argv:
            continue
        nsrun(ns, *[t.replace("virbr0", bridge).replace("192.168.122", prefix) for t in argv])


def tables(ns: str) -> str:
    return nsrun(ns, "nft", "list", "tables")


def rules(ns: str, family: str = "ip") -> list[str]:
    """libvirt's rules in one family as `chain: expr-json`, without handles or counters."""
    out = nsrun(ns, "nft", "-j", "list", "table", family, "libvirt_network", check=False)
    if not out.strip():
        return []
    found = []
    for obj in json.loads(out)["nftables"]:
        if "rule" in obj:
            exprs = [e for e in obj["rule"]["expr"] if "counter" not in e]
            found.append(f"{obj['rule']['chain']}: {json.dumps(exprs)}")
    return found


def listing(ns: str) -> str:
    """Both libvirt tables as nft prints them with handles (empty when gone)."""
    return "".join(
        nsrun(ns, "nft", "-s", "-a", "list", "table", family, "libvirt_network", check=False)
        for family in ("ip", "ip6")
    )


@pytest.mark.parametrize("newest", [False, True], ids=["libvirt-2024", "libvirt-newest"])
def test_one_network_all_rules_and_both_tables_go(netc, corpus, newest):
    ns = netc.ns
    libvirt_base(ns, newest)
    libvirt_network(ns, "nat-ipv6-linux.nftables", newest=newest)  # rules in ip and ip6
    assert len(rules(ns, "ip")) > 3 and len(rules(ns, "ip6")) > 3
    if newest:
        assert COMMENT in nsrun(ns, "nft", "list", "table", "ip", "libvirt_network")

    result = netc("migrate", "--to", "nftables", DEFAULT_NET)
    assert result.code == 0, result.err
    out = result.out
    assert (
        "removed libvirt's nft rule ip libvirt_network guest_nat: ip saddr 192.168.122.0/24 "
        "ip daddr != 192.168.122.0/24 counter masquerade\n" in out
    )
    assert 'removed libvirt\'s nft rule ip libvirt_network guest_output: iif "virbr0" counter ' in (
        out
    )
    # IPv6: default.net has no IPv6 subnet, but libvirt's IPv6 rules name virbr0 (or the subnet
    # libvirt's rules for virbr0 name), so they go too.
    assert (
        'removed libvirt\'s nft rule ip6 libvirt_network guest_output: ip6 saddr 2001:db8:ca2:2::/64 iif "virbr0"'
        in out
    )
    for family in ("ip", "ip6"):
        assert f"removed libvirt's nft table {family} libvirt_network" in out
    assert "restart virtnetworkd" in out
    assert "libvirt_network" not in tables(ns)
    assert '"virbr0"' in nsrun(ns, "nft", "list", "table", "inet", "netc")

    status = netc("status")
    assert status.code == 0, status.out
    assert netc("doctor").out == ""
    again = netc("migrate", "--to", "nftables")
    assert again.code == 0 and "libvirt: no libvirt_network nft tables" in again.out


CASES = sorted(
    name.removesuffix("-linux.nftables")
    for name in (os.listdir(CORPUS) if os.path.isdir(CORPUS) else ())
    if name.endswith("-linux.nftables")
)


@pytest.mark.parametrize("case", CASES)
def test_every_corpus_network_is_taken_over_from_its_own_xml(netc, corpus, case):
    """The real take-over: `netc migrate --to nftables X.xml` with libvirt's X running."""
    ns = netc.ns
    libvirt_base(ns, host_chains=case == "nat-no-dhcp")
    libvirt_network(ns, f"{case}-linux.nftables")
    xml = os.path.join(CORPUS, f"{case}.xml")
    if not os.path.exists(xml):
        xml = os.path.join(CORPUS, "inferred", f"{case}.xml")
    result = netc("migrate", "--to", "nftables", xml)
    assert result.code == 0, result.err
    assert "libvirt_network" not in tables(ns), result.out
    assert netc("status").code == 0


def test_two_networks_the_other_one_keeps_its_rules_and_the_tables(netc, corpus):
    ns = netc.ns
    libvirt_base(ns)
    libvirt_network(ns)
    libvirt_network(ns, bridge="virbr1", prefix="192.168.100")
    other_before = [r for r in rules(ns) if "virbr1" in r or "192.168.100" in r]
    jumps_before = [r for r in rules(ns) if r.startswith("forward: ")]
    ip6_before = rules(ns, "ip6")

    result = netc("migrate", "--to", "nftables", DEFAULT_NET)
    assert result.code == 0, result.err
    after = rules(ns)
    assert not [r for r in after if "virbr0" in r or "192.168.122." in r]
    assert [r for r in after if "virbr1" in r or "192.168.100" in r] == other_before
    assert [r for r in after if r.startswith("forward: ")] == jumps_before
    assert len(after) == len(other_before) + len(jumps_before)
    assert rules(ns, "ip6") == ip6_before  # libvirt still runs virbr1: it expects both tables
    assert "table ip6 libvirt_network" in tables(ns)
    assert "removed libvirt's nft table" not in result.out
    assert (
        "libvirt: kept table(s) ip libvirt_network and ip6 libvirt_network: "
        f"{len(other_before)} rule(s) of other libvirt networks (bridges virbr1) still in them"
        in result.out
    )
    assert netc("status").code == 0
    assert netc("doctor").out == ""


def test_libvirts_subnet_goes_even_when_netc_gives_the_bridge_another(netc, corpus, tmp_path):
    ns = netc.ns
    libvirt_base(ns)
    libvirt_network(ns)  # libvirt: virbr0 with 192.168.122.0/24
    path = write(tmp_path / "n.net", open(DEFAULT_NET).read().replace("192.168.122", "10.9.8"))
    result = netc("migrate", "--to", "iptables", path)
    assert result.code == 0, result.err
    assert "libvirt_network" not in tables(ns)  # masquerades for 192.168.122.0/24 went too
    assert "removed libvirt's nft rule ip libvirt_network guest_nat: ip saddr 192.168.122.0/24" in (
        result.out
    )


def test_status_and_doctor_name_libvirts_rules_until_migrate(netc, corpus):
    ns = netc.ns
    libvirt_base(ns)
    libvirt_network(ns)
    libvirt_network(ns, bridge="virbr1", prefix="192.168.100")
    applied = netc("apply", DEFAULT_NET)  # apply does not take over; migrate does
    assert applied.code == 0
    assert "note: libvirt's nft table(s) ip libvirt_network still hold" in applied.out
    assert "`netc migrate --to nftables` removes them" in applied.out
    status = netc("status")
    assert status.code == 1
    mine = len([r for r in rules(ns) if "virbr0" in r or "192.168.122." in r])
    assert mine == 11  # 3 general, allow-out, related-in, 3 masquerades, 2 returns, checksum
    held = f"ip libvirt_network still hold {mine} rule(s) for virbr0 (e.g. `"
    assert f"drift: libvirt's nft table(s) {held}" in status.out
    assert "`netc migrate --to nftables` removes them" in status.out
    assert "virbr1" not in status.out
    doctor = netc("doctor")
    assert doctor.code == 1
    assert "warning: libvirt's nft table(s) ip libvirt_network still hold" in doctor.out
    assert "fix: `netc migrate --to nftables` removes them" in doctor.out

    assert netc("migrate", "--to", "nftables").code == 0
    assert netc("status").code == 0
    assert netc("doctor").out == ""


def test_doctor_before_taking_over_names_the_files(netc, corpus):
    libvirt_base(netc.ns)
    libvirt_network(netc.ns)
    doctor = netc("doctor", DEFAULT_NET)
    assert f"fix: `netc migrate --to nftables {DEFAULT_NET}` removes them" in doctor.out


@pytest.mark.parametrize("other", [False, True], ids=["alone", "beside-virbr1"])
def test_back_to_libvirt(netc, corpus, other):
    """netc down, then libvirt (restarted) sets its network up again, as before the migrate."""
    ns = netc.ns
    libvirt_base(ns)
    libvirt_network(ns)
    if other:
        libvirt_network(ns, bridge="virbr1", prefix="192.168.100")
    libvirt_rules = rules(ns)
    assert netc("migrate", "--to", "nftables", DEFAULT_NET).code == 0
    to_ipt = netc("migrate", "--to", "iptables")
    assert to_ipt.code == 0, to_ipt.err
    assert "removed from nftables: nft table inet netc" in to_ipt.out
    assert "removed libvirt's nft" not in to_ipt.out
    assert netc("down").code == 0
    if not other:
        libvirt_base(ns)  # a restarted virtnetworkd creates its tables again
    libvirt_network(ns)
    assert sorted(rules(ns)) == sorted(libvirt_rules)


# -- faults: the kernel refuses the removal ---------------------------------------------------

BAD = "delete rule ip libvirt_network guest_output handle 999999\n"


def test_refused_removal_changes_nothing(netc, corpus, monkeypatch):
    ns = netc.ns
    libvirt_base(ns)
    libvirt_network(ns)
    before = snapshot(ns)
    good = libvirt_nft.script
    monkeypatch.setattr(libvirt_nft, "script", lambda plan: good(plan) + BAD)
    result = netc("migrate", "--to", "nftables", DEFAULT_NET)
    assert result.code == 2
    assert "checking the removal of libvirt's nft rules (table libvirt_network) failed" in (
        result.err
    )
    assert "No such file or directory" in result.err
    assert "nothing was changed" in result.err
    assert snapshot(ns) == before


def test_removal_failing_after_the_check_is_reported_and_retried(netc, corpus, monkeypatch):
    ns = netc.ns
    libvirt_base(ns)
    libvirt_network(ns)
    before = listing(ns)
    good = libvirt_nft.script
    calls = []

    def second_call_fails(plan):
        calls.append(plan)
        return good(plan) + (BAD if len(calls) > 1 else "")

    monkeypatch.setattr(libvirt_nft, "script", second_call_fails)
    result = netc("migrate", "--to", "nftables", DEFAULT_NET)
    assert result.code == 2
    assert "removing libvirt's nft rules (table libvirt_network) failed" in result.err
    assert "netc's rules are on nftables and its state is saved" in result.err
    assert "libvirt's tables are as they were" in result.err
    assert listing(ns) == before  # one transaction: none of it happened
    assert "table inet netc" in tables(ns)
    status = netc("status")
    assert status.code == 1 and "drift: libvirt's nft table(s)" in status.out

    monkeypatch.setattr(libvirt_nft, "script", good)
    retry = netc("migrate", "--to", "nftables")
    assert retry.code == 0, retry.err
    assert "libvirt_network" not in tables(ns)


# -- packets: what libvirt's leftovers would do to netc's guests ------------------------------


@pytest.fixture
def topo():
    with leftover_packets.topology("lvnft") as built:
        yield built


def test_packets_follow_netc_not_libvirt_after_migrate(topo, isolated_config, capsys, tmp_path):
    """libvirt NAT'd virbr0, netc routes it: libvirt's leftovers must not act after migrate."""
    leftover_packets.assert_packets_follow_netc(
        topo,
        lambda ns: (libvirt_base(ns), libvirt_network(ns)),
        lambda ns: "libvirt_network" not in tables(ns),
        capsys,
        tmp_path,
    )
