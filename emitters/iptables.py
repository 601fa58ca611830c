"""`iptables-restore` / `ip6tables-restore` text, meant for `--noflush`.

netc owns the chains NETC_INP, NETC_OUT, NETC_FWX, NETC_FWI, NETC_FWO (filter) and NETC_PRT
(nat), like libvirt's LIBVIRT_* chains. Declaring a user chain (`:NETC_FWI - [0:0]`) in a
`--noflush` restore creates it or flushes it, so re-loading refills netc's chains atomically per
table without touching any other rule. Only the jumps from the built-in chains would be duplicated
by a second load: `setup(..., jumps=False)` leaves them out, which is what `netc apply` does when
they are already in place. Rules are printed in iptables-save's canonical spelling, so a listing
from the kernel reads like the text that was loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

from netc.ir.intents import (
    ForwardAllowIn,
    ForwardAllowOut,
    ForwardCross,
    ForwardReject,
    HostAccept,
    Intent,
    NatExclude,
    NatTranslate,
)
from netc.ir.model import AddressRange, Family

from .base import Slot, slot

# (table, chain, built-in parent) in the order the jumps sit at the top of each parent.
CHAINS = (
    ("filter", "NETC_INP", "INPUT"),
    ("filter", "NETC_OUT", "OUTPUT"),
    ("filter", "NETC_FWX", "FORWARD"),
    ("filter", "NETC_FWI", "FORWARD"),
    ("filter", "NETC_FWO", "FORWARD"),
    ("nat", "NETC_PRT", "POSTROUTING"),
)
_SLOT_CHAIN = {
    Slot.CROSS: "NETC_FWX",
    Slot.TO_GUESTS: "NETC_FWI",
    Slot.FROM_GUESTS: "NETC_FWO",
    Slot.HOST_IN: "NETC_INP",
    Slot.HOST_OUT: "NETC_OUT",
    Slot.SOURCE_NAT: "NETC_PRT",
}
_REJECT = {Family.IPV4: "icmp-port-unreachable", Family.IPV6: "icmp6-port-unreachable"}


class IptablesEmitter:
    def __init__(self, family: Family):
        self.family = family
        self.name = "iptables" if family is Family.IPV4 else "ip6tables"
        self.loader = f"{self.name}-restore --noflush FILE"

    def setup(self, intents: Sequence[Intent], jumps: bool = True) -> str:
        if not intents:  # only `open` networks: netc enforces nothing and creates no chains
            return ""
        rules: dict[str, list[str]] = {chain: [] for _, chain, _ in CHAINS}
        for intent in intents:
            if intent.family is self.family:
                chain = _SLOT_CHAIN[slot(intent)]
                rules[chain].append(f"-A {chain} {_rule(intent)}")
        out: list[str] = []
        for table in ("filter", "nat"):
            mine = [(chain, parent) for t, chain, parent in CHAINS if t == table]
            out.append(f"*{table}")
            out += [f":{chain} - [0:0]" for chain, _ in mine]
            if jumps:
                position: dict[str, int] = {}
                for chain, parent in mine:
                    position[parent] = position.get(parent, 0) + 1
                    out.append(f"-I {parent} {position[parent]} -j {chain}")
            for chain, _ in mine:
                out += rules[chain]
            out.append("COMMIT")
        return "\n".join(out) + "\n"

    def teardown(self) -> str:
        out: list[str] = []
        for table in ("filter", "nat"):
            mine = [(chain, parent) for t, chain, parent in CHAINS if t == table]
            out.append(f"*{table}")
            out += [f"-D {parent} -j {chain}" for chain, parent in mine]
            out += [f"-F {chain}" for chain, _ in mine]
            out += [f"-X {chain}" for chain, _ in mine]
            out.append("COMMIT")
        return "\n".join(out) + "\n"


def _rule(intent: Intent) -> str:
    match intent:
        case ForwardCross():
            return f"-i {intent.bridge} -o {intent.bridge} -j ACCEPT"
        case ForwardAllowIn():
            dev = f" -i {intent.in_dev}" if intent.in_dev else ""
            state = " -m conntrack --ctstate RELATED,ESTABLISHED" if intent.established_only else ""
            return f"-d {intent.subnet}{dev} -o {intent.bridge}{state} -j ACCEPT"
        case ForwardAllowOut():
            dev = f" -o {intent.out_dev}" if intent.out_dev else ""
            return f"-s {intent.subnet} -i {intent.bridge}{dev} -j ACCEPT"
        case ForwardReject():
            side = "-o" if slot(intent) is Slot.TO_GUESTS else "-i"
            return f"{side} {intent.bridge} -j REJECT --reject-with {_REJECT[intent.family]}"
        case HostAccept():
            side = "-i" if slot(intent) is Slot.HOST_IN else "-o"
            proto = intent.proto.value
            return f"{side} {intent.bridge} -p {proto} -m {proto} --dport {intent.port} -j ACCEPT"
        case NatExclude():
            dev = f" -o {intent.out_dev}" if intent.out_dev else ""
            return f"-s {intent.subnet} -d {intent.destination}{dev} -j RETURN"
        case NatTranslate():
            dev = f" -o {intent.out_dev}" if intent.out_dev else ""
            proto = f" -p {intent.proto.value}" if intent.proto else ""
            head = f"-s {intent.subnet} ! -d {intent.subnet}{dev}{proto}"
            ports = f"{intent.ports.first}-{intent.ports.last}" if intent.ports else ""
            if intent.to_addresses is None:
                return f"{head} -j MASQUERADE" + (f" --to-ports {ports}" if ports else "")
            target = _addresses(intent.to_addresses) + (f":{ports}" if ports else "")
            return f"{head} -j SNAT --to-source {target}"
    raise TypeError(f"iptables cannot print {intent!r}")


def _addresses(rng: AddressRange) -> str:
    if rng.first == rng.last:
        return f"[{rng.first}]" if rng.first.version == 6 else str(rng.first)
    if rng.first.version == 6:
        return f"[{rng.first}]-[{rng.last}]"
    return f"{rng.first}-{rng.last}"
