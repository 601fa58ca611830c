"""Concrete netfilter evaluator: one packet through every base chain of every table on its path.

This is the reference semantics; the symbolic engine (`symbolic.py`) must agree with it on every
class representative, and counterexamples are always re-checked here. Kernel behaviour modelled
(see ../shared/reference/parity.md):

* All base chains on a hook run in priority order (ties: load order); accept only ends the
  current base chain, drop/reject end the packet. A packet must be accepted by all of them.
* NAT base chains are not hooks of their own: the nat core registers once per hook at the
  standard priority (dstnat -100 for prerouting/output, srcnat 100 for postrouting/input) and runs
  the nat chains in their priority order there, only for new connections, stopping at the first
  chain that creates a binding (`nf_nat_inet_fn`).
* jump pushes a return point, goto does not; falling off a base chain applies its policy.
* DNAT/REDIRECT/SNAT rewrite the header seen by later chains; masquerade does not (its address
  is "the primary address of oif", which the model leaves symbolic).
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass, replace

from .model import (
    CT_STATES,
    Action,
    Chain,
    ChainType,
    Family,
    Field,
    Hook,
    Kind,
    Loc,
    Nat,
    ParityError,
    Path,
    PORT_PROTOCOLS,
    Rule,
    Ruleset,
    Table,
)
from .concrete_index import chain_file, vmap_first
from .values import resolve_reject

NAT_PRIORITY = {Hook.PREROUTING: -100, Hook.OUTPUT: -100, Hook.INPUT: 100}
NAT_PRIORITY[Hook.POSTROUTING] = 100
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Packet:
    """One concrete packet on one path. `None` means the field does not exist here."""

    path: Path
    family: Family
    iif: str | None
    oif: str | None
    saddr: int
    daddr: int
    l4proto: int
    sport: int | None
    dport: int | None
    ct: str = "new"
    ct_dnat: bool = False
    ct_snat: bool = False
    daddr_local: bool = False

    def get(self, field: Field) -> Any:  # str, int, bool or None, by field
        return _GETTERS[field](self)

    def with_field(self, field: Field, value: Any) -> "Packet":
        return replace(self, **{_NAMES[field]: value})

    def __post_init__(self) -> None:
        if self.ct not in CT_STATES:
            raise ValueError(f"bad ct state {self.ct}")
        if (self.sport is None) != (self.l4proto not in PORT_PROTOCOLS):
            raise ValueError("ports exist exactly for tcp/udp/sctp/dccp/udplite")


_NAMES = {
    Field.IIF: "iif",
    Field.OIF: "oif",
    Field.SADDR: "saddr",
    Field.DADDR: "daddr",
    Field.L4PROTO: "l4proto",
    Field.SPORT: "sport",
    Field.DPORT: "dport",
    Field.CT: "ct",
    Field.CT_DNAT: "ct_dnat",
    Field.CT_SNAT: "ct_snat",
    Field.DADDR_LOCAL: "daddr_local",
    Field.NFPROTO: "family",
}
_GETTERS = {f: (lambda p, n=n: getattr(p, n)) for f, n in _NAMES.items()}


@dataclass(frozen=True, slots=True)
class NatApplied:
    hook: Hook
    nat: Nat

    def describe(self) -> str:
        return f"{self.nat.describe()} at {self.hook.value}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the path does with a packet: the thing both rulesets must agree on.

    A dropped or rejected packet carries no NAT: it is never seen translated.
    """

    verdict: str  # accept, drop, reject
    reject: str | None = None
    nat: tuple[NatApplied, ...] = ()

    def describe(self) -> str:
        text = self.verdict if self.reject is None else f"reject ({self.reject})"
        if self.nat:
            text += ", " + ", ".join(n.describe() for n in self.nat)
        elif self.verdict == "accept":
            text += ", no NAT"
        return text


ACCEPT = Outcome("accept")
DROP = Outcome("drop")


@dataclass(frozen=True, slots=True)
class Stage:
    """One step at a hook: a filter base chain, or the nat core with its chains in order."""

    priority: int
    chains: tuple[tuple[Table, Chain], ...]
    nat: bool


_PLANS: dict[int, tuple[Ruleset, dict]] = {}


