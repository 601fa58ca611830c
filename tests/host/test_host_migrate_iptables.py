"""`netc migrate/status/doctor/apply` and libvirt's iptables backend, on iptables-nft and -legacy.

libvirt's rules are built by running the exact commands of libvirt's own test corpus
(tests/libvirt/corpus: `base.iptables` once, as libvirt does once per daemon run, then one
network's `*-linux.iptables`), with `iptables-nft` or `iptables-legacy`. netc runs with a PATH
whose `iptables`, `iptables-save`, `iptables-restore` (and ip6tables) are that same flavour, as
on a host whose alternatives point there (libvirt and netc then use the same one).
"""

from __future__ import annotations

import os
import re

import pytest

import netc.host.libvirt_chains as libvirt_chains
import leftover_packets
from host_support import (
    CORPUS,
    DEFAULT_NET,
    IPTABLES_TOOLS,
    corpus_commands,
    iptables_first_in_path,
    snapshot,
    write,
)
from kernel_support import nsrun

pytestmark = pytest.mark.kernel

CHAINS = ("LIBVIRT_FWI", "LIBVIRT_FWO", "LIBVIRT_FWX", "LIBVIRT_INP", "LIBVIRT_OUT", "LIBVIRT_PRT")
JUMPS = [
    "filter -A INPUT -j LIBVIRT_INP",
    "filter -A FORWARD -j LIBVIRT_FWX",
    "filter -A FORWARD -j LIBVIRT_FWI",
    "filter -A FORWARD -j LIBVIRT_FWO",
    "filter -A OUTPUT -j LIBVIRT_OUT",
    "nat -A POSTROUTING -j LIBVIRT_PRT",
    "mangle -A POSTROUTING -j LIBVIRT_PRT",
]
NAT_DEFAULT = "inferred/nat-default-linux.iptables"  # 19 rules, IPv4 only
NAT_IPV6 = "inferred/nat-ipv6-linux.iptables"  # IPv4 as nat-default, plus IPv6 routing


@pytest.fixture
def corpus():
    if not os.path.isdir(CORPUS):
        pytest.skip(f"libvirt corpus not found at {CORPUS} (set NETC_LIBVIRT_CORPUS)")


@pytest.fixture(params=["nft", "legacy"], ids=["iptables-nft", "iptables-legacy"])
def flavour(request, tmp_path, monkeypatch, corpus):
    """netc's `iptables*` binaries are this flavour's (PATH), as libvirt's are."""
    iptables_first_in_path(request.param, tmp_path / "flavour-bin", monkeypatch)
    return request.param


def libvirt_base(ns: str, flavour: str) -> None:
    """libvirt's LIBVIRT_* chains and the jumps into them, both families (once per run)."""
    for argv in corpus_commands("base.iptables"):
        nsrun(ns, f"{argv[0]}-{flavour}", *argv[1:])


def libvirt_network(
    ns: str,
    flavour: str,
    case: str = NAT_DEFAULT,
    bridge: str = "virbr0",
    prefix: str = "192.168.122",
) -> None:
    """One libvirt network: its bridge (with libvirt's address) and its rules, as libvirt adds them."""
    if not nsrun(ns, "ip", "link", "show", "dev", bridge, check=False):
        nsrun(ns, "ip", "link", "add", bridge, "type", "bridge")
        nsrun(ns, "ip", "addr", "add", f"{prefix}.1/24", "dev", bridge)
        nsrun(ns, "ip", "link", "set", bridge, "up")
    for argv in corpus_commands(case):
        argv = [t.replace("virbr0", bridge).replace("192.168.122", prefix) for t in argv]
        nsrun(ns, f"{argv[0]}-{flavour}", *argv[1:])


def libvirt_lines(ns: str, flavour: str) -> list[str]:
    """Every line of both families' iptables-save that is libvirt's, as `TOOL TABLE LINE`."""
    out = []
    for tool in IPTABLES_TOOLS:
        table = ""
        for line in nsrun(ns, f"{tool}-{flavour}-save").splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif "LIBVIRT_" in line:
                out.append(f"{tool} {table} {_COUNTERS.sub('', line)}")
    return out


