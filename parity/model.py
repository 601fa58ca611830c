"""The normal form both parsers produce, and the only thing the evaluator reads.

Both front ends (nft text, iptables-restore/save text) lower into these frozen records, so the
evaluator never sees backend syntax. The vocabulary is deliberately tiny: it is exactly what a
libvirt-style NAT bridge firewall uses, and anything outside it is a located `ParityError` in the
parser, never a silently skipped match (a parity checker that skips what it does not understand
proves nothing).
"""

from __future__ import annotations

from typing import Any

import enum
import ipaddress
from dataclasses import dataclass, field


class Family(enum.Enum):
    """The packet's network-layer family (nft `meta nfproto`)."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"

    @property
    def bits(self) -> int:
        return 32 if self is Family.IPV4 else 128


class Hook(enum.Enum):
    PREROUTING = "prerouting"
    INPUT = "input"
    FORWARD = "forward"
    OUTPUT = "output"
    POSTROUTING = "postrouting"


class Path(enum.Enum):
    """Routing is an input to the model: each path is a fixed sequence of hooks."""

    INPUT = "input"
    FORWARD = "forward"
    OUTPUT = "output"

    @property
    def hooks(self) -> tuple[Hook, ...]:
        return _PATH_HOOKS[self]


_PATH_HOOKS = {
    Path.INPUT: (Hook.PREROUTING, Hook.INPUT),
    Path.FORWARD: (Hook.PREROUTING, Hook.FORWARD, Hook.POSTROUTING),
    Path.OUTPUT: (Hook.OUTPUT, Hook.POSTROUTING),
}


class ChainType(enum.Enum):
    FILTER = "filter"  # also iptables mangle/raw/security: no NAT semantics
    NAT = "nat"
    ROUTE = "route"


class Field(enum.IntEnum):
    """Header fields and abstract packet attributes an atom can test.

    The integer value is the index of the field in a packet-class cube.
    """

    IIF = 0
    OIF = 1
    SADDR = 2
    DADDR = 3
    L4PROTO = 4
    SPORT = 5
    DPORT = 6
    CT = 7
    CT_DNAT = 8  # conntrack status: the connection was destination-NATed
    CT_SNAT = 9
    DADDR_LOCAL = 10  # `fib daddr type local` / `-m addrtype --dst-type LOCAL`
    NFPROTO = 11


CT_STATES = ("new", "established", "related", "invalid", "untracked")

PORT_PROTOCOLS = frozenset({6, 17, 33, 132, 136})  # tcp udp dccp sctp udplite

PROTOCOLS = {
    "icmp": 1,
    "igmp": 2,
    "tcp": 6,
    "udp": 17,
    "dccp": 33,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "icmpv6": 58,
    "ipv6-icmp": 58,
    "sctp": 132,
    "udplite": 136,
}
PROTOCOL_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6", 2: "igmp", 47: "gre", 50: "esp"}
PROTOCOL_NAMES.update({51: "ah", 33: "dccp", 132: "sctp", 136: "udplite"})


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a construct came from: every error and counterexample points back at text."""

    filename: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}"


