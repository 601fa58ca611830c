"""Netfilter semantics of the evaluator on hand-written rulesets."""

from __future__ import annotations

from helpers import ipt_side, nft, pkt

from netc.parity import evaluate
from netc.parity.model import Hook


def out(rs, **kw):
    return evaluate(rs, pkt(**kw)).outcome


def test_jump_return_and_goto():
    rs = nft("""table ip t {
  chain fwd { type filter hook forward priority 0; policy drop;
    iifname "a" jump sub
    iifname "b" goto sub
    accept
  }
  chain sub {
    tcp dport 22 return
    tcp dport 23 drop
  }
}""")
    # jump + return resumes after the jump: accepted by the final rule
    assert out(rs, iif="a", oif="x", dport=22).verdict == "accept"
    # goto + return returns from the caller: policy drop of the base chain applies
    assert out(rs, iif="b", oif="x", dport=22).verdict == "drop"
    # falling off a goto target behaves like return too
    assert out(rs, iif="b", oif="x", dport=80).verdict == "drop"
    assert out(rs, iif="a", oif="x", dport=23).verdict == "drop"


def test_accept_is_not_final_across_tables():
    rs = nft("""table inet mine {
  chain fwd { type filter hook forward priority filter; policy accept; iifname "virbr0" accept }
}
table ip docker {
  chain fwd { type filter hook forward priority filter + 10; policy drop; ct state established accept }
}""")
    assert out(rs, iif="virbr0", oif="eth0").verdict == "drop"
    assert out(rs, iif="virbr0", oif="eth0", ct="established").verdict == "accept"
    # the ip table does not see IPv6 packets
    assert (
        out(rs, iif="virbr0", oif="eth0", src="2001:db8::1", dst="2001:db8:1::1").verdict
        == "accept"
    )


def test_nft_and_iptables_tables_together_in_priority_order():
    rs = nft(
        "table inet x {\n chain f { type filter hook forward priority -200; policy accept;"
        " reject with icmpx admin-prohibited }\n}\n"
    ).merged(ipt_side("*filter\n-A FORWARD -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n"))
    assert out(rs, iif="a", oif="b").reject == "icmp admin-prohibited"


def test_nat_first_binding_wins_and_nat_chains_run_at_the_nat_priority():
    rs = nft("""table ip a {
  chain post { type nat hook postrouting priority 200; policy accept; masquerade }
}
table ip b {
  chain post { type nat hook postrouting priority 150; policy accept;
    tcp dport 22 return
    snat to 203.0.113.5
  }
}""")
    nat = out(rs, iif="virbr0", oif="eth0").nat
    assert [n.nat.kind for n in nat] == ["snat"]
    # b returned without a binding: a's masquerade (later in priority) binds instead
    assert [n.nat.kind for n in out(rs, iif="virbr0", oif="eth0", dport=22).nat] == ["masquerade"]
    # NAT chains only see new connections
    assert out(rs, iif="virbr0", oif="eth0", ct="established").nat == ()


def test_dnat_rewrites_the_header_for_forward_chains():
    rs = nft("""table ip t {
  chain pre { type nat hook prerouting priority dstnat; policy accept;
    ip daddr 203.0.113.1 tcp dport 8022 dnat to 192.168.122.10:22 }
  chain fwd { type filter hook forward priority filter; policy drop;
    ip daddr 192.168.122.10 tcp dport 22 ct status dnat accept }
}""")
    o = out(rs, iif="eth0", oif="virbr0", src="198.51.100.7", dst="203.0.113.1", dport=8022)
    assert o.verdict == "accept" and o.nat[0].hook is Hook.PREROUTING
    # straight to the guest (no dnat): ct status dnat is not set, policy drop
    o2 = out(rs, iif="eth0", oif="virbr0", src="198.51.100.7", dst="192.168.122.10", dport=22)
    assert o2.verdict == "drop"


def test_policy_drop_and_reject_types_per_family():
    rs = ipt_side(
        "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -i virbr0 -j REJECT\nCOMMIT\n",
        "*filter\n-A FORWARD -i virbr0 -j REJECT\nCOMMIT\n",
    )
    assert out(rs, iif="virbr0", oif="e").reject == "icmp port-unreachable"
    v6 = out(rs, iif="virbr0", oif="e", src="2001:db8::1", dst="2001:db8:1::1")
    assert v6.reject == "icmpv6 port-unreachable"
    assert out(rs, iif="eth1", oif="e").verdict == "drop"
    nft_rs = nft("table inet t {\n chain f { type filter hook forward priority 0; reject }\n}\n")
    assert out(nft_rs, iif="a", oif="b").reject == "icmp port-unreachable"


def test_br_netfilter_switch():
    rs = nft("table inet t {\n chain f { type filter hook forward priority 0; policy drop; }\n}\n")
    p = pkt(iif="virbr0", oif="virbr0", dst="192.168.122.11")
    assert evaluate(rs, p, br_netfilter=True).outcome.verdict == "drop"
    assert evaluate(rs, p, br_netfilter=False).outcome.verdict == "accept"


def test_missing_interface_breaks_nft_rules_even_when_negated():
    rs = nft(
        'table inet t {\n chain i { type filter hook input priority 0; oifname != "x" drop }\n}\n'
    )
    assert out(rs, path="input", iif="virbr0").verdict == "accept"