_COUNTERS = re.compile(r" \[\d+:\d+\]$")


def about(lines: list[str], *marks: str) -> list[str]:
    return [line for line in lines if any(mark in line for mark in marks)]


MINE = ("virbr0", "192.168.122.")


def test_one_network_all_rules_chains_and_jumps_go_in_both_families(netc, flavour):
    ns = netc.ns
    libvirt_base(ns, flavour)
    libvirt_network(ns, flavour, NAT_IPV6)  # rules in iptables and ip6tables
    before = libvirt_lines(ns, flavour)
    assert about(before, "ip6tables filter -A LIBVIRT_FWO -s 2001:db8:ca2:2::/64")

    result = netc("migrate", "--to", "nftables", DEFAULT_NET)
    assert result.code == 0, result.err
    out = result.out
    assert libvirt_lines(ns, flavour) == []
    # default.net has no IPv6 subnet: libvirt's IPv6 rules go because they name virbr0.
    assert (
        "removed libvirt's ip6tables filter rule: -A LIBVIRT_FWO -s 2001:db8:ca2:2::/64 "
        "-i virbr0 -j ACCEPT\n" in out
    )
    assert (
        "removed libvirt's iptables nat rule: -A LIBVIRT_PRT -s 192.168.122.0/24 "
        "! -d 192.168.122.0/24 -j MASQUERADE\n" in out
    )
    for tool in IPTABLES_TOOLS:
        for chain in CHAINS[:5]:
            assert f"removed libvirt's {tool} filter chain: {chain}\n" in out
            assert f"removed libvirt's {tool} filter jump: -A " in out
        assert f"removed libvirt's {tool} nat chain: LIBVIRT_PRT\n" in out
        assert f"removed libvirt's {tool} mangle chain: LIBVIRT_PRT\n" in out
    assert "libvirt: its LIBVIRT_* chains are gone; restart virtnetworkd" in out
    assert '"virbr0"' in nsrun(ns, "nft", "list", "table", "inet", "netc")

    assert netc("status").code == 0
    assert netc("doctor").out == ""
    again = netc("migrate", "--to", "nftables")
    assert again.code == 0 and "libvirt: no LIBVIRT_* iptables chains\n" in again.out


def _cases() -> list[str]:
    if not os.path.isdir(CORPUS):
        return []
    found = os.listdir(CORPUS) + os.listdir(os.path.join(CORPUS, "inferred"))
    return sorted(n.removesuffix("-linux.iptables") for n in found if n.endswith("-linux.iptables"))


@pytest.mark.parametrize("case", _cases())
def test_every_corpus_network_is_taken_over_from_its_own_xml(netc, flavour, case):
    """The real take-over: `netc migrate --to nftables X.xml` with libvirt's X running."""
    ns = netc.ns
    libvirt_base(ns, flavour)
    rules = f"{case}-linux.iptables"
    libvirt_network(
        ns, flavour, rules if os.path.exists(os.path.join(CORPUS, rules)) else f"inferred/{rules}"
    )
    xml = os.path.join(CORPUS, f"{case}.xml")
    if not os.path.exists(xml):
        xml = os.path.join(CORPUS, "inferred", f"{case}.xml")
    result = netc("migrate", "--to", "nftables", xml)
    assert result.code == 0, result.err
    assert libvirt_lines(ns, flavour) == [], result.out
    assert netc("status").code == 0


def test_libvirts_subnet_goes_even_when_netc_gives_the_bridge_another(netc, flavour, tmp_path):
    ns = netc.ns
    libvirt_base(ns, flavour)
    libvirt_network(ns, flavour)  # libvirt: virbr0 with 192.168.122.0/24
    path = write(tmp_path / "n.net", open(DEFAULT_NET).read().replace("192.168.122", "10.9.8"))
    result = netc("migrate", "--to", "nftables", path)
    assert result.code == 0, result.err
    assert libvirt_lines(ns, flavour) == []  # the masquerades for 192.168.122.0/24 went too
    assert (
        "removed libvirt's iptables nat rule: -A LIBVIRT_PRT -s 192.168.122.0/24 -d 224.0.0.0/24 "
        "-j RETURN\n" in result.out
    )


