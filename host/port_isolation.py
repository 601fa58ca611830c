"""`isolate guests`: set the bridge ports' `isolated` flag (IFLA_BRPORT_ISOLATED), via netlink.

Why this and not only firewall rules: guest-to-guest traffic on one bridge is *bridged*, and
bridged frames reach the IP hooks (where netc's `inet netc` table and NETC_FWX live) only when
br_netfilter is loaded and `net.bridge.bridge-nf-call-ip{,6}tables` is 1. Distros load
br_netfilter only with docker or k8s, so netc's IP-level isolation reject (ForwardIsolate) is
defence in depth, not the mechanism. The kernel bridge itself refuses to forward between two
ports that are both `isolated` (Linux 4.18+), for every protocol (ARP, IPv6 ND, non-IP), whichever
firewall backend is in use. Guests still reach the host (the bridge device is not a port) and,
through it, the outside and other guests' forwarded ports (hairpin is routed, not bridged).

The flag is per port, and ports come and go with guests: `netc apply` sets it on the ports that
exist and records which ones it changed (`FlaggedPort`, by name *and* ifindex, so a port that was
re-created since, perhaps flagged by libvirt itself, is not cleared by mistake); `netc down`
clears exactly those again. A port added later needs the flag too: `netc status` reports it as
drift and `netc apply` sets it (libvirt does this itself for `<port isolated='yes'/>` in the
network XML, which `netc import` reads as `isolate guests`).
pyroute2 is imported inside the functions: `netc compile` never pays for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from netc.ir.model import Network

from .state import FlaggedPort


def bridges_to_isolate(networks: Sequence[Network]) -> list[str]:
    """The bridges whose ports must be isolated: networks with `isolate guests`."""
    return [net.bridge for net in networks if net.isolate_guests]


@contextmanager
def _ipr(netns: str | None) -> Iterator:
    from pyroute2 import IPRoute

    with IPRoute(netns=netns) if netns else IPRoute() as ipr:
        yield ipr


ISOLATED = "IFLA_BRPORT_ISOLATED"
HAIRPIN = "IFLA_BRPORT_MODE"  # hairpin_mode: the bridge may send a frame back out of its port


def _ports(ipr, bridge: str, attr: str = ISOLATED) -> list[tuple[str, int, bool]]:
    """(name, ifindex, flag) of each current port of `bridge`; none when it is missing."""
    found = ipr.link_lookup(ifname=bridge)
    if not found:
        return []
    out = []
    for link in ipr.get_links():
        if link.get_attr("IFLA_MASTER") != found[0]:
            continue
        data = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_SLAVE_DATA")
        flag = data.get_attr(attr) if data is not None else None
        out.append((link.get_attr("IFLA_IFNAME"), link["index"], bool(flag)))
    return sorted(out)


def _set(ipr, index: int, isolated: bool, attr: str = ISOLATED) -> None:
    # Equivalent of `ip link set PORT type bridge_slave isolated|hairpin on|off`.
    slave = {"attrs": [(attr, 1 if isolated else 0)]}
    info = {"attrs": [("IFLA_INFO_SLAVE_KIND", "bridge"), ("IFLA_INFO_SLAVE_DATA", slave)]}
    ipr.link("set", index=index, IFLA_LINKINFO=info)


def set_ports_isolated(netns: str | None, bridge: str, isolated: bool = True) -> list[str]:
    """Set (or clear) the `isolated` flag on every current port of `bridge`; returns the ports.

    A missing bridge is not an error (nothing is attached yet): the empty list comes back.
    """
    with _ipr(netns) as ipr:
        ports = _ports(ipr, bridge)
        for _, index, _ in ports:
            _set(ipr, index, isolated)
    return [name for name, _, _ in ports]


def ports_isolated(netns: str | None, bridge: str, attr: str = ISOLATED) -> dict[str, bool]:
    """Each current port of `bridge` and whether its flag is set (for checks/tests)."""
    with _ipr(netns) as ipr:
        return {name: flag for name, _, flag in _ports(ipr, bridge, attr)}


def isolate_ports(netns: str | None, bridge: str, attr: str = ISOLATED) -> tuple[FlaggedPort, ...]:
    """Set the flag on the ports of `bridge` that lack it; returns those (what down undoes).

    Ports already isolated (by libvirt, by an admin, by an earlier apply) are left alone and not
    returned. If setting one fails, the ones set by this call are cleared again before raising.
    """
    done: list[FlaggedPort] = []
    with _ipr(netns) as ipr:
        try:
            for name, index, flag in _ports(ipr, bridge, attr):
                if not flag:
                    _set(ipr, index, True, attr)
                    done.append(FlaggedPort(name, index))
        except BaseException:
            _clear(ipr, bridge, done, attr)
            raise
    return tuple(done)


def restore_ports(
    netns: str | None, bridge: str, flagged: Iterable[FlaggedPort], attr: str = ISOLATED
) -> list[str]:
    """Clear the flag netc set on these ports, if they are still the same ports of `bridge`.

    A port that went away, moved to another bridge, or was re-created under the same name (its
    ifindex differs) is not netc's to change any more. Returns the names cleared.
    """
    with _ipr(netns) as ipr:
        return _clear(ipr, bridge, flagged, attr)


def _clear(ipr, bridge: str, flagged: Iterable[FlaggedPort], attr: str = ISOLATED) -> list[str]:
    wanted = {(port.name, port.index) for port in flagged}
    cleared = []
    for name, index, flag in _ports(ipr, bridge, attr):
        if (name, index) in wanted and flag:
            _set(ipr, index, False, attr)
            cleared.append(name)
    return cleared


def still_flagged(
    netns: str | None, bridge: str, flagged: Iterable[FlaggedPort]
) -> tuple[FlaggedPort, ...]:
    """The recorded ports that are still the same ports of `bridge` (others are forgotten)."""
    with _ipr(netns) as ipr:
        present = {(name, index) for name, index, _ in _ports(ipr, bridge)}
    return tuple(port for port in flagged if (port.name, port.index) in present)


def unisolated_ports(netns: str | None, bridge: str) -> list[str]:
    """The ports of `bridge` without the flag: guests on them reach the other guests."""
    with _ipr(netns) as ipr:
        return [name for name, _, flag in _ports(ipr, bridge) if not flag]