def plan(ruleset: Ruleset, hook: Hook, family: Family) -> tuple[Stage, ...]:
    """The ordered stages a packet of `family` meets at `hook` (cached per ruleset object)."""
    entry = _PLANS.get(id(ruleset))
    if entry is None or entry[0] is not ruleset:
        if len(_PLANS) > 64:
            _PLANS.clear()
        entry = (ruleset, {})
        _PLANS[id(ruleset)] = entry
    key = (hook, family)
    if key not in entry[1]:
        entry[1][key] = _plan(ruleset, hook, family)
    return entry[1][key]


def _plan(ruleset: Ruleset, hook: Hook, family: Family) -> tuple[Stage, ...]:
    filters: list[tuple[int, int, Stage]] = []
    nats: list[tuple[int, int, Table, Chain]] = []
    order = 0
    for table in ruleset.tables:
        if family not in table.families:
            continue
        for chain in table.chains.values():
            order += 1
            base = chain.base
            if base is None or base.hook is not hook:
                continue
            if base.type is ChainType.NAT:
                nats.append((base.priority, order, table, chain))
            else:
                filters.append(
                    (base.priority, order, Stage(base.priority, ((table, chain),), False))
                )
    stages = [(p, o, s) for p, o, s in filters]
    if nats:
        nats.sort(key=lambda t: (t[0], t[1]))
        group = tuple((t, c) for _, _, t, c in nats)
        prio = NAT_PRIORITY.get(hook, 0)
        stages.append((prio, min(o for _, o, _, _ in nats), Stage(prio, group, True)))
    stages.sort(key=lambda t: (t[0], t[1]))
    return tuple(s for _, _, s in stages)


@dataclass(frozen=True, slots=True)
class ChainResult:
    kind: Kind  # ACCEPT, DROP, REJECT, NAT, RETURN (fell off / return)
    rule: Rule | None
    action: Action | None


def lookup(table: Table, name: str | None, rule: Rule) -> Chain:
    if name is None:
        raise ParityError("jump without a target chain", rule.loc)
    chain = table.chains.get(name)
    if chain is None:
        raise ParityError(f"jump to unknown chain {name!r}", rule.loc)
    if chain.base is not None:
        raise ParityError(f"jump to base chain {name!r}", rule.loc)
    return chain


def run_chain(
    table: Table,
    chain: Chain,
    pkt: Packet,
    depth: int = 0,
    rules_seen: list[int] | None = None,
) -> ChainResult:
    """First match in `chain`; `rules_seen[0]` counts the rules examined (the benchmark's
    per-packet cost), when given."""
    if depth > MAX_DEPTH:
        raise ParityError(f"chain nesting deeper than {MAX_DEPTH} (a loop?)", chain.loc)
    rules = chain.rules
    # skip only rules that cannot match (see concrete_index.py); scan when counting the cost
    positions = (
        range(len(rules)) if rules_seen is not None else chain_file(chain).rules_for(pkt.get)
    )
    for p in positions:
        rule = rules[p]
        if rules_seen is not None:
            rules_seen[0] += 1
        if not all(atom.matches(pkt.get(atom.field)) for atom in rule.atoms):
            continue
        action = rule.action
        if action.kind is Kind.VMAP:
            first = -1 if rules_seen is not None else vmap_first(action, pkt.get)
            if first is None:
                continue
            if first >= 0:
                action = action.vmap[first][1]
            else:
                for key, entry in action.vmap:
                    if key.matches(pkt.get(key.field)):
                        action = entry
                        break
                else:
                    continue
        kind = action.kind
        if kind is Kind.CONTINUE:
            continue
        if kind in (Kind.ACCEPT, Kind.DROP, Kind.REJECT, Kind.NAT, Kind.RETURN):
            if kind is Kind.NAT and action.nat and action.nat.family not in (None, pkt.family):
                continue
            return ChainResult(kind, rule, action)
        sub = run_chain(table, lookup(table, action.target, rule), pkt, depth + 1, rules_seen)
        if kind is Kind.JUMP and sub.kind is Kind.RETURN:
            continue
        return sub
    return ChainResult(Kind.RETURN, None, None)


