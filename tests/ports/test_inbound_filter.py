"""`allow from` / `deny from` (filters for traffic from the outside to guests), from text to
intents and to the verdicts of the shipped golden `filter-inbound` on each backend's model.

The kernel behaviour is in test_inbound_filter_kernel.py.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest

from netc.pipeline import compile_files, compile_sources, emit
from netc.diagnostics import NetcError
from netc.emitters.base import Slot, slot
from netc.ir import (
    FilterAction,
    ForwardAllowDnat,
    ForwardAllowIn,
    ForwardCross,
    ForwardFilterIn,
    ForwardReject,
    PortRange,
    Proto,
    Verdict,
)

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "filter-inbound"


def compiled(body: str, mode: str = "route", extra_ip: str = ""):
    text = f"""
network default {{
    bridge virbr0
    forward {mode}
    ip 192.168.122.1/24 {{ dhcp 192.168.122.2 - 192.168.122.254 }}
    ip 192.168.123.1/24
    ip 2001:db8:ca2:2::1/64
    {extra_ip}
    {body}
}}
"""
    return compile_sources([("t.net", text)])


def errors(body: str, mode: str = "route") -> list[str]:
    with pytest.raises(NetcError) as err:
        compiled(body, mode)
    return [f"{d.message} | {d.hint}" for d in err.value.diagnostics]


def test_the_model_keeps_what_was_written_in_order() -> None:
    net = compiled("""
        allow from 203.0.113.0/24 tcp 22
        deny from 198.51.100.7 udp 5000 - 5010 to 192.168.123.0/28
        deny from ::/0
        """).program.networks[0]
    got = [(f.action, str(f.source), f.guests, f.proto, f.ports) for f in net.inbound_filters]
    assert got == [
        (FilterAction.ALLOW, "203.0.113.0/24", None, Proto.TCP, PortRange(22, 22)),
        (
            FilterAction.DENY,
            "198.51.100.7/32",
            ipaddress.ip_network("192.168.123.0/28"),
            Proto.UDP,
            PortRange(5000, 5010),
        ),
        (FilterAction.DENY, "::/0", None, None, None),
    ]
    assert net.filters == ()  # the outbound filters are a list of their own


def test_without_inbound_filters_nothing_changes() -> None:
    assert compiled("").program.networks[0].inbound_filters == ()


def test_from_is_a_keyword_but_still_a_network_name() -> None:
    text = "network from { bridge virbr0 forward nat ip 192.168.122.1/24 }"
    assert compile_sources([("t.net", text)]).program.networks[0].name == "from"


def _forward_in(found) -> list[type]:
    """The intents of the forward chain towards the guests, in evaluation order."""
    kinds = (Slot.DNAT_ACCEPT, Slot.CROSS, Slot.TO_GUESTS)
    return [type(i) for i in found if slot(i) in kinds]


def test_first_on_the_way_to_the_guests_before_the_forward_accepts() -> None:
    found = compiled(
        "expose tcp 8022 to 192.168.122.10 port 22\n"
        "deny from 198.51.100.0/24\nallow from 2001:db8:ffff::/48 tcp 22",
        mode="nat",
    ).intents
    order = _forward_in(found)
    # the filters (the IPv4 deny for each of the two IPv4 subnets, the IPv6 allow for the routed
    # IPv6 subnet), the forward's DNAT accept, guest <-> guest per family, then the mode's
    # allow-in per subnet and the rejects
    assert order == (
        [ForwardFilterIn] * 3
        + [ForwardAllowDnat]
        + [ForwardCross] * 2
        + [ForwardAllowIn] * 3
        + [ForwardReject] * 2
    )
    assert {slot(i) for i in found if isinstance(i, ForwardFilterIn)} == {Slot.DNAT_ACCEPT}


def test_allow_from_on_nat_is_refused() -> None:
    found = errors("allow from 203.0.113.0/24 tcp 22", "nat")
    assert any("masqueraded" in e and "'expose'" in e for e in found), found


def test_written_order_per_subnet_and_to_narrows_the_destination() -> None:
    found = compiled(
        "deny from 203.0.113.66\nallow from 203.0.113.0/24 tcp 22 to 192.168.123.16/28"
    ).intents
    got = [
        (f.verdict, str(f.source), str(f.destination), f.proto)
        for f in found
        if isinstance(f, ForwardFilterIn)
    ]
    assert got == [
        (Verdict.REJECT, "203.0.113.66/32", "192.168.122.0/24", None),
        (Verdict.REJECT, "203.0.113.66/32", "192.168.123.0/24", None),
        (Verdict.ACCEPT, "203.0.113.0/24", "192.168.123.16/28", Proto.TCP),
    ]


def test_ipv6_allow_on_a_nat_network_routes_ipv6() -> None:
    """Without `ipv6 nat`, a nat network's IPv6 is routed: `allow from` means something."""
    found = compiled("allow from 2001:db8:ffff::/48 tcp 22", "nat").intents
    assert [str(f.destination) for f in found if isinstance(f, ForwardFilterIn)] == [
        "2001:db8:ca2:2::/64"
    ]


