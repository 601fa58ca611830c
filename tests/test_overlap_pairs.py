"""The overlap sweep in `validate._overlaps` must report what comparing every pair finds: each
subnet that overlaps an earlier one, once, against the first it overlaps.

It sorts integer addresses and keeps a stack of open blocks instead of comparing every pair of
subnets; this compares both on random prefixes of both families (nested, equal and disjoint).
"""

from __future__ import annotations

import ipaddress
import random

import pytest

from netc.compiler.validate import _overlaps
from netc.ir.model import DEFAULT_NAT_PORTS, Forward, Mode, Network, Subnet
from netc.ir.span import Span


def _network(i: int, prefixes: list[str]) -> Network:
    span = Span("t.net", i + 1, 1, i + 1, 2)
    subnets = tuple(
        Subnet(
            ipaddress.ip_interface(p), (), (), None, None, None, Span("t.net", i + 1, k + 2, 1, 1)
        )
        for k, p in enumerate(prefixes)
    )
    forward = Forward(Mode.ROUTE, None, (), DEFAULT_NAT_PORTS, False, False, span)
    return Network(f"n{i}", f"b{i}", forward, subnets, True, False, span)


def _every_pair(networks: list[Network]) -> list[str]:
    declared = [(net, s) for net in networks for s in net.subnets]
    out = []
    for j, (net_a, a) in enumerate(declared):
        for net_b, b in declared[:j]:
            if a.network.version == b.network.version and a.network.overlaps(b.network):
                where = "on the same bridge" if net_a is net_b else f"network '{net_b.name}'"
                out.append(
                    (j, declared.index((net_b, b)), f"{a.network} overlaps {b.network} ({where})")
                )
    first: dict[int, tuple[int, int, str]] = {}
    for j, i, message in sorted(out):
        first.setdefault(j, (j, i, message))
    return [message for _, _, message in sorted(first.values())]


def _random_prefix(rng: random.Random) -> str:
    if rng.random() < 0.5:
        length = rng.choice([8, 12, 16, 20, 22, 24, 25, 28, 30])
        base = rng.choice([0x0A000000, 0x0A010000, 0x0A010200, 0xC0A80000])
        address = base + rng.randrange(0, 1 << 12)
        return f"{ipaddress.IPv4Address(address)}/{length}"
    length = rng.choice([16, 32, 48, 56, 64, 96, 120])
    base = 0x20010DB8 << 96
    address = base + (rng.randrange(0, 1 << 20) << 60) + rng.randrange(0, 1 << 8)
    return f"{ipaddress.IPv6Address(address)}/{length}"


@pytest.mark.parametrize("seed", range(40))
def test_sweep_reports_each_overlapping_subnet_once_in_order(seed: int) -> None:
    rng = random.Random(seed)
    networks = [
        _network(i, [_random_prefix(rng) for _ in range(rng.randint(1, 3))])
        for i in range(rng.randint(2, 25))
    ]
    found = [d.message.removeprefix("subnet ") for d in _overlaps(networks)]
    assert found == _every_pair(networks)
