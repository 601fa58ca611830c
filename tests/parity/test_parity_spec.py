"""The spec check: parity is not correctness."""

from __future__ import annotations

import pytest
from helpers import GOLDEN, golden_cases, golden_pair, golden_text, ipt_side, nft

from netc.parity import verify
from netc.parity.model import Ruleset
from netc.parity.spec import SpecNetwork, check_spec

DEFAULT = SpecNetwork("default", "virbr0", "nat", subnets4=("192.168.122.1/24",))


@pytest.mark.parametrize("case", golden_cases())
def test_every_golden_meets_its_spec(case):
    from netc.verification import spec_of_files as spec_networks

    networks = spec_networks([str(GOLDEN / case / "input.net")])
    for side in golden_pair(case):
        assert check_spec(side, networks) == []


def both_sides(nft_old, nft_new, ipt_old, ipt_new):
    n = golden_text("default", "setup.nft")
    v4 = golden_text("default", "setup.iptables")
    assert n.count(nft_old) == 1 and v4.count(ipt_old) == 1
    return (
        nft(n.replace(nft_old, nft_new), "wrong.nft"),
        ipt_side(v4.replace(ipt_old, ipt_new), golden_text("default", "setup.ip6tables"), "wrong"),
    )


def test_both_backends_wrong_the_same_way_pass_verify_but_fail_the_spec():
    a, b = both_sides(
        "\t\tip daddr 192.168.122.0/24 ct state established,related accept\n",
        "",
        "-A NETC_FWI -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED"
        " -j ACCEPT\n",
        "",
    )
    assert verify(a, b).equivalent
    for side in (a, b):
        failures = check_spec(side, [DEFAULT])
        assert [f.check for f in failures] == [
            "ipv4 192.168.122.1/24: outside -> guest established"
        ]
        assert failures[0].got.outcome.verdict == "reject"


def test_same_wrong_port_range_on_both_sides_fails_the_spec():
    a, b = both_sides(
        "meta l4proto tcp masquerade to :1024-65535",
        "meta l4proto tcp masquerade to :1-65535",
        "-p tcp -j MASQUERADE --to-ports 1024-65535",
        "-p tcp -j MASQUERADE --to-ports 1-65535",
    )
    assert verify(a, b).equivalent
    checks = {f.check for f in check_spec(a, [DEFAULT])}
    assert checks == {"ipv4 192.168.122.1/24: guest -> outside tcp"}


def test_missing_multicast_exclusion_fails_the_spec():
    a, _ = both_sides(
        "\t\tip daddr 224.0.0.0/24 return\n",
        "",
        "-d 224.0.0.0/24 -j RETURN",
        "-d 224.0.0.0/24 -j ACCEPT",
    )
    checks = {f.check for f in check_spec(a, [DEFAULT])}
    assert checks == {"ipv4 192.168.122.1/24: guest -> 224.0.0.251 not masqueraded"}


@pytest.mark.parametrize("mode", ["open", "route", "isolated"])
def test_a_nat_ruleset_fails_every_other_mode(mode):
    a, _ = golden_pair("default")
    spec = SpecNetwork("default", "virbr0", mode, subnets4=("192.168.122.1/24",))
    checks = {f.check.split(": ")[1] for f in check_spec(a, [spec])}
    # open and route expect no NAT; isolated expects guest -> outside to be blocked
    assert "guest -> outside tcp" in checks


def test_empty_ruleset_meets_only_the_open_spec():
    empty = Ruleset((), ("empty",))
    open_spec = SpecNetwork("o", "virbr9", "open", subnets4=("10.9.9.1/24",))
    assert check_spec(empty, [open_spec]) == []
    nat_spec = SpecNetwork("o", "virbr9", "nat", subnets4=("10.9.9.1/24",))
    assert {f.check.split(": ")[1] for f in check_spec(empty, [nat_spec])} >= {
        "guest -> outside tcp",
        "outside -> guest new",
    }


def test_ipv6_routed_in_nat_mode_and_masqueraded_with_ipv6_nat():
    a, b = golden_pair("dual-stack")
    routed = SpecNetwork("dual", "virbr3", "nat", ("192.168.123.1/24",), ("2001:db8:ca2:2::1/64",))
    assert check_spec(a, [routed]) == [] and check_spec(b, [routed]) == []
    masq = SpecNetwork(
        "dual",
        "virbr3",
        "nat",
        ("192.168.123.1/24",),
        ("2001:db8:ca2:2::1/64",),
        ipv6_masquerade=True,
    )
    assert any("ipv6" in f.check for f in check_spec(a, [masq]))
