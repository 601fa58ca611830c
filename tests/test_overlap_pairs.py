"""The indexed overlap check finds exactly the pairs, in exactly the order, of the obvious
double loop it replaced (so diagnostics read the same), on random mixes of v4 and v6 prefixes."""

from __future__ import annotations

import ipaddress
import random

from netc.compiler.validate import overlapping_pairs


def _naive(prefixes):
    return [
        (i, j)
        for i, a in enumerate(prefixes)
        for j, b in enumerate(prefixes[:i])
        if a.version == b.version and a.overlaps(b)
    ]


def _random_prefix(rng: random.Random):
    if rng.random() < 0.5:
        length = rng.choice([8, 16, 23, 24, 25, 30])
        address = ipaddress.IPv4Address(rng.choice([0x0A000000, 0xC0A80000]) + rng.randrange(1024))
        return ipaddress.ip_network(f"{address}/{length}", strict=False)
    length = rng.choice([32, 48, 63, 64, 126])
    address = ipaddress.IPv6Address((0x20010DB8 << 96) + (rng.randrange(64) << 64))
    return ipaddress.ip_network(f"{address}/{length}", strict=False)


def test_overlapping_pairs_match_double_loop() -> None:
    rng = random.Random(7)
    for _ in range(300):
        prefixes = [_random_prefix(rng) for _ in range(rng.randrange(0, 12))]
        assert overlapping_pairs(prefixes) == _naive(prefixes)


def test_equal_prefixes_pair_once() -> None:
    net = ipaddress.ip_network("10.0.0.0/24")
    assert overlapping_pairs([net, net, net]) == [(1, 0), (2, 0), (2, 1)]
