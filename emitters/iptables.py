"""`iptables-restore` / `ip6tables-restore` text, meant for `--noflush`.

netc owns the chains NETC_INP, NETC_OUT, NETC_FWX, NETC_FWI, NETC_FWO (filter) and NETC_PRE,
NETC_LOC, NETC_PRT (nat), like libvirt's LIBVIRT_* chains; all of them are always declared, so
the teardown never depends on the input. Declaring a user chain (`:NETC_FWI - [0:0]`) in a
`--noflush` restore creates it or flushes it, so re-loading refills netc's chains atomically per
table without touching any other rule. Only the jumps from the built-in chains would be duplicated
by a second load: `setup(..., jumps=False)` leaves them out, which is what `netc apply` does when
they are already in place. Rules are printed in iptables-save's canonical spelling, so a listing
from the kernel reads like the text that was loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

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
)
from netc.ir.intents import (  # port forwards, host services, guest filters
    Dnat,
    ForwardAllowDnat,
    ForwardCrossEstablished,
    ForwardFilter,
    ForwardFilterIn,
    ForwardIsolate,
    HostAcceptEstablished,
    HostAcceptIcmp,
    HostAllow,
    HostReject,
    NatHairpin,
    NatHook,
    Verdict,
)
from netc.ir.model import AddressRange, Family, IPAddress, IPNetwork, PortRange, Proto

from .base import Slot, Texts, slot

# (table, chain, built-in parent) in the order the jumps sit at the top of each parent.
CHAINS = (
    ("filter", "NETC_INP", "INPUT"),
    ("filter", "NETC_OUT", "OUTPUT"),
    ("filter", "NETC_FWX", "FORWARD"),
    ("filter", "NETC_FWI", "FORWARD"),
    ("filter", "NETC_FWO", "FORWARD"),
    ("nat", "NETC_PRE", "PREROUTING"),  # port forwards: connections arriving at the host
    ("nat", "NETC_LOC", "OUTPUT"),  # port forwards: connections the host opens (local)
    ("nat", "NETC_PRT", "POSTROUTING"),
)
_SLOT_CHAIN = {
    Slot.CROSS: "NETC_FWX",
    Slot.TO_GUESTS: "NETC_FWI",
    Slot.FROM_GUESTS: "NETC_FWO",
    Slot.HOST_IN: "NETC_INP",
    Slot.HOST_OUT: "NETC_OUT",
    Slot.SOURCE_NAT: "NETC_PRT",
    # NETC_FWX is the first forward chain: DNAT accepts must precede guest isolation's reject.
    Slot.DNAT_ACCEPT: "NETC_FWX",
    Slot.DNAT_PRE: "NETC_PRE",
    Slot.DNAT_OUT: "NETC_LOC",
}
_REJECT = {Family.IPV4: "icmp-port-unreachable", Family.IPV6: "icmp6-port-unreachable"}
_REJECT_RULE = {family: f"-j REJECT --reject-with {how}" for family, how in _REJECT.items()}


class IptablesEmitter:
    def __init__(self, family: Family):
        self.family = family
        self.name = "iptables" if family is Family.IPV4 else "ip6tables"
        self.loader = f"{self.name}-restore --noflush FILE"

    def setup(self, intents: Sequence[Intent], jumps: bool = True) -> str:
        if not intents:  # only `open` networks: netc enforces nothing and creates no chains
            return ""
        rules: dict[str, list[str]] = {chain: [] for _, chain, _ in CHAINS}
        text = Texts()
        family = self.family
        for intent in intents:
            if intent.family is family:
                chain = _SLOT_CHAIN[slot(intent)]
                rules[chain].append(f"-A {chain} {_rule(intent, text)}")
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


def _rule(intent: Intent, text: Texts) -> str:
    """One rule; `text` prints the subnets (shared by many intents) once per ruleset."""
    match intent:
        case ForwardCross():
            return f"-i {intent.bridge} -o {intent.bridge} -j ACCEPT"
        case ForwardAllowIn():
            dev = f" -i {intent.in_dev}" if intent.in_dev else ""
            state = " -m conntrack --ctstate RELATED,ESTABLISHED" if intent.established_only else ""
            return f"-d {text(intent.subnet)}{dev} -o {intent.bridge}{state} -j ACCEPT"
        case ForwardAllowOut():
            dev = f" -o {intent.out_dev}" if intent.out_dev else ""
            return f"-s {text(intent.subnet)} -i {intent.bridge}{dev} -j ACCEPT"
        case ForwardReject():
            # the slot's side: TO_GUESTS leaves on the bridge, FROM_GUESTS comes in on it
            side = "-o" if intent.direction is Direction.TO_GUESTS else "-i"
            return f"{side} {intent.bridge} -j REJECT --reject-with {_REJECT[intent.family]}"
        case HostAccept():
            side = "-i" if intent.path is HostPath.GUEST_TO_HOST else "-o"  # HOST_IN or HOST_OUT
            proto = intent.proto.value
            return f"{side} {intent.bridge} -p {proto} -m {proto} --dport {intent.port} -j ACCEPT"
        case NatExclude():
            dev = f" -o {intent.out_dev}" if intent.out_dev else ""
            subnet, destination = text(intent.subnet), text(intent.destination)
            return f"-s {subnet} -d {destination}{dev} -j RETURN"
        case NatTranslate():
            dev = f" -o {intent.out_dev}" if intent.out_dev else ""
            proto = f" -p {intent.proto.value}" if intent.proto else ""
            subnet = text(intent.subnet)
            head = f"-s {subnet} ! -d {subnet}{dev}{proto}"
            ports = f"{intent.ports.first}-{intent.ports.last}" if intent.ports else ""
            if intent.to_addresses is None:
                return f"{head} -j MASQUERADE" + (f" --to-ports {ports}" if ports else "")
            target = _addresses(intent.to_addresses) + (f":{ports}" if ports else "")
            return f"{head} -j SNAT --to-source {target}"
    return _policy_rule(intent, text)


def _addresses(rng: AddressRange) -> str:
    if rng.first == rng.last:
        return f"[{rng.first}]" if rng.first.version == 6 else str(rng.first)
    if rng.first.version == 6:
        return f"[{rng.first}]-[{rng.last}]"
    return f"{rng.first}-{rng.last}"


# -- port forwards, host services, guest filters and isolation (not in libvirt) --------------------

_LOOPBACK = {Family.IPV4: "127.0.0.0/8", Family.IPV6: "::1/128"}
_ICMP = {Family.IPV4: "icmp", Family.IPV6: "ipv6-icmp"}
_ESTABLISHED = "-m conntrack --ctstate RELATED,ESTABLISHED"


def _host(addr: IPAddress) -> str:
    return f"{addr}/{addr.max_prefixlen}"


def _l4(proto: Proto | None, ports: PortRange | None, extra: str = "") -> str:
    """`-p tcp [extra] -m tcp --dport A:B`, in iptables-save's order (extra matches first)."""
    if proto is None:
        return ""
    out = f" -p {proto.value}{extra}"
    if ports is not None:
        span = str(ports.first) if ports.first == ports.last else f"{ports.first}:{ports.last}"
        out += f" -m {proto.value} --dport {span}"
    return out


