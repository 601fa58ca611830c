"""`nft -f` text: one `inet netc` table, replaced atomically.

The script starts with `table inet netc {}` + `delete table inet netc`, so loading it creates,
or replaces, the whole table in one transaction: loading twice leaves what loading once does, and
no other table is touched. Interfaces are matched by name (`iifname`/`oifname`) so the rules load
before the bridges exist. Base chains dispatch to per-network chains through verdict maps keyed
by interface name or source subnet, so a packet's cost does not grow with the number of networks.
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
    OnBridge,
)
from netc.ir.model import AddressRange, Family, IPAddress, IPNetwork, PortRange, Proto

from .base import SLOT_OF_TYPE, Slot, Texts, slot

TABLE = "inet netc"
_IP = {Family.IPV4: "ip", Family.IPV6: "ip6"}
_NFPROTO = {family: f"meta nfproto {family.value}" for family in Family}
# Per-network chains are named PREFIX + network name (`nat_` chains also + "_" + a number).
# Network names are unique and no prefix is the beginning of another, so two different
# (prefix, network) pairs can never spell the same chain: `tests/test_chain_names.py` proves the
# prefixes prefix-free, and `_Chains.claim` refuses a clash should one ever be introduced.
# (Port forwards made by the host itself once shared `dnat_` with those arriving from outside, as
# `dnat_local_`: networks `x` and `local_x` then both got a chain `dnat_local_x`.)
CHAIN_PREFIXES = (
    "fwd_in_",
    "fwd_out_",
    "host_in_",
    "host_out_",
    "nat_",
    "dnat_",
    "local_dnat_",
)
# slot -> (base chain, dispatch key, per-network chain name prefix)
_DISPATCH = {
    Slot.DNAT_ACCEPT: ("forward", "oifname", "fwd_in_"),
    Slot.CROSS: ("forward", "oifname", "fwd_in_"),
    Slot.TO_GUESTS: ("forward", "oifname", "fwd_in_"),
    Slot.FROM_GUESTS: ("forward", "iifname", "fwd_out_"),
    Slot.HOST_IN: ("input", "iifname", "host_in_"),
    Slot.HOST_OUT: ("output", "oifname", "host_out_"),
}

# The same for the intent types whose slot is fixed, looked up by type: the common path of
# `_Chains.add` then touches no enum (an enum's hash and its class attributes cost a Python call).
_DISPATCH_OF_TYPE = {t: _DISPATCH[kind] for t, kind in SLOT_OF_TYPE.items() if kind in _DISPATCH}


class NftEmitter:
    name = "nft"
    loader = "nft -f FILE"

    def setup(self, intents: Sequence[Intent], jumps: bool = True) -> str:
        # `jumps` has nothing to leave out here: the base chains are netc's own table's.
        chains = _Chains()
        for intent in intents:
            chains.add(intent)
        if chains.empty:
            return self.teardown()
        lines = [f"table {TABLE} {{}}", f"delete table {TABLE}", f"table {TABLE} {{"]
        lines += chains.render()
        lines.append("}")
        return "\n".join(lines) + "\n"

    def teardown(self) -> str:
        return f"table {TABLE} {{}}\ndelete table {TABLE}\n"


class _Chains:
    """Per-network chains plus the base chains that dispatch to them, in first-seen order."""

    def __init__(self) -> None:
        self.regular: dict[str, list[str]] = {}
        self.owners: dict[str, str] = {}  # chain name -> the network it serves
        self.nat_index: dict[tuple[str, str], int] = {}  # (network, subnet text)
        self.nat_count: dict[str, int] = {}  # NAT subnets numbered so far, per network
        # base chain -> (dispatch key expression, [(element, target chain)])
        self.dispatch: dict[str, dict[str, list[tuple[str, str]]]] = {
            "forward": {"oifname": [], "iifname": []},
            "input": {"iifname": []},
            "output": {"oifname": []},
            "postrouting": {"ip saddr": [], "ip6 saddr": []},
        }
        # nat base chains that jump to every network's DNAT chain (port forwards are matched by
        # destination, so there is no key to dispatch on).
        self.jumps: dict[str, list[str]] = {"prerouting": [], "nat_output": []}
        self.text = Texts()

    @property
    def empty(self) -> bool:
        return not self.regular

    def claim(self, name: str, network: str) -> None:
        """Record that chain `name` is `network`'s; a second network naming it is a bug."""
        owner = self.owners.setdefault(name, network)
        if owner != network:
            raise ValueError(f"chain {name} would serve networks {owner!r} and {network!r}")

    def chain(self, base: str, key: str, element: str, name: str, network: str) -> list[str]:
        if name not in self.regular:
            self.claim(name, network)
            self.regular[name] = []
            self.dispatch[base][key].append((element, name))
        return self.regular[name]

    def add(self, intent: Intent) -> None:
        if isinstance(intent, Dnat):
            self.dnat(intent, slot(intent))
        elif isinstance(intent, (NatExclude, NatTranslate, NatHairpin)):  # Slot.SOURCE_NAT
            ip = _IP[intent.family]
            subnet = self.text(intent.subnet)
            # keyed by the subnet's text: equal exactly when the subnets are, and cheaper to hash
            key = (intent.network, subnet)
            if key not in self.nat_index:  # subnets numbered per network, in first-seen order
                self.nat_index[key] = self.nat_count.get(intent.network, 0)
                self.nat_count[intent.network] = self.nat_index[key] + 1
            name = f"nat_{intent.network}_{self.nat_index[key]}"
            rules = self.chain("postrouting", f"{ip} saddr", subnet, name, intent.network)
            rules.append(_rule(intent, self.text))
        else:
            dispatch = _DISPATCH_OF_TYPE.get(type(intent))
            self.add_dispatched(intent, _DISPATCH[slot(intent)] if dispatch is None else dispatch)

    def add_dispatched(self, intent: OnBridge, dispatch: tuple[str, str, str]) -> None:
        """Into the network's chain for `dispatch` (base chain, key, chain name prefix)."""
        base, key, prefix = dispatch
        name = prefix + intent.network
        rules = self.regular.get(name)
        if rules is None:
            rules = self.chain(base, key, f'"{intent.bridge}"', name, intent.network)
        rules.append(_rule(intent, self.text))

    def dnat(self, intent: Dnat, kind: Slot) -> None:
        base, name = {
            Slot.DNAT_PRE: ("prerouting", f"dnat_{intent.network}"),
            Slot.DNAT_OUT: ("nat_output", f"local_dnat_{intent.network}"),
        }[kind]
        if name not in self.regular:
            self.claim(name, intent.network)
            self.regular[name] = []
            self.jumps[base].append(name)
        self.regular[name].append(_rule(intent, self.text))

    def render_jumps(self) -> list[str]:
        hooks = {
            "prerouting": "type nat hook prerouting priority dstnat; policy accept;",
            # `dstnat` names -100 only at prerouting; -100 is the same place at output.
            "nat_output": "type nat hook output priority -100; policy accept;",
        }
        out: list[str] = []
        for base, targets in self.jumps.items():
            if targets:
                out += [f"\tchain {base} {{", f"\t\t{hooks[base]}"]
                out += [f"\t\tjump {target}" for target in targets]
                out.append("\t}")
        return out

    def render(self) -> list[str]:
        out: list[str] = []
        hooks = {
            "forward": "type filter hook forward priority filter; policy accept;",
            "input": "type filter hook input priority filter; policy accept;",
            "output": "type filter hook output priority filter; policy accept;",
            "postrouting": "type nat hook postrouting priority srcnat; policy accept;",
        }
        for base, keys in self.dispatch.items():
            maps = [(key, elems) for key, elems in keys.items() if elems]
            if not maps:
                continue
            out += [f"\tchain {base} {{", f"\t\t{hooks[base]}"]
            for key, elems in maps:
                body = ", ".join(f"{element} : jump {target}" for element, target in elems)
                out.append(f"\t\t{key} vmap {{ {body} }}")
            out.append("\t}")
        out += self.render_jumps()
        for name, rules in self.regular.items():
            out.append(f"\tchain {name} {{")
            out += [f"\t\t{rule}" for rule in rules]
            out.append("\t}")
        return out


