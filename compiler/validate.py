"""Checks that need every network at once: unique names and bridges, no overlapping subnets."""

from __future__ import annotations

from collections.abc import Sequence

from netc.diagnostics import Diagnostic, did_you_mean, shown
from netc.ir.model import Network
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
    subnets = [(net, s) for net in networks for s in net.subnets]
    for i, (net_a, a) in enumerate(subnets):
        for net_b, b in subnets[:i]:
            if a.family is b.family and a.network.overlaps(b.network):
                where = "on the same bridge" if net_a is net_b else f"network '{net_b.name}'"
                problems.append(
                    Diagnostic(
                        f"subnet {a.network} overlaps {b.network} ({where})",
                        a.span,
                        f"{b.network} is declared at {b.span}",
                    )
                )
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
