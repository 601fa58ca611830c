"""Equivalence: every golden pair is equivalent; every mutant is caught with a real counterexample."""

from __future__ import annotations

import pytest
from helpers import FIXTURES, golden_cases, golden_pair, golden_text, ipt_side, nft

from netc.parity import evaluate, load_ruleset, verify
from netc.parity.model import Family


@pytest.mark.parametrize("case", golden_cases())
def test_golden_pairs_are_equivalent(case):
    a, b = golden_pair(case)
    result = verify(a, b)
    assert result.equivalent, result.counterexamples
    assert result.classes > 0 and result.differing_classes == 0


def test_hand_written_fixture_pair():
    a = load_ruleset(FIXTURES / "default.nft")
    b = load_ruleset(FIXTURES / "default.v4.rules")
    assert verify(a, b).equivalent


NFT = golden_text("default", "setup.nft")
V4 = golden_text("default", "setup.iptables")
V6 = golden_text("default", "setup.ip6tables")

MUTANTS = {
    # (side, old, new)
    "drop established-return (nft)": (
        "nft",
        "\t\tip daddr 192.168.122.0/24 ct state established,related accept\n",
        "",
    ),
    "drop established-return (iptables)": (
        "ipt",
        "-A NETC_FWI -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED"
        " -j ACCEPT\n",
        "",
    ),
    "drop port range from tcp masquerade": (
        "ipt",
        "-p tcp -j MASQUERADE --to-ports 1024-65535",
        "-p tcp -j MASQUERADE",
    ),
    "drop port range from udp masquerade (nft)": (
        "nft",
        "meta l4proto udp masquerade to :1024-65535",
        "meta l4proto udp masquerade",
    ),
    "swap an interface": (
        "ipt",
        "-A NETC_FWO -s 192.168.122.0/24 -i virbr0 -j ACCEPT",
        "-A NETC_FWO -s 192.168.122.0/24 -o virbr0 -j ACCEPT",
    ),
    "flip a verdict (reject to accept)": (
        "ipt",
        "-A NETC_FWI -o virbr0 -j REJECT --reject-with icmp-port-unreachable",
        "-A NETC_FWI -o virbr0 -j ACCEPT",
    ),
    "flip a verdict (reject to drop)": (
        "nft",
        "\t\tip saddr 192.168.122.0/24 accept\n\t\tmeta nfproto ipv4 reject\n",
        "\t\tip saddr 192.168.122.0/24 accept\n\t\tmeta nfproto ipv4 drop\n",
    ),
    "reorder NAT exclusions after the masquerade": (
        "nft",
        "\t\tip daddr 224.0.0.0/24 return\n\t\tip daddr 255.255.255.255/32 return\n"
        "\t\tip daddr != 192.168.122.0/24 meta l4proto tcp masquerade to :1024-65535\n"
        "\t\tip daddr != 192.168.122.0/24 meta l4proto udp masquerade to :1024-65535\n"
        "\t\tip daddr != 192.168.122.0/24 masquerade\n",
        "\t\tip daddr != 192.168.122.0/24 meta l4proto tcp masquerade to :1024-65535\n"
        "\t\tip daddr != 192.168.122.0/24 meta l4proto udp masquerade to :1024-65535\n"
        "\t\tip daddr != 192.168.122.0/24 masquerade\n"
        "\t\tip daddr 224.0.0.0/24 return\n\t\tip daddr 255.255.255.255/32 return\n",
    ),
    "drop the DHCP host rule": (
        "ipt",
        "-A NETC_OUT -o virbr0 -p udp -m udp --dport 68 -j ACCEPT\n",
        "-A NETC_OUT -o virbr0 -p udp -m udp --dport 68 -j REJECT\n",
    ),
    "wrong subnet in the forward rule": (
        "nft",
        "ip saddr 192.168.122.0/24 accept",
        "ip saddr 192.168.122.0/25 accept",
    ),
}


def mutant_pair(name):
    side, old, new = MUTANTS[name]
    nft_text, v4_text = NFT, V4
    if side == "nft":
        assert nft_text.count(old) == 1, old
        nft_text = nft_text.replace(old, new)
    else:
        assert v4_text.count(old) == 1, old
        v4_text = v4_text.replace(old, new)
    return nft(nft_text, "mutant.nft"), ipt_side(v4_text, V6, "mutant")


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught_with_a_real_counterexample(name):
    a, b = mutant_pair(name)
    result = verify(a, b)
    assert not result.equivalent
    assert result.counterexamples
    for cx in result.counterexamples:
        # re-evaluate the reported concrete packet on each side, independently of verify
        assert evaluate(a, cx.packet).outcome != evaluate(b, cx.packet).outcome
        assert cx.a.outcome == evaluate(a, cx.packet).outcome


def test_counterexample_is_the_simplest_and_well_formed():
    a, b = mutant_pair("drop port range from tcp masquerade")
    cx = verify(a, b).counterexamples[0]
    p = cx.packet
    assert (p.path.value, p.ct, p.l4proto, p.iif) == ("forward", "new", 6, "virbr0")
    assert cx.a.outcome.nat[0].nat.ports == (1024, 65535)
    assert cx.b.outcome.nat[0].nat.ports is None


@pytest.mark.parametrize(
    "pair",
    [
        ("default", None),
        ("isolated", None),
        ("default", "drop established-return (nft)"),
        ("default", "reorder NAT exclusions after the masquerade"),
        ("default", "swap an interface"),
    ],
)
def test_symbolic_decision_agrees_with_the_full_product(pair):
    case, mutant = pair
    a, b = mutant_pair(mutant) if mutant else golden_pair(case)
    fast = verify(a, b)
    slow = verify(a, b, method="product")
    assert fast.equivalent == slow.equivalent
    assert fast.classes == slow.classes
    assert fast.differing_classes == slow.differing_classes


def test_declared_differences_are_reported_not_ignored():
    a = nft(
        NFT.replace(
            "\t\tip saddr 192.168.122.0/24 accept", "\t\tip saddr 192.168.122.0/24 counter accept"
        )
    )
    b = ipt_side(
        V4.replace(
            "COMMIT\n*nat",
            "COMMIT\n*mangle\n:NETC_PRT - [0:0]\n-I POSTROUTING 1 -j NETC_PRT\n"
            "-A NETC_PRT -o virbr0 -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill\n"
            "COMMIT\n*nat",
        ),
        V6,
    )
    result = verify(a, b)
    assert result.equivalent
    only = {d.kind: d.only_in for d in result.declared}
    assert only == {"CHECKSUM --checksum-fill": "B", "counter": "A"}
    from netc.parity import format_result

    text = format_result(result)
    assert "declared difference: CHECKSUM --checksum-fill only in B" in text
    assert "declared difference: counter only in A" in text


def test_ipv6_only_on_one_side_is_a_difference():
    a, _ = golden_pair("dual-stack")
    b = load_ruleset(__import__("helpers").GOLDEN / "dual-stack" / "setup.iptables")
    result = verify(a, b)
    assert not result.equivalent
    assert result.counterexamples[0].packet.family is Family.IPV6


def test_br_netfilter_off_hides_bridged_traffic():
    a = nft(
        "table inet t {\n chain f { type filter hook forward priority 0;"
        ' iifname "virbr0" oifname "virbr0" drop }\n}\n'
    )
    b = nft("table inet t {\n}\n")
    assert not verify(a, b).equivalent
    assert verify(a, b, br_netfilter=False).equivalent