def _family(intent: Intent) -> str:
    return _NFPROTO[intent.family]


def _dev(match: str, dev: str | None) -> str:
    return f' {match} "{dev}"' if dev else ""


def _rule(intent: Intent, text: Texts) -> str:
    """One rule; `text` prints the subnets (shared by many intents) once per ruleset."""
    ip = _IP[intent.family]
    match intent:
        case ForwardCross():
            return f'{_family(intent)} iifname "{intent.bridge}" accept'
        case ForwardAllowIn():
            state = " ct state established,related" if intent.established_only else ""
            return f"{ip} daddr {text(intent.subnet)}{_dev('iifname', intent.in_dev)}{state} accept"
        case ForwardAllowOut():
            return f"{ip} saddr {text(intent.subnet)}{_dev('oifname', intent.out_dev)} accept"
        case ForwardReject():
            return f"{_family(intent)} reject"
        case HostAccept():
            return f"{_family(intent)} {intent.proto.value} dport {intent.port} accept"
        case NatExclude():
            return f"{ip} daddr {text(intent.destination)}{_dev('oifname', intent.out_dev)} return"
        case NatTranslate():
            head = f"{ip} daddr != {text(intent.subnet)}{_dev('oifname', intent.out_dev)}"
            if intent.proto is not None:
                head += f" meta l4proto {intent.proto.value}"
            ports = f":{intent.ports.first}-{intent.ports.last}" if intent.ports else ""
            if intent.to_addresses is None:
                return f"{head} masquerade" + (f" to {ports}" if ports else "")
            return f"{head} snat {ip} to {_addresses(intent.to_addresses, bool(ports))}{ports}"
    return _policy_rule(intent, text)