@pytest.mark.parametrize(
    ("body", "mode", "message"),
    [
        ("deny from 198.51.100.1/24", "route", "has host bits set | did you mean 198.51.100.0/24?"),
        ("deny from somewhere", "route", "is not an address or prefix"),
        ("deny from 2001:db8::/32", "route", None),  # has an IPv6 subnet: accepted
        ("allow from 203.0.113.0/24", "nat", "masqueraded"),
        ("allow from 2001:db8:ffff::/48", "nat { ipv6 nat }", "its ipv6 guests are masqueraded"),
        ("deny from 2001:db8:ffff::/48", "nat { ipv6 nat }", None),
        ("deny from 203.0.113.0/24", "isolated", "does not forward at all"),
        ("deny from 203.0.113.0/24", "open", "'forward open' gets none"),
        ("deny from 203.0.113.0/24 to 10.0.0.0/24", "route", "is not inside a subnet"),
        ("deny from 203.0.113.0/24 to 2001:db8:ca2:2::/64", "route", "different families"),
        ("deny from 203.0.113.0/24 to 192.168.122.7/24", "route", "has host bits set"),
    ],
)
def test_refusals(body: str, mode: str, message: str | None) -> None:
    if message is None:
        compiled(body, mode)
        return
    found = errors(body, mode)
    assert any(message in e for e in found), found


def test_no_ipv6_subnet_is_refused() -> None:
    text = """
network default {
    bridge virbr0
    forward route
    ip 192.168.122.1/24
    deny from 2001:db8:bad::/48
}
"""
    with pytest.raises(NetcError) as err:
        compile_sources([("t.net", text)])
    assert "has no ipv6 subnet" in err.value.diagnostics[0].message


# -- the verdicts of the shipped golden, on both backends' models -------------------------------

parity = pytest.importorskip("netc.parity", reason="the verifier is not on this branch")
evaluate_mod = pytest.importorskip("netc.parity.evaluate")
model = pytest.importorskip("netc.parity.model")

BACKENDS = {"nft": ("setup.nft",), "iptables": ("setup.iptables", "setup.ip6tables")}
UPLINK = "wan0"
TCP, UDP = 6, 17


def pkt(src, dst, proto, dport, oif="virbr1", ct="new", local=False, iif=UPLINK):
    family = model.Family.IPV6 if ":" in src else model.Family.IPV4
    return evaluate_mod.Packet(
        model.Path.FORWARD,
        family,
        iif,
        oif,
        int(ipaddress.ip_address(src)),
        int(ipaddress.ip_address(dst)),
        proto,
        40000,
        dport,
        ct,
        daddr_local=local,
    )


