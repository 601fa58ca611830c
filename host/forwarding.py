"""The forwarding sysctls a network needs, and putting them back when netc no longer does.

ip_forward is per network namespace and 0 in a fresh one; a nat or routed network does nothing
without it. netc records the value it found before changing a key, and `down` restores it once
no network netc runs needs it, so a host is left as netc found it.
"""

from __future__ import annotations

from collections.abc import Iterable

from netc.ir.model import Family, Mode, Network

from .run import Host

IPV4 = "net.ipv4.ip_forward"
IPV6 = "net.ipv6.conf.all.forwarding"
_FORWARDING = (Mode.NAT, Mode.ROUTE, Mode.OPEN)


def needed(networks: Iterable[Network]) -> list[str]:
    keys: list[str] = []
    for net in networks:
        if net.forward.mode not in _FORWARDING:
            continue
        if net.subnets_of(Family.IPV4) and IPV4 not in keys:
            keys.append(IPV4)
        if net.subnets_of(Family.IPV6) and IPV6 not in keys:
            keys.append(IPV6)
    return sorted(keys)


def enable(host: Host, keys: Iterable[str], recorded: dict[str, str]) -> dict[str, str]:
    """Set each key to 1; returns the previous values netc must restore (old records kept)."""
    out = dict(recorded)
    for key in keys:
        value = host.read_sysctl(key)
        if value is not None and value != "1":
            out.setdefault(key, value)
            host.write_sysctl(key, "1")
    return out


def restore(host: Host, recorded: dict[str, str], still_needed: Iterable[str]) -> dict[str, str]:
    """Put back the keys no network needs any more; returns the records still pending."""
    keep = set(still_needed)
    pending = {}
    for key, value in recorded.items():
        if key in keep:
            pending[key] = value
        else:
            host.write_sysctl(key, value)
    return pending
