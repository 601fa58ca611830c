"""Synthetic inputs for the benchmark: N dual-stack networks that a real host could carry.

Network i is `net<i>` on bridge `nb<i>`, with the IPv4 /24 10.<i//256>.<i%256>.0/24 (from
10.0.0.0/8, so up to 65,536 networks) and the IPv6 /64 2001:db8:<i//65536>:<i%65536>::/64 (from
the documentation prefix 2001:db8::/32). Even networks are NAT, odd ones routed, and every
network serves DHCP on IPv4, so each one produces the host-service rules as well.
"""

from __future__ import annotations

import sys

MAX_NETWORKS = 65536


def network(i: int) -> str:
    """The text of network number `i`."""
    if not 0 <= i < MAX_NETWORKS:
        raise ValueError(f"network index {i} is outside 0..{MAX_NETWORKS - 1}")
    a, b = divmod(i, 256)
    hi, lo = divmod(i, 65536)
    mode = "nat" if i % 2 == 0 else "route"
    return (
        f"network net{i} {{\n"
        f"    bridge nb{i}\n"
        f"    forward {mode}\n"
        f"    ip 10.{a}.{b}.1/24 {{\n"
        f"        dhcp 10.{a}.{b}.2 - 10.{a}.{b}.254\n"
        f"    }}\n"
        f"    ip 2001:db8:{hi:x}:{lo:x}::1/64\n"
        f"}}\n"
    )


def networks(n: int) -> str:
    """A `.net` file with networks 0..n-1."""
    return "".join(network(i) for i in range(n))


PEER_SOURCE = "10.0.0.0/16"  # the guests' subnet in netc's version of the peer ruleset
PEER_GATEWAY = "10.0.0.1/16"


def forward_accepts(n: int) -> list[tuple[str, str]]:
    """N (source, destination) IPv4 pairs for the peer comparison's "N forward accepts" ruleset:
    every rule accepts the guests' subnet to its own /32 in 172.16.0.0/12 (distinct, so no tool
    can merge two rules into one)."""
    if not 0 <= n <= 16 * 65536:
        raise ValueError(f"{n} forward accepts do not fit in 172.16.0.0/12")
    return [
        (PEER_SOURCE, f"172.{16 + i // 65536}.{(i // 256) % 256}.{i % 256}/32") for i in range(n)
    ]


if __name__ == "__main__":
    sys.stdout.write(networks(int(sys.argv[1]) if len(sys.argv) > 1 else 1))
