"""Network model → intents, following libvirt's semantics per forward mode.

The intents come out in evaluation order (libvirt inserts rules at the head of its chains, so its
*generation* order is the reverse of what we list here). Per network:

1. guest ↔ guest on the bridge is accepted (per family in use);
2. per subnet, by mode: the masquerade set (allow out, allow established in, NAT with exclusions)
   or the routing set (allow out, allow in);
3. anything else forwarded from or to the bridge is rejected;
4. the host's own services that guests use (DHCP, DNS, TFTP) are accepted on the bridge.

The statements beyond libvirt (`lower_policy`) slot in around these: inbound filters (`allow
from`) first, then DNAT accepts before the guest ↔ guest rule (which `isolate guests` turns into
a reject), filters (`allow to`) before the allow-out, the `services` guard after the host
accepts, and the port forwards' NAT at the end.

`open` networks get no intents at all, as in libvirt.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence

from netc.ir.intents import (
    Direction,
    ForwardAllowIn,
    ForwardAllowOut,
    ForwardCross,
    ForwardReject,
    HostAccept,
    HostPath,
    Intent,
    NatExclude,
    NatTranslate,
    Proto,
)
from netc.ir.model import Family, Mode, Network, Subnet

from . import lower_policy as policy

# Traffic to these never leaves the host, and rewriting DHCP replies' ports breaks strict clients.
NAT_EXCLUSIONS = {
    Family.IPV4: (ipaddress.ip_network("224.0.0.0/24"), ipaddress.ip_network("255.255.255.255/32")),
    Family.IPV6: (ipaddress.ip_network("ff02::/16"),),
}


def families(net: Network) -> list[Family]:
    """IPv4 is always firewalled; IPv6 when the network has an IPv6 subnet or `ipv6 on`."""
    fams = [Family.IPV4]
    if net.subnets_of(Family.IPV6) or net.ipv6_guests:
        fams.append(Family.IPV6)
    return fams


def lower(networks: Sequence[Network]) -> list[Intent]:
    intents: list[Intent] = []
    for net in networks:
        if net.forward.mode is not Mode.OPEN:
            intents.extend(_network(net))
    return intents


def _network(net: Network) -> Iterator[Intent]:
    fams = families(net)
    yield from policy.inbound_filters(net)  # before the forward accepts; not from the bridge
    yield from policy.dnat_accepts(net)  # before guest isolation, so hairpins pass
    for fam in fams:
        if net.isolate_guests:
            yield from policy.isolation(net, fam)
        else:
            yield ForwardCross(fam, net.name, net.bridge, net.span)
    yield from policy.filters(net)  # before the mode's allow-out
    for subnet in net.subnets:
        yield from _subnet(net, subnet)
    for fam in fams:
        yield ForwardReject(fam, net.name, net.bridge, Direction.TO_GUESTS, net.span)
        yield ForwardReject(fam, net.name, net.bridge, Direction.FROM_GUESTS, net.span)
    yield from _host_services(net)
    yield from policy.host_guard(net, fams, _host_services(net))
    yield from policy.port_forwards(net)


def _subnet(net: Network, subnet: Subnet) -> Iterator[Intent]:
    fwd = net.forward
    fam = subnet.family
    prefix = subnet.network
    span = subnet.span
    if fwd.mode is Mode.ISOLATED:
        return
    yield ForwardAllowOut(fam, net.name, net.bridge, prefix, fwd.dev, span)
    masquerade = fwd.mode is Mode.NAT and (fam is Family.IPV4 or fwd.ipv6_nat)
    stateful = masquerade or fwd.stateful_inbound
    yield ForwardAllowIn(fam, net.name, net.bridge, prefix, fwd.dev, stateful, span)
    if not masquerade:
        return
    for excluded in NAT_EXCLUSIONS[fam]:
        yield NatExclude(fam, net.name, prefix, excluded, fwd.dev, span)
    to = fwd.nat_address_for(fam)
    for proto in (Proto.TCP, Proto.UDP):
        yield NatTranslate(fam, net.name, prefix, fwd.dev, proto, to, fwd.nat_ports, span)
    yield NatTranslate(fam, net.name, prefix, fwd.dev, None, to, None, span)


def _host_services(net: Network) -> Iterator[Intent]:
    """Guest → host services the network actually serves (libvirt adds these on iptables only)."""
    guest_in, guest_out = HostPath.GUEST_TO_HOST, HostPath.HOST_TO_GUEST
    for fam in (Family.IPV4, Family.IPV6):
        subnets = net.subnets_of(fam)
        if not subnets:
            continue
        rules: list[tuple[HostPath, Proto, int, str]] = []
        if any(s.serves_dhcp for s in subnets):
            if fam is Family.IPV4:
                rules += [(guest_in, Proto.UDP, 67, "dhcp"), (guest_out, Proto.UDP, 68, "dhcp")]
            else:
                rules += [
                    (guest_in, Proto.UDP, 547, "dhcpv6"),
                    (guest_out, Proto.UDP, 546, "dhcpv6"),
                ]
        if net.dns:
            rules += [(guest_in, Proto.TCP, 53, "dns"), (guest_in, Proto.UDP, 53, "dns")]
        if any(s.tftp_root for s in subnets):
            rules.append((guest_in, Proto.UDP, 69, "tftp"))
        for path, proto, port, service in rules:
            yield HostAccept(fam, net.name, net.bridge, path, proto, port, service, net.span)
