"""Lowering of the statements libvirt lacks: port forwards, guest → host services,
guest filters and guest isolation. `lower._network` calls these at fixed points of a network's
intent order; each function documents where it belongs and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from netc.ir.intents import (
    Dnat,
    ForwardAllowDnat,
    ForwardCrossEstablished,
    ForwardFilter,
    ForwardFilterIn,
    ForwardIsolate,
    HostAccept,
    HostAcceptEstablished,
    HostAcceptIcmp,
    HostAllow,
    HostPath,
    HostReject,
    Intent,
    NatHairpin,
    NatHook,
    Verdict,
)
from netc.ir.model import Family, FilterAction, Mode, Network

_VERDICT = {FilterAction.ALLOW: Verdict.ACCEPT, FilterAction.DENY: Verdict.REJECT}


def dnat_accepts(net: Network) -> Iterator[Intent]:
    """Forward accepts for translated connections: first in the forward path, so neither the
    network's rejects nor guest isolation stop a connection netc itself redirected."""
    for fwd in net.port_forwards:
        yield ForwardAllowDnat(
            fwd.family, net.name, net.bridge, fwd.proto, fwd.target, fwd.target_ports, fwd.span
        )


def isolation(net: Network, fam: Family) -> Iterator[Intent]:
    """Guest ↔ guest on the bridge: replies of allowed (hairpinned) connections, then reject."""
    yield ForwardCrossEstablished(fam, net.name, net.bridge, net.span)
    yield ForwardIsolate(fam, net.name, net.bridge, net.span)


def filters(net: Network) -> Iterator[Intent]:
    """`allow`/`deny`, in the order written, for every subnet of the destination's family."""
    subnets_of = {family: net.subnets_of(family) for family in Family}  # not once per rule
    for rule in net.filters:
        for subnet in subnets_of[rule.family]:
            yield ForwardFilter(
                rule.family,
                net.name,
                net.bridge,
                subnet.network,
                rule.destination,
                rule.proto,
                rule.ports,
                _VERDICT[rule.action],
                rule.span,
            )


def inbound_filters(net: Network) -> Iterator[Intent]:
    """`allow from`/`deny from`, in the order written, for every subnet of the source's family
    (or only the `to` prefix, inside its subnet). First in the forward path to the guests, as
    `filters` is first on the way out: before the DNAT accepts, so `deny from` also keeps a prefix
    off the forwarded ports (the emitters exclude traffic in on the bridge, see ForwardFilterIn).
    """
    for rule in net.inbound_filters:
        if rule.guests is not None:
            destinations = [rule.guests]
        else:
            destinations = [s.network for s in net.subnets_of(rule.family)]
        for destination in destinations:
            yield ForwardFilterIn(
                rule.family,
                net.name,
                net.bridge,
                rule.source,
                destination,
                rule.proto,
                rule.ports,
                _VERDICT[rule.action],
                rule.span,
            )


def host_guard(net: Network, fams: Sequence[Family], implied: Iterable[Intent]) -> Iterator[Intent]:
    """With `services { }` the host is closed to guests except for: replies to connections the
    host opened, ICMP (IPv6 neighbour discovery and router solicitations are ICMPv6), what the
    network serves (`implied`, the HostAccepts already emitted), the listed services; then reject.
    """
    if net.services is None:
        return
    served = {
        (i.family, i.proto, i.port)
        for i in implied
        if isinstance(i, HostAccept) and i.path is HostPath.GUEST_TO_HOST
    }
    for fam in fams:
        yield HostAcceptEstablished(fam, net.name, net.bridge, net.services.span)
        yield HostAcceptIcmp(fam, net.name, net.bridge, net.services.span)
        for svc in net.services.services:
            single = svc.ports.first == svc.ports.last
            if fam not in svc.families or (single and (fam, svc.proto, svc.ports.first) in served):
                continue
            name = svc.name or f"{svc.proto.value}/{svc.ports}"
            yield HostAllow(fam, net.name, net.bridge, svc.proto, svc.ports, name, svc.span)
        yield HostReject(fam, net.name, net.bridge, net.services.span)


def port_forwards(net: Network) -> Iterator[Intent]:
    """DNAT where connections arrive (prerouting) and where the host opens them (output; not for
    forwards bound to an ingress device), and the hairpin masquerade for guest clients."""
    for fwd in net.port_forwards:
        to_ports = None if fwd.target_ports == fwd.host_ports else fwd.target_ports
        hooks = [NatHook.PREROUTING] + ([NatHook.OUTPUT] if fwd.in_dev is None else [])
        for hook in hooks:
            yield Dnat(
                fwd.family,
                net.name,
                hook,
                fwd.proto,
                fwd.host_ports,
                fwd.host_address,
                fwd.in_dev,
                fwd.target,
                to_ports,
                fwd.span,
            )
        for subnet in net.subnets_of(fwd.family):
            # In nat mode the masquerade set already rewrites traffic between two subnets.
            if net.forward.mode is Mode.NAT and fwd.target not in subnet.network:
                continue
            yield NatHairpin(
                fwd.family,
                net.name,
                net.bridge,
                subnet.network,
                fwd.proto,
                fwd.target,
                fwd.target_ports,
                fwd.span,
            )
