"""Without br_netfilter: bridged guest <-> guest traffic skips the IP hooks, routed hairpins don't.

A packet that enters and leaves by the same bridge is bridged below IP unless it is addressed to
the host: `daddr_local`, a DNAT'd connection, or a DNAT in prerouting (a port forward's hairpin,
guest -> host port -> guest, which the kernel tests in tests/ports show crossing the IP hooks with
bridge-nf-call-iptables=0). Also: interfaces named only as iif (`expose ... via eth0`) used to
crash the symbolic engine's split of same-interface traffic.
"""

from __future__ import annotations

import pytest
from helpers import GOLDEN, golden_cases, golden_pair, golden_text, mutate, nft, pkt

from netc.parity import evaluate, verify
from netc.parity.spec import check_spec, spec_rows

HAIRPIN_DNAT = (
    "table inet t {\n"
    " chain pre { type nat hook prerouting priority -100;"
    " ip daddr 203.0.113.1 tcp dport 80 dnat ip to 192.168.122.10 }\n"
    " chain pre_f { type filter hook prerouting priority -150; tcp dport 25 drop }\n"
    " chain fwd { type filter hook forward priority 0; policy drop;"
    ' iifname "virbr0" oifname "eth0" accept; ct status dnat %s }\n'
    "}\n"
)


def test_iif_only_interface_without_br_netfilter_is_decided():
    """`iifname "virbr0"` with no oifname "virbr0" anywhere: virbr0 -> virbr0 is still a class."""
    a = nft(HAIRPIN_DNAT % "accept")
    b = nft(HAIRPIN_DNAT % "accept", "b.nft")
    result = verify(a, b, br_netfilter=False)
    assert result.equivalent
    slow = verify(a, b, br_netfilter=False, method="product")
    assert (slow.classes, slow.differing_classes) == (result.classes, 0)


def test_port_forward_golden_verifies_without_br_netfilter():
    nft_rs, ipt_rs = golden_pair("port-forward")
    assert verify(nft_rs, ipt_rs, br_netfilter=False).equivalent


@pytest.mark.parametrize("side", [0, 1], ids=["nft", "iptables"])
def test_hairpin_is_routed_without_br_netfilter(side):
    ruleset = golden_pair("port-forward")[side]
    p = pkt(iif="virbr0", oif="virbr0", dst="203.0.113.1", dport=8022, daddr_local=True)
    for br in (True, False):
        out = evaluate(ruleset, p, br_netfilter=br).outcome
        assert out.verdict == "accept"
        assert [(n.hook.value, n.nat.kind) for n in out.nat] == [
            ("prerouting", "dnat"),
            ("postrouting", "masquerade"),
        ], br


def test_dnat_in_prerouting_makes_a_same_bridge_packet_routed():
    """No `fib daddr type local` in the rule: the DNAT itself says "for the host"."""
    rs = nft(HAIRPIN_DNAT % "drop")
    hairpin = pkt(iif="virbr0", oif="virbr0", dst="203.0.113.1", dport=80)
    assert evaluate(rs, hairpin, br_netfilter=False).outcome.verdict == "drop"
    bridged = pkt(iif="virbr0", oif="virbr0", dst="192.168.122.11", dport=80)
    assert evaluate(rs, bridged, br_netfilter=False).outcome.verdict == "accept"
    # dropped in prerouting before any DNAT: a bridged packet never met that chain
    smtp = pkt(iif="virbr0", oif="virbr0", dst="192.168.122.11", dport=25)
    assert evaluate(rs, smtp, br_netfilter=False).outcome.verdict == "accept"
    assert evaluate(rs, smtp, br_netfilter=True).outcome.verdict == "drop"


def test_hairpin_difference_is_found_without_br_netfilter_and_agrees_with_product():
    a = nft(HAIRPIN_DNAT % "accept")
    b = nft(HAIRPIN_DNAT % "drop", "b.nft")
    fast = verify(a, b, br_netfilter=False, max_counterexamples=100)
    slow = verify(a, b, br_netfilter=False, method="product")
    assert not fast.equivalent
    assert (fast.classes, fast.differing_classes) == (slow.classes, slow.differing_classes)
    hairpin = pkt(iif="virbr0", oif="virbr0", dst="203.0.113.1", dport=80)
    assert evaluate(a, hairpin, br_netfilter=False).outcome.verdict == "accept"
    assert evaluate(b, hairpin, br_netfilter=False).outcome.verdict == "drop"


def test_unnamed_interface_classes_never_stand_for_one_interface():
    """A wildcard class pair means different interfaces: its packet must not look bridged."""
    a = nft(
        "table inet t {\n chain f { type filter hook forward priority 0;"
        ' iifname "vnet*" oifname "vnet*" drop }\n}\n'
    )
    b = nft("table inet t {\n}\n", "b.nft")
    result = verify(a, b, br_netfilter=False)
    assert not result.equivalent
    p = result.counterexamples[0].packet
    assert p.iif.startswith("vnet") and p.oif.startswith("vnet") and p.iif != p.oif
    slow = verify(a, b, br_netfilter=False, method="product")
    assert slow.differing_classes == result.differing_classes


@pytest.mark.parametrize("case", golden_cases())
def test_every_golden_meets_its_spec_without_br_netfilter(case):
    from netc.verification import spec_of_files as spec_networks

    networks = spec_networks([str(GOLDEN / case / "input.net")])
    for side in golden_pair(case):
        assert check_spec(side, networks, br_netfilter=False) == []


def test_hairpin_spec_rows_are_checked_without_br_netfilter():
    from netc.verification import spec_of_files as spec_networks

    networks = spec_networks([str(GOLDEN / "port-forward" / "input.net")])
    rows = [r for n in networks for r in spec_rows(n, []) if "hairpin" in r.check]
    assert rows and not any(r.br_netfilter_only for r in rows)
    text = mutate(
        golden_text("port-forward", "setup.nft"),
        '\t\tip daddr 192.168.122.10 oifname "virbr0" tcp dport 22 ct status dnat masquerade\n',
        "",
    )
    failures = check_spec(nft(text, "no-hairpin.nft"), networks, br_netfilter=False)
    assert any("hairpin" in f.check for f in failures)
