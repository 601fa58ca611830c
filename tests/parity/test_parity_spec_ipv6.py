"""The spec's IPv6 rows: neighbour discovery and DHCPv6/DNS reach the host from guests.

A host closed to guests (`services { ... }`) must still let ICMPv6 in, or even the services it
allows time out (../shared/reference/parity.md §3, pitfall 4). A rule that lets ICMPv6 in only
from the guests' global prefix passes a unicast check yet breaks neighbour discovery, which
starts from link-local addresses to multicast ones.
"""

from __future__ import annotations

import pytest
from helpers import GOLDEN, golden_text, ipt_side, mutate, nft

from netc.parity.spec import check_spec, spec_rows


def _networks(path):
    from netc.verification import spec_of_files as spec_networks

    return spec_networks([str(path)])


def _checks(networks) -> list[str]:
    return [row.check for net in networks for row in spec_rows(net, [])]


def test_services_network_has_nd_dhcpv6_and_dns_rows_for_ipv6():
    checks = _checks(_networks(GOLDEN / "services" / "input.net"))
    v6 = [c for c in checks if c.startswith("ipv6 fd00:122::1/64")]
    for want in (
        "guest -> host neighbour solicitation",
        "guest -> host router solicitation",
        "guest -> host unicast ICMPv6",
        "host -> guest neighbour solicitation",
        "guest -> host DHCPv6",
        "guest -> host DNS/udp",
        "guest -> host DNS/tcp",
    ):
        assert any(want in c for c in v6), want


def test_icmpv6_only_from_the_global_prefix_fails_the_spec():
    """Both backends wrong the same way: parity holds, the ND rows fail."""
    networks = _networks(GOLDEN / "services" / "input.net")
    a = nft(
        mutate(
            golden_text("services", "setup.nft"),
            "\t\tmeta l4proto ipv6-icmp meta nfproto ipv6 accept\n",
            "\t\tip6 saddr fd00:122::/64 meta l4proto ipv6-icmp accept\n",
        ),
        "nd.nft",
    )
    b = ipt_side(
        golden_text("services", "setup.iptables"),
        mutate(
            golden_text("services", "setup.ip6tables"),
            "-A NETC_INP -i virbr0 -p ipv6-icmp -j ACCEPT\n",
            "-A NETC_INP -i virbr0 -s fd00:122::/64 -p ipv6-icmp -j ACCEPT\n",
        ),
    )
    for side in (a, b):
        failed = {f.check.split(": ", 1)[1] for f in check_spec(side, networks)}
        assert "guest -> host neighbour solicitation" in failed
        assert "guest -> host router solicitation" in failed
        assert "guest -> host unicast ICMPv6 (neighbour unreachability detection)" not in failed


V4_DHCP_ONLY = """\
network a {
    bridge virbr5
    forward nat
    ip 192.168.5.1/24 {
        dhcp 192.168.5.2 - 192.168.5.254
    }
    ip fd00:5::1/64
    services { }
}
"""


@pytest.mark.parametrize("dhcp6", [False, True])
def test_dhcpv6_row_only_where_a_v6_range_is_served(dhcp6, tmp_path):
    """A v4-only DHCP range serves no DHCPv6: a closed host rejects it, and must."""
    from netc.pipeline import compile_files
    from netc.verification import compiled_rulesets

    source = V4_DHCP_ONLY
    if dhcp6:
        source = source.replace(
            "ip fd00:5::1/64", "ip fd00:5::1/64 {\n        dhcp fd00:5::100 - fd00:5::1ff\n    }"
        )
    net = tmp_path / "a.net"
    net.write_text(source)
    networks = _networks(net)
    assert any("DHCPv6" in c for c in _checks(networks)) == dhcp6
    for side in compiled_rulesets(compile_files([str(net)])):
        assert check_spec(side, networks) == []
        assert check_spec(side, networks, br_netfilter=False) == []