@pytest.mark.parametrize("other", [NAT_DEFAULT, NAT_IPV6], ids=["other-ipv4", "other-ipv6"])
def test_two_networks_the_other_keeps_its_rules_and_both_families_chains(netc, flavour, other):
    """libvirt created the chains once for both families and still runs virbr1: it expects them
    all, the IPv6 ones too even when virbr1 has no IPv6 rule (the next IPv6 network it starts
    inserts into them)."""
    ns = netc.ns
    libvirt_base(ns, flavour)
    libvirt_network(ns, flavour)
    libvirt_network(ns, flavour, other, bridge="virbr1", prefix="192.168.100")
    before = libvirt_lines(ns, flavour)
    others = about(before, "virbr1", "192.168.100.", "2001:db8:ca2:2::")
    chains = about(before, ":LIBVIRT_")
    jumps = about(before, "-j LIBVIRT_")
    assert sorted(jumps) == sorted(f"{tool} {line}" for tool in IPTABLES_TOOLS for line in JUMPS)
    assert len(chains) == 14 and len(others) == (19 if other == NAT_DEFAULT else 30)

    result = netc("migrate", "--to", "nftables", DEFAULT_NET)
    assert result.code == 0, result.err
    after = libvirt_lines(ns, flavour)
    assert about(after, *MINE) == []
    assert sorted(after) == sorted(others + chains + jumps)  # the rest exactly as it was
    assert " chain: " not in result.out and " jump: " not in result.out
    assert len(about(result.out.splitlines(), "removed libvirt's iptables ")) == 19
    assert (
        "libvirt: kept its LIBVIRT_* chains in iptables and ip6tables: "
        f"{len(others)} rule(s) of other libvirt networks (bridges virbr1) still in them\n"
        in result.out
    )
    assert netc("status").code == 0
    assert netc("doctor").out == ""

    # libvirt (still running, chains set up once) can start another network with IPv6.
    libvirt_network(ns, flavour, NAT_IPV6, bridge="virbr2", prefix="192.168.150")
    assert about(libvirt_lines(ns, flavour), "ip6tables filter -A LIBVIRT_FWX -i virbr2")


def test_status_doctor_and_apply_name_libvirts_iptables_rules_until_migrate(netc, flavour):
    ns = netc.ns
    libvirt_base(ns, flavour)
    libvirt_network(ns, flavour)
    libvirt_network(ns, flavour, bridge="virbr1", prefix="192.168.100")
    held = (
        "libvirt's iptables chain(s) LIBVIRT_FWI, LIBVIRT_FWO, LIBVIRT_FWX, LIBVIRT_INP, "
        "LIBVIRT_OUT, LIBVIRT_PRT still hold 19 rule(s) for virbr0 (e.g. `-A LIBVIRT_"
    )
    why = "they accept, reject and masquerade these guests' traffic besides netc's rules"

    applied = netc("apply", DEFAULT_NET)  # apply does not take over; migrate does
    assert applied.code == 0, applied.err
    assert f"note: {held}" in applied.out and why in applied.out
    assert "; `netc migrate --to nftables` removes them\n" in applied.out
    status = netc("status")
    assert status.code == 1
    assert f"drift: {held}" in status.out
    assert "; `netc migrate --to nftables` removes them\n" in status.out
    assert "virbr1" not in status.out
    doctor = netc("doctor")
    assert doctor.code == 1
    assert f"warning: {held}" in doctor.out
    assert (
        "fix: `netc migrate --to nftables` removes them (one iptables-restore per family; "
        "libvirt's LIBVIRT_* chains go once no libvirt network is left in either family); "
        "stop or undefine the libvirt network too, or its next start puts them back"
    ) in doctor.out

    assert netc("migrate", "--to", "nftables").code == 0
    assert about(libvirt_lines(ns, flavour), *MINE) == []
    assert netc("status").code == 0
    assert netc("doctor").out == ""