def apply_nat(pkt: Packet, nat: Nat) -> Packet:
    """The header later chains see after a binding (see module docstring)."""
    has_ports = pkt.sport is not None
    if nat.kind in ("dnat", "redirect"):
        changes: dict = {"ct_dnat": True, "daddr_local": nat.kind == "redirect"}
        if nat.addrs is not None:
            changes["daddr"] = nat.addrs[0]
        if nat.ports is not None and has_ports:
            changes["dport"] = nat.ports[0]
        return replace(pkt, **changes)
    changes = {"ct_snat": True}
    if nat.kind == "snat" and nat.addrs is not None:
        changes["saddr"] = nat.addrs[0]
    if nat.ports is not None and has_ports and nat.kind == "snat":
        changes["sport"] = nat.ports[0]
    return replace(pkt, **changes)


@dataclass(frozen=True, slots=True)
class Evaluation:
    outcome: Outcome
    trace: tuple[tuple[Loc | None, str], ...]  # deciding rules, for the report


def dnatted(nats: tuple[NatApplied, ...] | list[NatApplied]) -> bool:
    """Whether prerouting bound a DNAT (or redirect): the packet was addressed to the host."""
    return any(n.hook is Hook.PREROUTING and n.nat.kind in ("dnat", "redirect") for n in nats)


def bridge_candidate(pkt: Packet, br_netfilter: bool) -> bool:
    """Forward traffic in and out of one interface, not known to be addressed to the host.

    Without br_netfilter the bridge forwards guest <-> guest frames below IP, so they never
    cross the IP hooks. A packet for the host's own address is routed instead, and crosses them
    even when it leaves by the bridge it came in on: a DNAT'd hairpin (guest -> host port ->
    guest), see tests/ports/test_port_forward.py. The model has no MAC addresses; `daddr_local`,
    a DNAT'd connection, or a DNAT in prerouting (see `evaluate`) is what says "for the host".
    """
    return (
        not br_netfilter
        and pkt.path is Path.FORWARD
        and pkt.iif is not None
        and pkt.iif == pkt.oif
        and not pkt.daddr_local
        and not pkt.ct_dnat
    )


def evaluate(
    ruleset: Ruleset,
    pkt: Packet,
    br_netfilter: bool = True,
    rules_seen: list[int] | None = None,
) -> Evaluation:
    """Run `pkt` along its path; see the module docstring for the semantics.

    With `rules_seen`, `rules_seen[0]` is increased by every rule the packet is matched against.
    """
    candidate = bridge_candidate(pkt, br_netfilter)
    nats: list[NatApplied] = []
    trace: list[tuple[Loc | None, str]] = []
    for hook in pkt.path.hooks:
        bridged = candidate and hook is Hook.PREROUTING
        for stage in plan(ruleset, hook, pkt.family):
            if stage.nat and pkt.ct != "new":
                continue
            for table, chain in stage.chains:
                res = run_chain(table, chain, pkt, rules_seen=rules_seen)
                if res.rule is not None and res.kind is not Kind.RETURN:
                    trace.append((res.rule.loc, res.rule.text))
                kind = res.kind
                if kind is Kind.RETURN:
                    kind = chain.policy
                    if kind is Kind.DROP:
                        trace.append((chain.loc, f"policy drop of {table.name} {chain.name}"))
                if kind in (Kind.DROP, Kind.REJECT) and bridged and not dnatted(nats):
                    return Evaluation(ACCEPT, ())  # bridged: this hook never saw it
                if kind is Kind.DROP:
                    return Evaluation(DROP, tuple(trace))
                if kind is Kind.REJECT:
                    assert res.action is not None and res.action.reject is not None  # a rule's
                    reject = resolve_reject(res.action.reject, pkt.family)
                    return Evaluation(Outcome("reject", reject), tuple(trace))
                if kind is Kind.NAT:
                    assert res.rule is not None and res.action is not None  # a rule's NAT
                    nat = res.action.nat
                    assert nat is not None
                    if not stage.nat:
                        raise ParityError("NAT statement outside a nat chain", res.rule.loc)
                    nats.append(NatApplied(hook, nat))
                    pkt = apply_nat(pkt, nat)
                    break  # first binding at this hook wins
        if bridged and not dnatted(nats):
            return Evaluation(ACCEPT, ())  # bridged: never reaches the IP hooks
    return Evaluation(Outcome("accept", None, tuple(nats)), tuple(trace))