def _to(addr: IPAddress, ports: PortRange | None) -> str:
    if ports is None:
        return str(addr)
    span = str(ports.first) if ports.first == ports.last else f"{ports.first}-{ports.last}"
    return f"[{addr}]:{span}" if addr.version == 6 else f"{addr}:{span}"


def _dst(prefix: IPNetwork) -> str:
    return "" if prefix.prefixlen == 0 else f" -d {prefix}"  # iptables-save omits -d 0.0.0.0/0


def _src(prefix: IPNetwork) -> str:
    return "" if prefix.prefixlen == 0 else f"-s {prefix}"  # iptables-save omits -s 0.0.0.0/0


def _policy_rule(intent: Intent, text: Texts) -> str:
    reject = _REJECT_RULE[intent.family]
    match intent:
        case Dnat():
            if intent.host_address is not None:
                where, local = f"-d {_host(intent.host_address)} ", ""
            elif intent.hook is NatHook.OUTPUT:
                # A 127.0.0.1 source cannot be routed to a guest, so loopback is left alone.
                where, local = f"! -d {_LOOPBACK[intent.family]} ", " -m addrtype --dst-type LOCAL"
            else:
                where, local = "", " -m addrtype --dst-type LOCAL"
            dev = f"-i {intent.in_dev} " if intent.in_dev else ""
            l4 = _l4(intent.proto, intent.host_ports, local).lstrip()
            target = _to(intent.target, intent.target_ports)
            return f"{where}{dev}{l4} -j DNAT --to-destination {target}"
        case ForwardAllowDnat():
            l4 = _l4(intent.proto, intent.target_ports)
            return (
                f"-d {_host(intent.target)} -o {intent.bridge}{l4} "
                "-m conntrack --ctstate DNAT -j ACCEPT"
            )
        case NatHairpin():
            l4 = _l4(intent.proto, intent.target_ports)
            return (
                f"-s {text(intent.subnet)} -d {_host(intent.target)} -o {intent.bridge}{l4} "
                "-m conntrack --ctstate DNAT -j MASQUERADE"
            )
        case ForwardCrossEstablished():
            return f"-i {intent.bridge} -o {intent.bridge} {_ESTABLISHED} -j ACCEPT"
        case ForwardIsolate():
            return f"-i {intent.bridge} -o {intent.bridge} {reject}"
        case ForwardFilter():
            l4 = _l4(intent.proto, intent.ports)
            verdict = "-j ACCEPT" if intent.verdict is Verdict.ACCEPT else reject
            where = f"-s {text(intent.subnet)}{_dst(intent.destination)}"
            return f"{where} -i {intent.bridge}{l4} {verdict}"
        case ForwardFilterIn():
            l4 = _l4(intent.proto, intent.ports)
            verdict = "-j ACCEPT" if intent.verdict is Verdict.ACCEPT else reject
            where = f"{_src(intent.source)} -d {text(intent.destination)}".lstrip()
            # not in on the bridge: guest <-> guest and hairpins are the guest rule's business
            return f"{where} ! -i {intent.bridge} -o {intent.bridge}{l4} {verdict}"
        case HostAcceptEstablished():
            return f"-i {intent.bridge} {_ESTABLISHED} -j ACCEPT"
        case HostAcceptIcmp():
            return f"-i {intent.bridge} -p {_ICMP[intent.family]} -j ACCEPT"
        case HostAllow():
            return f"-i {intent.bridge}{_l4(intent.proto, intent.ports)} -j ACCEPT"
        case HostReject():
            return f"-i {intent.bridge} {reject}"
    raise TypeError(f"iptables cannot print {intent!r}")
