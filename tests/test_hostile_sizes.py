"""Hostile sizes stay linear without changing what is reported (bench/hostile.py times them).

The port-forward clash check and the subnet overlap sweep use indexes instead of comparing
every pair; these compare both with every pair on random input (wide and narrow port ranges,
host addresses, devices; identical, nested and disjoint subnets), and pin what a hostile input
reports: one diagnostic per offending line, each against the first line it clashes with. A
syntax error late in a file sends only the rest of the file through the recovering driver:
the same diagnostics and tree as the driver on the whole file.
"""

from __future__ import annotations

import ipaddress
import random

import pytest

from netc.compiler.parse import parse_recovering
from netc.compiler.port_claims import PortClaims
from netc.compiler.recover import Recovery
from netc.compiler.validate import _overlaps, port_forward_conflicts
from netc.diagnostics import NetcError
from netc.ir.model import (
    DEFAULT_NAT_PORTS,
    Forward,
    Mode,
    Network,
    PortForward,
    PortRange,
    Proto,
    Subnet,
)
from netc.ir.span import Span
from netc.pipeline import compile_sources


def _random_range(rng: random.Random) -> tuple[int, int]:
    kind = rng.random()
    if kind < 0.4:
        port = rng.randint(0, 65535) if rng.random() < 0.2 else rng.randint(990, 1010)
        return port, port
    if kind < 0.8:
        first = rng.randint(900, 1100)
        return first, first + rng.randint(1, 40)
    first = rng.randint(0, 40000)
    return first, min(65535, first + rng.randint(1000, 40000))


@pytest.mark.parametrize("seed", range(30))
def test_port_claims_find_the_first_overlapping_claim(seed: int) -> None:
    rng = random.Random(seed)
    claims, recorded = PortClaims(), []
    for number in range(rng.randint(1, 120)):
        first, last = _random_range(rng)
        expected = next((n for n, (f, l) in enumerate(recorded) if f <= last and first <= l), None)
        assert claims.first_overlap(first, last) == expected
        claims.claim(first, last, number)
        recorded.append((first, last))
    assert claims.first_overlap(0, 65535) == 0


def _forward(rng: random.Random, line: int) -> PortForward:
    first, last = _random_range(rng)
    target = ipaddress.ip_address(rng.choice(["192.168.122.10", "2001:db8::10"]))
    host = rng.choice([None, None, "203.0.113.1", "203.0.113.2", "2001:db8:1::1"])
    return PortForward(
        rng.choice([Proto.TCP, Proto.TCP, Proto.UDP]),
        PortRange(first, last),
        target,
        PortRange(first, last),
        None if host is None else ipaddress.ip_address(host),
        rng.choice([None, None, "eth0", "eth1"]),
        Span("f.net", line, 1, line, 2),
    )


def _network(name: str, forwards: list[PortForward], line: int) -> Network:
    span = Span("f.net", line, 1, line, 2)
    forward = Forward(Mode.NAT, None, (), DEFAULT_NAT_PORTS, False, False, span)
    return Network(name, f"b{name}", forward, (), True, False, span, tuple(forwards))


def _clash(a: PortForward, b: PortForward) -> bool:
    """The definition: one new connection could match both."""
    return (
        a.family is b.family
        and a.proto is b.proto
        and a.host_ports.first <= b.host_ports.last
        and b.host_ports.first <= a.host_ports.last
        and (a.host_address is None or b.host_address is None or a.host_address == b.host_address)
        and (a.in_dev is None or b.in_dev is None or a.in_dev == b.in_dev)
    )


@pytest.mark.parametrize("seed", range(30))
def test_clash_check_matches_every_pair(seed: int) -> None:
    rng = random.Random(seed)
    networks, line = [], 0
    for n in range(rng.randint(1, 4)):
        forwards = []
        for _ in range(rng.randint(0, 40)):
            line += 1
            forwards.append(_forward(rng, line))
        networks.append(_network(f"n{n}", forwards, line))
    declared = [fwd for net in networks for fwd in net.port_forwards]
    expected = []
    for i, fwd in enumerate(declared):
        other = next((o for o in declared[:i] if _clash(fwd, o)), None)
        if other is not None:
            expected.append((fwd.span, f"the first forward is at {other.span}"))
    found = [(d.span, d.hint) for d in port_forward_conflicts(networks)]
    assert found == expected


def _check(text: str) -> list[str]:
    try:
        compile_sources([("h.net", text)])
    except NetcError as err:
        return [f"{d.span.line}: {d.message}" for d in err.diagnostics]
    return []


def _exposes(lines: list[str]) -> str:
    body = "\n".join(f"  {line}" for line in lines)
    return f"network big {{\n  bridge br0\n  ip 192.168.1.1/24\n  forward nat\n{body}\n}}\n"


def test_wide_forward_after_many_narrow_ones_is_reported_once() -> None:
    narrow = [f"expose tcp {2000 + i} to 192.168.1.10 port 80" for i in range(300)]
    found = _check(_exposes(narrow + ["expose tcp 1000-60000 to 192.168.1.11"]))
    # lines 5.. are the exposes: the wide one (line 305) against the first narrow one
    assert found == ["305: tcp port 1000-60000 is already forwarded to 192.168.1.10"]