def test_doctor_before_taking_over_names_the_files(netc, flavour):
    libvirt_base(netc.ns, flavour)
    libvirt_network(netc.ns, flavour, NAT_IPV6)
    doctor = netc("doctor", DEFAULT_NET)
    assert "warning: libvirt's iptables and ip6tables chain(s) LIBVIRT_FWI" in doctor.out
    assert "still hold 30 rule(s) for virbr0" in doctor.out
    assert f"fix: `netc migrate --to nftables {DEFAULT_NET}` removes them" in doctor.out


def test_both_libvirt_backends_are_reported_once_each(netc, corpus):
    """libvirt's nft tables and its iptables chains at once (a half-done backend switch)."""
    ns = netc.ns
    libvirt_base(ns, "nft")
    libvirt_network(ns, "nft")
    for argv in [*corpus_commands("base.nftables"), *corpus_commands("nat-default-linux.nftables")]:
        if argv[:2] != ["nft", "list"]:
            nsrun(ns, *argv)
    assert netc("apply", DEFAULT_NET).code == 0
    status = netc("status")
    assert status.code == 1
    drift = [line for line in status.out.splitlines() if line.startswith("drift: libvirt's")]
    assert [line.split(" still hold")[0] for line in drift] == [
        "drift: libvirt's nft table(s) ip libvirt_network",
        "drift: libvirt's iptables chain(s) LIBVIRT_FWI, LIBVIRT_FWO, LIBVIRT_FWX, "
        "LIBVIRT_INP, LIBVIRT_OUT, LIBVIRT_PRT",
    ]
    assert netc("doctor").out.count("warning: libvirt's") == 2
    migrated = netc("migrate", "--to", "nftables")
    assert migrated.code == 0, migrated.err
    assert netc("status").code == 0 and netc("doctor").out == ""


@pytest.mark.parametrize("beside", [False, True], ids=["alone", "beside-virbr1"])
def test_back_to_libvirt(netc, flavour, beside):
    """netc down, then libvirt sets its network up again: the same rules as before migrate."""
    ns = netc.ns
    libvirt_base(ns, flavour)
    libvirt_network(ns, flavour, NAT_IPV6)
    if beside:
        libvirt_network(ns, flavour, bridge="virbr1", prefix="192.168.100")
    before = libvirt_lines(ns, flavour)
    assert netc("migrate", "--to", "nftables", DEFAULT_NET).code == 0
    to_ipt = netc("migrate", "--to", "iptables")  # netc's own chains in the same iptables
    assert to_ipt.code == 0, to_ipt.err
    assert "removed libvirt's" not in to_ipt.out
    assert "NETC_FWO" in nsrun(ns, f"iptables-{flavour}-save")
    assert netc("down").code == 0
    if not beside:
        libvirt_base(ns, flavour)  # a restarted virtnetworkd creates its chains again
    libvirt_network(ns, flavour, NAT_IPV6)
    assert sorted(libvirt_lines(ns, flavour)) == sorted(before)
    assert "NETC_" not in nsrun(ns, f"iptables-{flavour}-save")


# -- faults ------------------------------------------------------------------------------------

BAD = "*filter\n-D LIBVIRT_FWO -i nosuch0 -j ACCEPT\nCOMMIT\n"