# -- port forwards, host services, guest filters and isolation (not in libvirt) --------------------

_LOOPBACK = {Family.IPV4: "127.0.0.0/8", Family.IPV6: "::1"}


def _l4(proto: Proto | None, ports: PortRange | None) -> str:
    if proto is None:
        return ""
    if ports is None:
        return f" meta l4proto {proto.value}"
    return f" {proto.value} dport {ports}"


def _target(addr: IPAddress, ports: PortRange | None) -> str:
    if ports is None:
        return str(addr)
    return f"[{addr}]:{ports}" if addr.version == 6 else f"{addr}:{ports}"


def _daddr(ip: str, prefix: IPNetwork) -> str:
    return "" if prefix.prefixlen == 0 else f" {ip} daddr {prefix}"


def _saddr(ip: str, prefix: IPNetwork) -> str:
    return "" if prefix.prefixlen == 0 else f"{ip} saddr {prefix} "


def _policy_rule(intent: Intent, text: Texts) -> str:
    ip = _IP[intent.family]
    match intent:
        case Dnat():
            head = _dev("iifname", intent.in_dev).lstrip()
            if intent.host_address is not None:
                where = f"{ip} daddr {intent.host_address}"
            elif intent.hook is NatHook.OUTPUT:
                # A 127.0.0.1 source cannot be routed to a guest, so loopback is left alone.
                where = f"{ip} daddr != {_LOOPBACK[intent.family]} fib daddr type local"
            else:
                where = f"{_family(intent)} fib daddr type local"
            match = " ".join(p for p in (head, where) if p) + _l4(intent.proto, intent.host_ports)
            return f"{match} dnat {ip} to {_target(intent.target, intent.target_ports)}"
        case ForwardAllowDnat():
            l4 = _l4(intent.proto, intent.target_ports)
            return f"{ip} daddr {intent.target}{l4} ct status dnat accept"
        case NatHairpin():
            l4 = _l4(intent.proto, intent.target_ports)
            dev = _dev("oifname", intent.bridge)
            return f"{ip} daddr {intent.target}{dev}{l4} ct status dnat masquerade"
        case ForwardCrossEstablished():
            return (
                f'{_family(intent)} iifname "{intent.bridge}" ct state established,related accept'
            )
        case ForwardIsolate():
            return f'{_family(intent)} iifname "{intent.bridge}" reject'
        case ForwardFilter():
            match = f"{ip} saddr {text(intent.subnet)}{_daddr(ip, intent.destination)}"
            return f"{match}{_l4(intent.proto, intent.ports)} {intent.verdict.value}"
        case ForwardFilterIn():
            # not in on the bridge: guest <-> guest and hairpins are the guest rule's business
            where = f"{_saddr(ip, intent.source)}{ip} daddr {text(intent.destination)}"
            match = f'{where} iifname != "{intent.bridge}"{_l4(intent.proto, intent.ports)}'
            return f"{match} {intent.verdict.value}"
        case HostAcceptEstablished():
            return f"{_family(intent)} ct state established,related accept"
        case HostAcceptIcmp():
            # The family is part of the match: in an inet table `meta l4proto icmp` alone would
            # also accept IPv6 packets whose next header is 1 (ip6tables' `-p icmp` would not).
            # Spelled so that `nft list` shows it: nft drops a `meta nfproto` written *before*
            # `meta l4proto icmp`/`ipv6-icmp` from its listing (the bytecode keeps it), which
            # would make a listing read as the family-less rule.
            if intent.family is Family.IPV4:
                return "ip protocol icmp accept"
            return "meta l4proto ipv6-icmp meta nfproto ipv6 accept"
        case HostAllow():
            return f"{_family(intent)}{_l4(intent.proto, intent.ports)} accept"
        case HostReject():
            return f"{_family(intent)} reject"
    raise TypeError(f"nft cannot print {intent!r}")


def _addresses(rng: AddressRange, with_ports: bool) -> str:
    def one(addr) -> str:
        return f"[{addr}]" if addr.version == 6 and with_ports else str(addr)

    if rng.first == rng.last:
        return one(rng.first)
    return f"{one(rng.first)}-{one(rng.last)}"
