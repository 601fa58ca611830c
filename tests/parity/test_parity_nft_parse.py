"""The nft front end: netc's output, `nft list ruleset` listings, and fail-closed errors."""

from __future__ import annotations

import pytest
from helpers import golden_cases, golden_text, nft, pkt

from netc.parity import ParityError, evaluate
from netc.parity.model import ChainType, Field, Hook, Kind


@pytest.mark.parametrize("case", golden_cases())
def test_every_golden_parses(case):
    rs = nft(golden_text(case, "setup.nft"), f"{case}.nft")
    # `open` networks get no rules: the prelude deletes the table and nothing recreates it
    assert [t.name for t in rs.tables] == ([] if case == "open" else ["inet netc"])


def test_prelude_replays_to_one_fresh_table():
    rs = nft("table inet netc {}\ndelete table inet netc\ntable inet netc {\n}\n")
    assert len(rs.tables) == 1 and rs.tables[0].chains == {}


def test_base_chain_and_priorities():
    rs = nft("""table ip t {
  chain a { type nat hook postrouting priority srcnat; policy accept; }
  chain b { type filter hook forward priority filter + 10; policy drop; }
  chain c { type nat hook prerouting priority -100; }
  chain d { type filter hook input priority mangle; }
}""")
    ch = rs.tables[0].chains
    assert (ch["a"].base.type, ch["a"].base.hook, ch["a"].base.priority) == (
        ChainType.NAT,
        Hook.POSTROUTING,
        100,
    )
    assert ch["b"].base.priority == 10 and ch["b"].base.policy is Kind.DROP
    assert ch["c"].base.priority == -100 and ch["c"].base.policy is Kind.ACCEPT
    assert ch["d"].base.priority == -150


LISTING = """table ip libvirt_network { # handle 7
	chain forward { # handle 1
		type filter hook forward priority filter; policy accept;
		counter packets 0 bytes 0 jump guest_cross # handle 8
		counter packets 12 bytes 900 jump guest_input # handle 6
		counter packets 0 bytes 0 jump guest_output # handle 4
	}
	chain guest_output { # handle 3
		ip saddr 192.168.122.0/24 iif "virbr0" counter packets 0 bytes 0 accept # handle 12
		iif "virbr0" counter packets 0 bytes 0 reject # handle 9
	}
	chain guest_input {
		oif "virbr0" ip daddr 192.168.122.0/24 ct state established,related counter packets 0 bytes 0 accept
		oif "virbr0" counter packets 0 bytes 0 reject
	}
	chain guest_cross {
		iif "virbr0" oif "virbr0" counter packets 0 bytes 0 accept
	}
	chain guest_nat {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 192.168.122.0/24 ip daddr 224.0.0.0/24 counter packets 0 bytes 0 return
		ip saddr 192.168.122.0/24 ip daddr 255.255.255.255 counter packets 0 bytes 0 return
		meta l4proto tcp ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter packets 0 bytes 0 masquerade to :1024-65535
		meta l4proto udp ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter packets 0 bytes 0 masquerade to :1024-65535
		ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter packets 0 bytes 0 masquerade
	}
	chain postroute_mangle {
		type filter hook postrouting priority filter; policy accept;
		oif "virbr0" udp dport 68 counter packets 0 bytes 0 udp checksum set 0
	}
}
table inet firewalld {
	chain filter_FORWARD {
		type filter hook forward priority filter + 10; policy drop;
		ct state { established, related } accept
	}
}
"""


def test_kernel_listing_with_handles_counters_and_foreign_table():
    rs = nft(LISTING, "list.txt")
    assert [t.name for t in rs.tables] == ["ip libvirt_network", "inet firewalld"]
    kinds = {d.kind for d in rs.declared}
    assert kinds == {"counter", "udp checksum set 0"}
    # the foreign drop-policy table blocks new guest->outside traffic that libvirt accepts
    out = evaluate(rs, pkt(iif="virbr0", oif="eth0")).outcome
    assert out.verdict == "drop"
    est = evaluate(rs, pkt(iif="virbr0", oif="eth0", ct="established")).outcome
    assert est.verdict == "accept"