@pytest.mark.parametrize("flavour", ["legacy"], ids=["iptables-legacy"], indirect=True)
def test_refused_removal_changes_nothing(netc, flavour, monkeypatch):
    """iptables-legacy's `--test` finds a deletion of a rule that is not there: nothing changes.
    (iptables-nft-restore's `--test` checks only the syntax, not that the deleted rules exist;
    the next test covers a removal that fails only when carried out.)"""
    ns = netc.ns
    libvirt_base(ns, flavour)
    libvirt_network(ns, flavour)
    before = snapshot(ns) + "\n".join(libvirt_lines(ns, flavour))
    good = libvirt_chains.script
    monkeypatch.setattr(libvirt_chains, "script", lambda plan, tool: BAD + good(plan, tool))
    result = netc("migrate", "--to", "nftables", DEFAULT_NET)
    assert result.code == 2
    assert "checking the removal of libvirt's iptables rules (LIBVIRT_* chains) failed" in (
        result.err
    )
    assert "nothing was changed" in result.err
    assert snapshot(ns) + "\n".join(libvirt_lines(ns, flavour)) == before


def test_removal_failing_is_reported_and_retried(netc, flavour, monkeypatch):
    ns = netc.ns
    libvirt_base(ns, flavour)
    libvirt_network(ns, flavour)
    before = libvirt_lines(ns, flavour)
    good = libvirt_chains.script
    calls: list[str] = []

    def fails_when_removing(plan, tool):
        calls.append(tool)
        removing = calls.count(tool) > 1  # check() asks for each family first, then remove()
        return (BAD if removing else "") + good(plan, tool)

    monkeypatch.setattr(libvirt_chains, "script", fails_when_removing)
    result = netc("migrate", "--to", "nftables", DEFAULT_NET)
    assert result.code == 2
    assert "removing libvirt's iptables rules (LIBVIRT_* chains) failed" in result.err
    assert "netc's rules are on nftables and its state is saved" in result.err
    assert libvirt_lines(ns, flavour) == before  # the bad part comes first: nothing happened
    assert "table inet netc" in nsrun(ns, "nft", "list", "tables")
    status = netc("status")
    assert status.code == 1 and "drift: libvirt's iptables chain(s)" in status.out

    monkeypatch.setattr(libvirt_chains, "script", good)
    retry = netc("migrate", "--to", "nftables")
    assert retry.code == 0, retry.err
    assert libvirt_lines(ns, flavour) == []


# -- packets: what libvirt's leftover iptables rules would do to netc's guests ----------------


@pytest.fixture
def topo():
    with leftover_packets.topology("lvipt") as built:
        yield built


def test_packets_follow_netc_not_libvirt_after_migrate(
    topo, flavour, isolated_config, capsys, tmp_path
):
    """libvirt NAT'd virbr0, netc routes it: libvirt's leftovers must not act after migrate."""
    leftover_packets.assert_packets_follow_netc(
        topo,
        lambda ns: (libvirt_base(ns, flavour), libvirt_network(ns, flavour)),
        lambda ns: libvirt_lines(ns, flavour) == [],
        capsys,
        tmp_path,
    )


def test_ipv6_removal_failing_after_ipv4_says_so_and_retry_finishes(netc, flavour, monkeypatch):
    ns = netc.ns
    libvirt_base(ns, flavour)
    libvirt_network(ns, flavour, NAT_IPV6)
    good = libvirt_chains.script
    calls: list[str] = []

    def ip6_fails_when_removing(plan, tool):
        calls.append(tool)
        removing = tool == "ip6tables" and calls.count(tool) > 1
        return (BAD if removing else "") + good(plan, tool)

    monkeypatch.setattr(libvirt_chains, "script", ip6_fails_when_removing)
    result = netc("migrate", "--to", "nftables", DEFAULT_NET)
    assert result.code == 2
    assert "removing libvirt's ip6tables rules (LIBVIRT_* chains) failed" in result.err
    assert "(the iptables part is done)" in result.err, result.err
    left = libvirt_lines(ns, flavour)
    assert left and all(line.startswith("ip6tables ") for line in left)

    monkeypatch.setattr(libvirt_chains, "script", good)
    retry = netc("migrate", "--to", "nftables")
    assert retry.code == 0, retry.err
    assert "removed libvirt's ip6tables filter chain: LIBVIRT_FWO" in retry.out
    assert libvirt_lines(ns, flavour) == []