def test_narrow_forwards_after_a_wide_one_each_reported_against_it() -> None:
    narrow = [f"expose tcp {2000 + i} to 192.168.1.10 port 80" for i in range(300)]
    found = _check(_exposes(["expose tcp 1000-60000 to 192.168.1.11"] + narrow))
    assert found == [
        f"{6 + i}: tcp port {2000 + i} is already forwarded to 192.168.1.11" for i in range(300)
    ]


def test_many_disjoint_range_forwards_do_not_clash() -> None:
    ranges = [f"expose udp {10 + 3 * i}-{11 + 3 * i} to 192.168.1.10" for i in range(2000)]
    assert _check(_exposes(ranges)) == []


def _subnet_networks(prefixes: list[str]) -> list[Network]:
    out = []
    for i, prefix in enumerate(prefixes):
        span = Span("s.net", i + 1, 1, i + 1, 2)
        subnet = Subnet(ipaddress.ip_interface(prefix), (), (), None, None, None, span)
        forward = Forward(Mode.ROUTE, None, (), DEFAULT_NAT_PORTS, False, False, span)
        out.append(Network(f"n{i}", f"b{i}", forward, (subnet,), True, False, span))
    return out


def test_identical_subnets_each_reported_against_the_first_copy() -> None:
    found = [(d.span.line, d.message) for d in _overlaps(_subnet_networks(["10.1.0.1/24"] * 500))]
    assert found == [
        (line, "subnet 10.1.0.0/24 overlaps 10.1.0.0/24 (network 'n0')") for line in range(2, 501)
    ]


def test_identical_subnets_against_an_earlier_block_containing_them() -> None:
    prefixes = ["10.1.0.1/24", "10.0.0.1/8", "10.1.0.2/24", "10.1.0.3/24", "10.1.0.1/16"]
    found = [d.message.removeprefix("subnet ") for d in _overlaps(_subnet_networks(prefixes))]
    assert found == [
        "10.0.0.0/8 overlaps 10.1.0.0/24 (network 'n0')",
        "10.1.0.0/24 overlaps 10.1.0.0/24 (network 'n0')",
        "10.1.0.0/24 overlaps 10.1.0.0/24 (network 'n0')",
        "10.1.0.0/16 overlaps 10.1.0.0/24 (network 'n0')",
    ]
    # the container first: every later block is reported against it
    prefixes = ["10.0.0.1/8", "10.1.0.1/24", "10.1.0.2/24", "10.2.0.1/24", "10.2.0.2/24"]
    found = [d.message.removeprefix("subnet ") for d in _overlaps(_subnet_networks(prefixes))]
    assert found == [f"{p} overlaps 10.0.0.0/8 (network 'n0')" for p in ("10.1.0.0/24",) * 2] + [
        f"{p} overlaps 10.0.0.0/8 (network 'n0')" for p in ("10.2.0.0/24",) * 2
    ]


def test_identical_subnets_through_the_compiler() -> None:
    text = "".join(f"network n{i} {{ bridge br{i} ip 10.9.0.1/24 }}\n" for i in range(400))
    found = _check(text)
    assert found == [
        f"{i + 1}: subnet 10.9.0.0/24 overlaps 10.9.0.0/24 (network 'n0')" for i in range(1, 400)
    ]


def _valid_networks(count: int) -> str:
    return "".join(
        f"network n{i} {{\n  bridge b{i}  # {{ not a brace\n  ip 10.1.{i}.1/24\n"
        f'  forward nat {{ dev "e{i}" }}\n}}\n'
        for i in range(count)
    )


@pytest.mark.parametrize(
    "tail",
    [
        "network bad {\n  bridge zz\n  ip 10.255.255.1/24 garbage\n}\n",
        "network bad {\n  bridge zz;\n}\nnetwork ok { bridge ok ip 10.9.9.1/24 }\n",
        "network bad {\n  bridge zz\n",
        'network bad {\n  bridge "zz\n}\n',
    ],
)
def test_late_syntax_error_reads_as_the_whole_file_would(tail: str) -> None:
    text = _valid_networks(200) + tail
    tree, problems = parse_recovering(text, "late.net")
    whole_tree, whole_problems = Recovery(text, "late.net").run()
    assert problems == whole_problems and problems
    assert problems[0].span.line > 1000
    assert tree.pretty() == whole_tree.pretty()
    assert len(tree.children) >= 200


def test_unreadable_characters_far_apart_are_each_reported_where_they_are() -> None:
    text = "network a { bridge x; }\n" + _valid_networks(300) + "network z { bridge y; }\n"
    _, problems = parse_recovering(text, "far.net")
    lines = text.split("\n")
    assert [(p.span.line, p.span.column) for p in problems] == [
        (1, 21),
        (len(lines) - 1, lines[-2].index(";") + 1),
    ]
    assert all(p.message == "unexpected ';'" for p in problems)