class ParityError(Exception):
    """Unreadable or unsupported input; rendered `file:line:col: error: message`."""

    def __init__(self, message: str, loc: Loc | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc

    def __str__(self) -> str:
        if self.loc is None:
            return f"error: {self.message}"
        return f"{self.loc}: error: {self.message}"


# ---------------------------------------------------------------------------------------------
# Matches


@dataclass(frozen=True, slots=True)
class Names:
    """Interface names; a pattern ending in `*` is a prefix wildcard (iptables' `+`)."""

    patterns: tuple[str, ...]

    def contains(self, name: str) -> bool:
        for p in self.patterns:
            if p.endswith("*"):
                if name.startswith(p[:-1]):
                    return True
            elif name == p:
                return True
        return False


@dataclass(frozen=True, slots=True)
class Intervals:
    """A union of closed integer intervals (addresses, protocols, ports)."""

    spans: tuple[tuple[int, int], ...]

    def contains(self, value: int) -> bool:
        return any(lo <= value <= hi for lo, hi in self.spans)


@dataclass(frozen=True, slots=True)
class Values:
    """A finite set of symbolic values (ct states, booleans, families)."""

    items: frozenset

    def contains(self, value: object) -> bool:
        return value in self.items


Test = Names | Intervals | Values


@dataclass(frozen=True, slots=True)
class Atom:
    """One match: `field in test`, possibly negated.

    `missing` is the result when the packet has no such field on its path (no oif on the input
    path, no ports on icmp). nft breaks the rule in that case even when negated; iptables compares
    an empty interface name, so `! -o virbr0` matches on INPUT. The parser decides.
    `family` tags address atoms so their constants split only that family's address space.
    """

    field: Field
    test: Test
    negate: bool = False
    missing: bool = False
    family: Family | None = None

    def matches(self, value: Any) -> bool:  # the field's value: str, int or bool
        if value is None:
            return self.missing
        return self.test.contains(value) != self.negate


# ---------------------------------------------------------------------------------------------
# Actions


class Kind(enum.Enum):
    ACCEPT = "accept"
    DROP = "drop"
    REJECT = "reject"
    RETURN = "return"
    JUMP = "jump"
    GOTO = "goto"
    CONTINUE = "continue"  # a rule with only non-terminal statements (counter, CHECKSUM)
    NAT = "nat"
    VMAP = "vmap"


@dataclass(frozen=True, slots=True)
class Nat:
    """A NAT statement. `kind` is masquerade/snat/dnat/redirect; ranges are inclusive."""

    kind: str
    family: Family | None = None
    addrs: tuple[int, int] | None = None
    ports: tuple[int, int] | None = None
    flags: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = [self.kind]
        if self.addrs is not None and self.family is not None:
            lo, hi = (_fmt_addr(self.family, a) for a in self.addrs)
            parts.append(f"to {lo}" if lo == hi else f"to {lo}-{hi}")
        if self.ports is not None:
            first, last = self.ports
            parts.append(f"ports {first}" if first == last else f"ports {first}-{last}")
        parts.extend(self.flags)
        return " ".join(parts)


def _fmt_addr(family: Family, value: int) -> str:
    if family is Family.IPV4:
        return str(ipaddress.IPv4Address(value))
    return str(ipaddress.IPv6Address(value))


@dataclass(frozen=True, slots=True)
class Action:
    """What a rule does when all its atoms match.

    `target` names the chain for jump/goto, `reject` the abstract reject type (resolved per
    family at evaluation), `nat` the NAT statement, `vmap` the verdict-map entries (each key is an
    atom test on `vmap_field`, tried in order).
    """

    kind: Kind
    target: str | None = None
    reject: str | None = None
    nat: Nat | None = None
    vmap: tuple[tuple[Atom, "Action"], ...] = ()


@dataclass(frozen=True, slots=True)
class Declared:
    """A construct on the declared-difference list: no verdict or NAT effect, but reported."""

    kind: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class Rule:
    atoms: tuple[Atom, ...]
    action: Action
    loc: Loc
    text: str = ""


@dataclass(frozen=True, slots=True)
class BaseHook:
    type: ChainType
    hook: Hook
    priority: int
    policy: Kind  # ACCEPT or DROP


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    rules: tuple[Rule, ...]
    base: BaseHook | None = None
    loc: Loc | None = None

    @property
    def policy(self) -> Kind:
        """A base chain's policy: the verdict of a packet that returns from it."""
        if self.base is None:
            raise ParityError(
                f"chain {self.name!r} is not a base chain: it has no policy", self.loc
            )
        return self.base.policy


@dataclass(frozen=True, slots=True)
class Table:
    """One nft table or one iptables table of one family.

    `families` is the set of packet families the table sees (inet sees both).
    `origin` is "nft" or "iptables"; `order` breaks priority ties by load order.
    """

    name: str
    families: frozenset[Family]
    chains: dict[str, Chain] = field(hash=False)
    origin: str
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class Ruleset:
    tables: tuple[Table, ...]
    sources: tuple[str, ...]
    declared: tuple[Declared, ...] = ()

    @property
    def label(self) -> str:
        return "+".join(self.sources)

    def merged(self, other: "Ruleset") -> "Ruleset":
        return Ruleset(
            self.tables + other.tables,
            self.sources + other.sources,
            self.declared + other.declared,
        )


EMPTY_RULESET = Ruleset((), ())
