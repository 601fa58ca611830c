"""Bridges and their addresses, through netlink (pyroute2), never by running `ip`.

Each network gets its bridge: created when missing, given the network's gateway addresses and
brought up. What netc did is returned as a `NetworkState`, so `down` can undo exactly that and
leave a pre-existing bridge (and any address someone else put on it) in place. pyroute2 is
imported inside the functions: `netc compile` never pays for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from netc.diagnostics import Diagnostic, NetcError
from netc.ir.model import IPInterface, Network

from .state import NetworkState


@dataclass(frozen=True, slots=True)
class LinkInfo:
    name: str
    kind: str | None  # "bridge", "veth", ... (None for a device without link info, e.g. lo)
    up: bool
    addresses: tuple[str, ...]  # "192.168.122.1/24", link-local included


@contextmanager
def _ipr(netns: str | None):
    from pyroute2 import IPRoute

    with IPRoute(netns=netns) if netns else IPRoute() as ipr:
        yield ipr


def _index(ipr, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def inspect(netns: str | None, names: Iterable[str]) -> dict[str, LinkInfo]:
    """The named links that exist, with kind, admin state and addresses."""
    out: dict[str, LinkInfo] = {}
    with _ipr(netns) as ipr:
        for name in names:
            index = _index(ipr, name)
            if index is None:
                continue
            link = ipr.link("get", index=index)[0]
            addrs = tuple(
                f"{a.get('address')}/{a['prefixlen']}" for a in ipr.addr("dump", index=index)
            )
            up = bool(link["flags"] & 1)  # IFF_UP: admin state, not carrier
            out[name] = LinkInfo(name, link.get(("linkinfo", "kind")), up, addrs)
    return out


def check_bridges(netns: str | None, networks: Sequence[Network]) -> dict[str, LinkInfo]:
    """Refuse, before anything changes, a bridge name that another kind of link already uses."""
    found = inspect(netns, [net.bridge for net in networks])
    problems = [
        Diagnostic(
            f"network '{net.name}': '{net.bridge}' exists and is a "
            f"{found[net.bridge].kind or 'non-bridge'} link, not a bridge",
            net.span,
            "rename the link or choose another bridge name; netc changed nothing",
        )
        for net in networks
        if net.bridge in found and found[net.bridge].kind != "bridge"
    ]
    if problems:
        raise NetcError(problems)
    return found


def _gateways(net: Network) -> list[IPInterface]:
    return [subnet.gateway for subnet in net.subnets]


def fixed_mac(network: str, bridge: str) -> str:
    """The MAC address netc gives a bridge it creates: the same for a network and bridge name on
    every apply, re-apply and `restore --bridges` after a reboot.

    A bridge without a MAC of its own takes the lowest MAC among its ports, so a guest starting
    or stopping moves it and every other guest's ARP entry for the gateway goes stale (DHCP, DNS
    and routing through the gateway fail until it expires). A MAC set explicitly (libvirt sets
    the network's `<mac>` when it creates the bridge) is kept by the kernel whatever the ports.
    02: (locally administered, unicast) with 40 bits of hash stays out of 52:54:00, the block
    libvirt and qemu draw guest MACs from with 24 random bits, so a bridge never shares a MAC
    with a guest on it.
    """
    digest = hashlib.sha256(f"netc bridge\0{network}\0{bridge}".encode()).digest()
    return ":".join(f"{byte:02x}" for byte in (0x02, *digest[:5]))


def bring_up(
    netns: str | None,
    net: Network,
    file: str,
    before: LinkInfo | None,
    previous: NetworkState | None,
) -> NetworkState:
    """Create (if missing, with `fixed_mac`), address and raise one network's bridge; returns
    what netc owns now. A bridge that was there keeps its MAC: it is not netc's to change.

    `previous` is what an earlier apply recorded: a bridge netc created stays netc's, and an
    address netc added and the file no longer declares is taken away again.
    """
    from pyroute2.netlink.rtnl.ifaddrmsg import IFA_F_NODAD

    wanted = [str(gw) for gw in _gateways(net)]
    was_up = previous.was_up if previous else bool(before and before.up)
    present = set(before.addresses) if before else set()
    owned_before = set(previous.addresses) if previous else set()
    with _ipr(netns) as ipr:
        if before is None:
            ipr.link(
                "add",
                ifname=net.bridge,
                kind="bridge",
                br_stp_state=0,
                address=fixed_mac(net.name, net.bridge),
            )
        index = _index(ipr, net.bridge)
        assert index is not None  # it exists: checked before, or created just now
        if before is None:
            created = True
        elif previous is not None and previous.index in (0, index):
            created = previous.created
        else:  # there before netc, or a new bridge under the name of one netc made
            created = False
            owned_before = set()
        for stale in sorted(owned_before - set(wanted)):
            if stale in present:
                address, prefix = stale.split("/")
                ipr.addr("del", index=index, address=address, prefixlen=int(prefix))
        owned: list[str] = []
        for gw in _gateways(net):
            text = str(gw)
            if text in owned_before or text not in present:
                owned.append(text)
            if text in present:
                continue
            extra = {"flags": IFA_F_NODAD} if gw.version == 6 else {}
            ipr.addr(
                "add", index=index, address=str(gw.ip), prefixlen=gw.network.prefixlen, **extra
            )
        ipr.link("set", index=index, state="up")
    return NetworkState(net.name, net.bridge, file, created, tuple(owned), was_up, index=index)


def intended(
    net: Network, file: str, before: LinkInfo | None, previous: NetworkState | None
) -> NetworkState:
    """What `bring_up` will own, recorded before it runs: a run killed half-way (SIGKILL, a
    power cut) then leaves no bridge or address that `netc down` does not know of. A bridge
    that is missing now is netc's; its ifindex is not known yet (0)."""
    if previous is not None and previous.bridge == net.bridge:
        return previous
    present = set(before.addresses) if before else set()
    adds = tuple(str(gw) for gw in _gateways(net) if str(gw) not in present)
    return NetworkState(
        net.name, net.bridge, file, before is None, adds, bool(before and before.up)
    )


def take_down(netns: str | None, owned: NetworkState) -> str | None:
    """Undo what `bring_up` did: delete a bridge netc created, else only netc's addresses.

    The ports' `isolated` flags netc set go back first, also on a bridge netc deletes (its
    ports then leave the bridge anyway, but nothing should depend on that order). A bridge that
    only has the name of netc's (another ifindex: netc's was deleted and someone made a new one)
    is not touched; the returned note says so.
    """
    from .port_isolation import HAIRPIN, restore_ports

    with _ipr(netns) as ipr:
        index = _index(ipr, owned.bridge)
        if index is None:
            return None
        if owned.index and index != owned.index:
            return (
                f"bridge {owned.bridge} is not the one netc set up (ifindex {index}, "
                f"netc's was {owned.index}): left as it is"
            )
    restore_ports(netns, owned.bridge, owned.flagged)
    restore_ports(netns, owned.bridge, owned.hairpinned, HAIRPIN)
    with _ipr(netns) as ipr:
        if owned.created:
            ipr.link("del", index=index)
            return None
        current = {f"{a.get('address')}/{a['prefixlen']}" for a in ipr.addr("dump", index=index)}
        for text in owned.addresses:
            if text in current:
                address, prefix = text.split("/")
                ipr.addr("del", index=index, address=address, prefixlen=int(prefix))
        if not owned.was_up:
            ipr.link("set", index=index, state="down")
    return None
