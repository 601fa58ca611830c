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
exist; a port added later needs it too (libvirt does this itself for `<port isolated='yes'/>`
in the network XML, so the libvirt integration should emit that for `isolate guests`).
pyroute2 is imported inside the functions: `netc compile` never pays for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from netc.ir.model import Network


def bridges_to_isolate(networks: Sequence[Network]) -> list[str]:
    """The bridges whose ports must be isolated: networks with `isolate guests`."""
    return [net.bridge for net in networks if net.isolate_guests]


def set_ports_isolated(netns: str | None, bridge: str, isolated: bool = True) -> list[str]:
    """Set (or clear) the `isolated` flag on every current port of `bridge`; returns the ports.

    A missing bridge is not an error (nothing is attached yet): the empty list comes back.
    """
    from pyroute2 import IPRoute

    flag = 1 if isolated else 0
    done: list[str] = []
    with IPRoute(netns=netns) if netns else IPRoute() as ipr:
        found = ipr.link_lookup(ifname=bridge)
        if not found:
            return done
        for link in ipr.get_links():
            if link.get_attr("IFLA_MASTER") != found[0]:
                continue
            # Equivalent of `ip link set PORT type bridge_slave isolated on`.
            slave = {"attrs": [("IFLA_BRPORT_ISOLATED", flag)]}
            info = {"attrs": [("IFLA_INFO_SLAVE_KIND", "bridge"), ("IFLA_INFO_SLAVE_DATA", slave)]}
            ipr.link("set", index=link["index"], IFLA_LINKINFO=info)
            done.append(link.get_attr("IFLA_IFNAME"))
    return sorted(done)


def ports_isolated(netns: str | None, bridge: str) -> dict[str, bool]:
    """Each current port of `bridge` and whether its `isolated` flag is set (for checks/tests)."""
    from pyroute2 import IPRoute

    out: dict[str, bool] = {}
    with IPRoute(netns=netns) if netns else IPRoute() as ipr:
        found = ipr.link_lookup(ifname=bridge)
        if not found:
            return out
        for link in ipr.get_links():
            if link.get_attr("IFLA_MASTER") != found[0]:
                continue
            data = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_SLAVE_DATA")
            flag = data.get_attr("IFLA_BRPORT_ISOLATED") if data is not None else None
            out[link.get_attr("IFLA_IFNAME")] = bool(flag)
    return out
