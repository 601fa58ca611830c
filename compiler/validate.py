"""Checks that need every network at once: unique names and bridges, no overlapping subnets."""

from __future__ import annotations

from collections.abc import Sequence

from netc.compiler.port_claims import PortClaims
from netc.diagnostics import Diagnostic, did_you_mean, shown
from netc.ir.model import Network, PortForward
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


# stands for "any value" in the clash index's keys (None is a value there: "not restricted")
_ANY = object()


def port_forward_conflicts(networks: Sequence[Network]) -> list[Diagnostic]:
    """Host ports are the host's, not a network's: no two forwards anywhere may claim one.

    Two forwards clash when one new connection could match both (then only the first would ever
    apply): same family and protocol, overlapping host ports, and host address and incoming
    device each equal or unrestricted on one side. Each forward is reported against the first
    earlier one it clashes with. Claims are indexed by family, protocol, address and device,
    each key's ports in an interval index, so every forward costs the same whatever came before
    (comparing all pairs took minutes for 60,000 forwards). A forward is recorded under its own
    address and device and under "any" of each, so a question about an unrestricted side asks
    the "any" index once instead of every address's.
    """
    problems: list[Diagnostic] = []
    kinds: dict[tuple[object, object], dict[tuple[object, object], PortClaims]] = {}
    claimed: list[tuple[Network, PortForward]] = []
    for net in networks:
        for fwd in net.port_forwards:
            index = kinds.setdefault((fwd.family, fwd.proto), {})
            first, last = fwd.host_ports.first, fwd.host_ports.last
            address, device = fwd.host_address, fwd.in_dev
            addresses = (_ANY,) if address is None else (address, None)
            devices = (_ANY,) if device is None else (device, None)
            hits = []
            for a in addresses:
                for d in devices:
                    claims = index.get((a, d))
                    found = None if claims is None else claims.first_overlap(first, last)
                    if found is not None:
                        hits.append(found)
            if hits:
                other_net, other = claimed[min(hits)]
                where = "" if other_net is net else f" in network '{other_net.name}'"
                problems.append(
                    Diagnostic(
                        f"{fwd.proto.value} port {fwd.host_ports} is already forwarded to "
                        f"{other.target}{where}",
                        fwd.span,
                        f"the first forward is at {other.span}",
                    )
                )
            number = len(claimed)
            claimed.append((net, fwd))
            for key in ((address, device), (address, _ANY), (_ANY, device), (_ANY, _ANY)):
                claims = index.get(key)
                if claims is None:
                    claims = index[key] = PortClaims()
                claims.claim(first, last, number)
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
    sweep instead of comparing every pair. Identical subnets are one block in the sweep (the
    stack then holds at most one block per prefix length, so the sweep stays linear however
    many copies there are); each later copy is reported against its first copy, or against an
    earlier block that overlaps them all.
    """
    declared = [(net, s) for net in networks for s in net.subnets]
    # Addresses as integers (one family per group, so they order the same way): comparing
    # ipaddress objects, and their cached broadcast addresses, cost a Python call each.
    copies: dict[tuple[int, int, int], list[int]] = {}  # (family, start, length) -> declared
    for i, (_, subnet) in enumerate(declared):
        prefix = subnet.network
        key = (prefix.version, int(prefix.network_address), prefix.prefixlen)
        copies.setdefault(key, []).append(i)
    groups: dict[int, list[tuple[int, int, int, int]]] = {}
    for (version, start, length), members in copies.items():
        bits = 32 if version == 4 else 128
        last = start | ((1 << (bits - length)) - 1)  # broadcast
        groups.setdefault(version, []).append((start, length, last, members[0]))
    # for each block (by its first copy): the first copy of the earliest other block it meets
    earliest: dict[int, int] = {}
    for group in groups.values():
        group.sort()
        open_blocks: list[tuple[int, int]] = []  # (last address, first copy)
        for start, _, last, block in group:
            while open_blocks and open_blocks[-1][0] < start:
                open_blocks.pop()
            for _, other in open_blocks:
                earliest[block] = min(earliest.get(block, other), other)
                earliest[other] = min(earliest.get(other, block), block)
            open_blocks.append((last, block))
    found: list[tuple[int, int]] = []  # (later, the first earlier one it overlaps)
    for members in copies.values():
        first_copy, met = members[0], earliest.get(members[0])
        for i in members:
            before = [j for j in (first_copy, met) if j is not None and j < i]
            if before:
                found.append((i, min(before)))
    problems = []
    for i, j in sorted(found):
        (net_a, a), (net_b, b) = declared[i], declared[j]
        where = "on the same bridge" if net_a is net_b else f"network '{net_b.name}'"
        problems.append(
            Diagnostic(
                f"subnet {a.network} overlaps {b.network} ({where})",
                a.span,
                f"{b.network} is declared at {b.span}",
            )
        )
    return problems
