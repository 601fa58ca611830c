"""Taking over from libvirt's iptables backend: its LIBVIRT_* rules for netc's bridges go.

libvirt keeps every network's iptables rules in shared chains (LIBVIRT_INP/OUT/FWO/FWI/FWX in
filter, LIBVIRT_PRT in nat and mangle) and never deletes the chains, even after switching to
nftables. Rules that name one of netc's bridges (`-i`/`-o`) or come from one of its subnets
(`-s`, the masquerade rules) are deleted; a chain left empty is deleted with the jumps into it;
a chain still serving another libvirt network stays.
"""

from __future__ import annotations

from collections.abc import Sequence

from netc.ir.model import Network

from . import iptables_save
from .backends import IptablesBackend, available
from .run import Host

PREFIX = "LIBVIRT_"


def remove_libvirt_rules(host: Host, networks: Sequence[Network]) -> list[str]:
    """Delete libvirt's rules for these networks; returns one line per object removed."""
    backend = IptablesBackend(host)
    if not available(backend):
        return []
    bridges = {net.bridge for net in networks}
    subnets = {str(subnet.network) for net in networks for subnet in net.subnets}

    def ours(rule: iptables_save.Rule) -> bool:
        return rule.mentions_interface(bridges) or any(s in subnets for s in rule.sources())

    report: list[str] = []
    for tool in ("iptables", "ip6tables"):
        text, removed = iptables_save.removal(
            backend.save(tool), lambda chain: chain.startswith(PREFIX), ours
        )
        if text:
            host.check(
                [f"{tool}-restore", "--noflush"], text, what=f"removing libvirt's {tool} rules"
            )
        report += [f"{tool} {line}" for line in removed]
    return report
