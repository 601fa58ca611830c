"""NAT targets nft lists as prefixes: an address range that is exactly a prefix prints as one.

libvirt's `<nat><address start='203.0.113.1' end='203.0.113.1'/>` is listed by nft 1.0.6 as
`snat to 203.0.113.1/32:1024-65535`; `netc verify` must read that as the one address.
"""

from __future__ import annotations

import ipaddress

import pytest
from helpers import nft, pkt

from netc.parity import evaluate


def _snat(target: str, family: str = "ip", src: str = "192.168.122.5", dst: str = "198.51.100.1"):
    ip = "ip6" if family == "ip6" else "ip"
    rs = nft(f"""table {family} t {{
  chain p {{ type nat hook postrouting priority srcnat; policy accept;
    meta l4proto tcp {ip} daddr {dst} snat to {target}
  }}
}}""")  # fmt: skip
    return evaluate(rs, pkt(src=src, dst=dst, dport=80)).outcome.nat[0].nat


def _span(first: str, last: str) -> tuple[int, int]:
    return int(ipaddress.ip_address(first)), int(ipaddress.ip_address(last))


def test_one_address_as_slash_32_with_ports():
    nat = _snat("203.0.113.1/32:1024-65535")
    assert nat.kind == "snat"
    assert nat.addrs == _span("203.0.113.1", "203.0.113.1")
    assert nat.ports == (1024, 65535)


def test_prefix_is_the_range_it_covers():
    assert _snat("203.0.113.4/30").addrs == _span("203.0.113.4", "203.0.113.7")


def test_ipv6_one_address_in_brackets():
    nat = _snat("[2001:db8::1/128]:1024-65535", "ip6", "2001:db8:ca2:2::5", "2001:db8:1::1")
    assert nat.addrs == _span("2001:db8::1", "2001:db8::1")
    assert nat.ports == (1024, 65535)


def test_a_bad_prefix_is_still_an_error():
    from netc.parity import ParityError

    with pytest.raises(ParityError):
        _snat("203.0.113.1/33")