def test_port_forward_constructs():
    rs = nft("""table inet netc {
  chain pre { type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local meta l4proto { tcp, udp } th dport 1000-2000 counter comment "pf" dnat ip to 192.168.122.10
    ip daddr 203.0.113.1 tcp dport 8022 dnat ip to 192.168.122.10:22
  }
  chain fwd { type filter hook forward priority filter; policy drop;
    ct status dnat accept
    tcp dport { 53, 67 } ip protocol tcp iif "eth0" oif "virbr0" reject with tcp reset
    reject with icmpx port-unreachable
  }
}""")
    fwd = rs.tables[0].chains["fwd"].rules
    assert fwd[0].atoms[0].field is Field.CT_DNAT
    dn = evaluate(
        rs, pkt(iif="eth0", oif="virbr0", src="198.51.100.1", dst="203.0.113.1", dport=8022)
    )
    assert dn.outcome.verdict == "accept"
    assert dn.outcome.nat[0].nat.kind == "dnat" and dn.outcome.nat[0].nat.ports == (22, 22)
    rej = evaluate(rs, pkt(iif="eth0", oif="virbr0", dport=53)).outcome
    assert rej.reject == "tcp reset"
    other = evaluate(rs, pkt(iif="eth0", oif="virbr0", proto=17, dport=53)).outcome
    assert other.reject == "icmp port-unreachable"


@pytest.mark.parametrize(
    "body, where, message",
    [
        ("iifname virbr0 log accept", (3, 17), "unsupported statement 'log'"),
        ("ip daddr 10.0.0.0/33 accept", (3, 10), "not an address"),
        ("iifname virbr0 frobnicate", (3, 16), "unsupported expression 'frobnicate'"),
        ("icmp type echo-request accept", (3, 1), "unsupported expression 'icmp'"),
        ("ip daddr . tcp dport { 1.2.3.4 . 22 } accept", (3, 10), "not an address"),
        ("accept drop", (3, 8), "statement after the verdict"),
        ("ip saddr vmap @m", (3, 15), "named maps are not supported"),
    ],
)
def test_unknown_constructs_are_located_errors(body, where, message):
    text = f"table inet t {{\n  chain c {{\n{body}\n  }}\n}}\n"
    with pytest.raises(ParityError) as exc:
        nft(text, "bad.nft")
    err = exc.value
    assert message in err.message
    assert (err.loc.filename, err.loc.line) == ("bad.nft", where[0])
    assert str(err).startswith(f"bad.nft:{where[0]}:")


def test_unsupported_family_and_unknown_chain():
    with pytest.raises(ParityError, match="unsupported table family"):
        nft("table bridge b {\n}\n")
    with pytest.raises(ParityError, match="no such chain"):
        nft("table ip t {\n}\nadd rule ip t nope accept\n")


def test_add_and_insert_rule_commands_like_libvirt():
    rs = nft("""add table ip libvirt_network
add chain ip libvirt_network forward { type filter hook forward priority 0; policy accept; }
add chain ip libvirt_network guest_output
insert rule ip libvirt_network forward counter jump guest_output
insert rule ip libvirt_network guest_output iif virbr0 counter reject
insert rule ip libvirt_network guest_output ip saddr 192.168.122.0/24 iif virbr0 oifname enp0s7 counter accept
""")
    rules = rs.tables[0].chains["guest_output"].rules
    assert rules[0].action.kind is Kind.ACCEPT and rules[1].action.kind is Kind.REJECT
    assert evaluate(rs, pkt(iif="virbr0", oif="enp0s7")).outcome.verdict == "accept"
    assert evaluate(rs, pkt(iif="virbr0", oif="eth1")).outcome.verdict == "reject"