# (what, packet, accepted?) for golden/filter-inbound
ROWS = [
    ("admin network -> ssh on a stateful routed network", pkt("203.0.113.5", "192.168.100.10", TCP, 22), True),
    ("admin network -> another port: the mode's default", pkt("203.0.113.5", "192.168.100.10", TCP, 23), False),
    ("the denied admin host, first match", pkt("203.0.113.66", "192.168.100.10", TCP, 22), False),
    ("web prefix -> a web guest", pkt("198.51.100.9", "192.168.100.20", TCP, 80), True),
    ("web prefix -> a guest outside 'to'", pkt("198.51.100.9", "192.168.100.10", TCP, 80), False),
    ("any IPv6 source -> udp 5007", pkt("2001:db8:ffff::2", "2001:db8:100::10", UDP, 5007), True),
    ("IPv6 tcp: the mode's default", pkt("2001:db8:ffff::2", "2001:db8:100::10", TCP, 22), False),
    ("reply from an unlisted host: the mode's established accept", pkt("192.0.2.9", "192.168.100.10", TCP, 40000, ct="established"), True),
    ("reply from the denied host: stateless, rejected", pkt("203.0.113.66", "192.168.100.10", TCP, 40000, ct="established"), False),
    ("nat: reply from the denied prefix is rejected", pkt("198.51.100.1", "192.168.122.10", TCP, 40000, "virbr0", "established"), False),
    ("nat: reply from elsewhere passes", pkt("192.0.2.9", "192.168.122.10", TCP, 40000, "virbr0", "established"), True),
    ("nat, routed IPv6: new from elsewhere passes (stateless mode)", pkt("2001:db8:ffff::2", "2001:db8:122::10", TCP, 22, "virbr0"), True),
    ("nat, routed IPv6: tcp from the denied prefix is rejected", pkt("2001:db8:bad::1", "2001:db8:122::10", TCP, 22, "virbr0"), False),
    ("nat, routed IPv6: udp from the denied prefix passes (tcp only)", pkt("2001:db8:bad::1", "2001:db8:122::10", UDP, 53, "virbr0"), True),
    ("nat: the denied prefix cannot use the forwarded port", pkt("198.51.100.1", "203.0.113.1", TCP, 8022, "virbr0", local=True), False),
    ("nat: another prefix can", pkt("192.0.2.9", "203.0.113.1", TCP, 8022, "virbr0", local=True), True),
]  # fmt: skip


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_golden_verdicts(backend: str) -> None:
    ruleset = parity.load_ruleset([GOLDEN / name for name in BACKENDS[backend]])
    failures = []
    for what, packet, want in ROWS:
        got = evaluate_mod.evaluate(ruleset, packet, True).outcome.verdict
        if (got == "accept") != want:
            failures.append(f"{what}: got {got}")
    assert not failures, "\n".join(failures)


def test_the_spec_catches_missing_inbound_filters() -> None:
    """The spec rows `netc verify` checks fail when the filters are not emitted (a mutant)."""
    from netc.verification import spec_from_networks
    from netc.parity.spec import check_spec

    good = compile_files([str(GOLDEN / "input.net")])
    spec = spec_from_networks(good.program.networks)
    kept = tuple(i for i in good.intents if not isinstance(i, ForwardFilterIn))
    mutant = dataclasses.replace(good, intents=kept)
    for result, expect_ok in ((good, True), (mutant, False)):
        ruleset = parity.load_ruleset(emit(result, "nft"))
        failures = check_spec(ruleset, spec)
        assert (not failures) is expect_ok, failures
        if not expect_ok:
            assert all("inbound filter" in f.expected or "filter" in f.check for f in failures)


def test_traffic_in_on_the_bridge_is_never_filtered() -> None:
    """A source prefix covering the guests does not touch guest <-> guest or hairpins."""
    result = compile_sources(
        [
            (
                "t.net",
                """
network default {
    bridge virbr0
    forward route
    ip 192.168.122.1/24
    expose tcp 8022 to 192.168.122.10 port 22
    deny from 0.0.0.0/0
}
""",
            )
        ]
    )
    rows = [
        ("wan -> guest", pkt("192.0.2.9", "192.168.122.10", TCP, 22, "virbr0"), False),
        ("wan -> forwarded port", pkt("192.0.2.9", "203.0.113.1", TCP, 8022, "virbr0", local=True), False),
        ("guest -> guest", pkt("192.168.122.11", "192.168.122.10", TCP, 22, "virbr0", iif="virbr0"), True),
        ("hairpin", pkt("192.168.122.11", "203.0.113.1", TCP, 8022, "virbr0", local=True, iif="virbr0"), True),
    ]  # fmt: skip
    for target in ("nft", "iptables"):
        ruleset = parity.load_ruleset(emit(result, target))
        for what, packet, want in rows:
            got = evaluate_mod.evaluate(ruleset, packet, True).outcome.verdict
            assert (got == "accept") is want, f"{target}: {what}: {got}"
