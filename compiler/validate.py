"""Checks that need every network at once: unique names and bridges, no overlapping subnets."""

from __future__ import annotations

import heapq

from collections.abc import Sequence

from netc.diagnostics import Diagnostic, did_you_mean, shown
from netc.ir.model import Network, PortForward, Subnet
from netc.ir.span import Span


def cross_check(networks: Sequence[Network]) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    by_name: dict[str, Network] = {}
    by_bridge: dict[str, Network] = {}
    for net in networks:
        if net.name in by_name:
            first = by_name[net.name].span
            problems.append(
                Diagnostic(
                    f"network '{net.name}' is declared twice", net.span, f"the first is at {first}"
                )
            )
        by_name.setdefault(net.name, net)
        if net.bridge in by_bridge:
            other = by_bridge[net.bridge]
            problems.append(
                Diagnostic(
                    f"networks '{other.name}' and '{net.name}' both use bridge '{net.bridge}'",
                    net.span,
                    "every network needs a bridge of its own",
                )
            )
        by_bridge.setdefault(net.bridge, net)
    problems += _overlaps(networks)
    for net in networks:
        dev = net.forward.dev
        if dev is not None and dev == net.bridge:
            problems.append(
                Diagnostic(
                    f"network '{net.name}' forwards through its own bridge '{dev}'",
                    net.forward.span,
                    "'dev' names the host's uplink, such as eth0",
                )
            )
        elif dev is not None and dev in by_bridge:
            problems.append(
                Diagnostic(
                    f"network '{net.name}' forwards through '{dev}', which is the bridge of "
                    f"network '{by_bridge[dev].name}'",
                    net.forward.span,
                )
            )
    problems += port_forward_conflicts(networks)
    return problems


def _claims_overlap(a: PortForward, b: PortForward) -> bool:
    """Could one new connection match both forwards? Then only the first would ever apply."""
    return (
        a.family is b.family
        and a.proto is b.proto
        and a.host_ports.first <= b.host_ports.last
        and b.host_ports.first <= a.host_ports.last
        and (a.host_address is None or b.host_address is None or a.host_address == b.host_address)
        and (a.in_dev is None or b.in_dev is None or a.in_dev == b.in_dev)
    )


def port_forward_conflicts(networks: Sequence[Network]) -> list[Diagnostic]:
    """Host ports are the host's, not a network's: no two forwards anywhere may claim one.

    Each forward is reported against the first earlier one it overlaps. Claims are indexed by
    family and protocol, single ports by port number, so 60,000 forwards check in linear time
    (all pairs took minutes); forwards of a port range are compared with each range claimed.
    """
    problems: list[Diagnostic] = []
    singles: dict[tuple[object, object], dict[int, list[int]]] = {}
    ranges: dict[tuple[object, object], list[int]] = {}
    claimed: list[tuple[Network, PortForward]] = []
    for net in networks:
        for fwd in net.port_forwards:
            key = (fwd.family, fwd.proto)
            by_port = singles.setdefault(key, {})
            wide = ranges.setdefault(key, [])
            first, last = fwd.host_ports.first, fwd.host_ports.last
            if last - first < 1024:
                near = [by_port[port] for port in range(first, last + 1) if port in by_port]
            else:
                near = list(by_port.values())
            # each list is in claim order: merged lazily, the first overlap ends the search
            earlier = heapq.merge(*near, wide)
            other_net, other = next(
                (claimed[i] for i in earlier if _claims_overlap(fwd, claimed[i][1])), (None, None)
            )
            if other is not None and other_net is not None:
                where = "" if other_net is net else f" in network '{other_net.name}'"
                problems.append(
                    Diagnostic(
                        f"{fwd.proto.value} port {fwd.host_ports} is already forwarded to "
                        f"{other.target}{where}",
                        fwd.span,
                        f"the first forward is at {other.span}",
                    )
                )
            if first == last:
                by_port.setdefault(first, []).append(len(claimed))
            else:
                wide.append(len(claimed))
            claimed.append((net, fwd))
    return problems


def network_reference_problem(
    name: str, span: Span, networks: Sequence[Network]
) -> Diagnostic | None:
    """A statement that names another network (isolation, filters) must name one that exists;
    the diagnostic offers the closest declared name."""
    known = [net.name for net in networks]
    if name in known:
        return None
    hint = did_you_mean(name, known)
    if hint is None and known:
        hint = "declared networks: " + ", ".join(sorted(known)[:10])
    return Diagnostic(f"no network named '{shown(name)}'", span, hint)


def _overlaps(networks: Sequence[Network]) -> list[Diagnostic]:
    """Each subnet that overlaps an earlier one, reported once, against the first it overlaps
    (every pair would be quadratic output: 2,700 copies of one subnet made 3.6 million errors).

    CIDR blocks overlap only by containment, so after sorting by (start, prefix length) a
    stack of the blocks still open holds exactly the blocks containing the current one: one
    sweep instead of comparing every pair (thousands of networks stay fast).
    """
    declared = [(net, s) for net in networks for s in net.subnets]
    order = {id(s): i for i, (_, s) in enumerate(declared)}
    # Addresses as integers (one family per group, so they order the same way): comparing
    # ipaddress objects, and their cached broadcast addresses, cost a Python call each.
    groups: dict[int, list[tuple[int, int, int, tuple[Network, Subnet]]]] = {}
    for pair in declared:
        prefix = pair[1].network
        start = int(prefix.network_address)
        last = start | ((1 << (prefix.max_prefixlen - prefix.prefixlen)) - 1)  # broadcast
        groups.setdefault(prefix.version, []).append((start, prefix.prefixlen, last, pair))
    pairs = []  # found in any order: sorted below, and no two are the same pair
    for group in groups.values():
        group.sort(key=lambda block: (block[0], block[1]))
        open_blocks: list[tuple[int, tuple[Network, Subnet]]] = []  # (last address, block)
        for start, _, last, pair in group:
            while open_blocks and open_blocks[-1][0] < start:
                open_blocks.pop()
            for _, other in open_blocks:
                earlier, later = sorted([pair, other], key=lambda p: order[id(p[1])])
                pairs.append((later, earlier))
            open_blocks.append((last, pair))
    first: dict[int, tuple[tuple[Network, Subnet], tuple[Network, Subnet]]] = {}
    for later, earlier in pairs:
        known = first.get(id(later[1]))
        if known is None or order[id(earlier[1])] < order[id(known[1][1])]:
            first[id(later[1])] = (later, earlier)
    problems = []
    for (net_a, a), (net_b, b) in sorted(first.values(), key=lambda p: order[id(p[0][1])]):
        where = "on the same bridge" if net_a is net_b else f"network '{net_b.name}'"
        problems.append(
            Diagnostic(
                f"subnet {a.network} overlaps {b.network} ({where})",
                a.span,
                f"{b.network} is declared at {b.span}",
            )
        )
    return problems
