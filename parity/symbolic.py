"""Symbolic evaluation over cubes of packet classes: the exhaustive decision, made fast.

A cube is a product of class sets, one bitmask per field. Instead of pushing every elementary
class through the chains one at a time (the full product is millions for 50 networks), a cube is
pushed through and split only where a rule distinguishes its members: the matching part takes
the action, the rest goes on as at most one cube per atom. Every class ends in exactly one output
cube, so the result is the same partition the product enumeration would give, only coarser.

Semantics are those of `evaluate.py` (the concrete evaluator); tests check the two agree on
every class of hand-written rulesets, and every counterexample is re-run concretely.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from heapq import heappop, heappush
from dataclasses import dataclass

from .classes import Domain
from .dispatch import DISPATCH_FIELDS, EntryIndex, build_entry_index
from .evaluate import (
    ACCEPT,
    DROP,
    MAX_DEPTH,
    NatApplied,
    dnatted,
    Outcome,
    Stage,
    lookup,
    plan,
)
from .model import (
    Action,
    Atom,
    Chain,
    Field,
    Hook,
    Intervals,
    Kind,
    Names,
    Nat,
    ParityError,
    Path,
    Rule,
    Ruleset,
    Table,
)
from .values import resolve_reject

Cube = tuple[int, ...]
Rewrites = tuple[tuple[Field, object], ...]
Flow = tuple[Cube, dict, tuple[NatApplied, ...]]  # cube, rewritten fields, NAT bindings so far


def popcount(mask: int) -> int:
    return mask.bit_count()


def cube_size(cube: Cube) -> int:
    n = 1
    for m in cube:
        n *= m.bit_count()
    return n


@dataclass(frozen=True, slots=True)
class _Res:
    kind: Kind
    action: Action | None = None  # for terminal results


@dataclass(frozen=True, slots=True)
class _FieldIndex:
    """Lookup tables to turn an atom into a class mask without testing every class."""

    reps: tuple
    present: int  # classes with a value (the field exists)
    absent: int  # the class "field missing" (no ports, no oif on input), if any
    offset: int  # index of the first valued class
    starts: list | None  # sorted representatives of valued classes (interval fields)
    names: dict | None  # representative -> class index (interface fields)


def _field_index(reps: tuple) -> _FieldIndex:
    absent = sum(1 << i for i, r in enumerate(reps) if r is None)
    present = ((1 << len(reps)) - 1) & ~absent
    valued = [r for r in reps if r is not None]
    offset = len(reps) - len(valued)
    starts = names = None
    if absent in (0, 1) and all(isinstance(r, int) and not isinstance(r, bool) for r in valued):
        if valued == sorted(valued):
            starts = valued
    if all(isinstance(r, str) for r in valued):
        names = {r: i for i, r in enumerate(reps) if r is not None}
    return _FieldIndex(reps, present, absent, offset, starts, names)


def _slow_mask(atom: Atom, reps: tuple) -> int:
    m = 0
    for i, rep in enumerate(reps):
        if atom.matches(rep):
            m |= 1 << i
    return m


class SymbolicEngine:
    """Evaluates one ruleset over one domain (path and family)."""

    def __init__(self, ruleset: Ruleset, domain: Domain, br_netfilter: bool = True) -> None:
        self.ruleset = ruleset
        self.domain = domain
        self.br_netfilter = br_netfilter
        self.needs: dict[int, tuple] = {}
        self.keys: dict[int, tuple] = {}
        self.chain_index: dict[int, tuple[Chain, EntryIndex]] = {}
        self.vmap_index: dict[int, tuple[Rule, EntryIndex]] = {}
        self.value_masks: dict[tuple, int] = {}
        self.index = [_field_index(fc.reps) for fc in domain.fields]
        self.plans = {h: plan(ruleset, h, domain.family) for h in domain.path.hooks}
        bridging = not br_netfilter and domain.path is Path.FORWARD
        self.pairs = same_iface_pairs(domain) if bridging else ()
        self.pair_iifs = sum(1 << i for i, _ in self.pairs)

    def mask(self, atom: Atom) -> int:
        """The classes of `atom.field` whose representative `atom` matches.

        Interval tests are located by bisection and literal names by lookup, so a mask costs
        O(log classes) rather than one `matches` call per class (thousands with many networks).
        """
        test = atom.test
        index = self.index[atom.field]
        if isinstance(test, Intervals) and index.starts is not None:
            starts, offset = index.starts, index.offset
            m = 0
            for lo, hi in test.spans:
                a, b = bisect_left(starts, lo), bisect_right(starts, hi)
                m |= ((1 << b) - (1 << a)) << offset
        elif isinstance(test, Names) and index.names is not None:
            m = 0
            for p in test.patterns:
                if p.endswith("*"):
                    for i, rep in enumerate(index.reps):
                        if rep is not None and rep.startswith(p[:-1]):
                            m |= 1 << i
                else:
                    j = index.names.get(p)
                    if j is not None:
                        m |= 1 << j
        else:
            return _slow_mask(atom, index.reps)
        if atom.negate:
            m ^= index.present
        if atom.missing:
            m |= index.absent
        return m

    def need(self, atoms: tuple[Atom, ...]) -> tuple[tuple[tuple[int, int], ...], tuple]:
        """Per-field masks of a conjunction (cached by identity: hashing atoms is slow)."""
        key = id(atoms)
        hit = self.needs.get(key)
        if hit is not None and hit[0] is atoms:
            return hit[1], hit[2]
        need: dict[int, int] = {}
        for atom in atoms:
            need[atom.field] = need.get(atom.field, -1) & self.mask(atom)
        by_field = tuple(need.items())
        self.needs[key] = (atoms, by_field, atoms)
        return by_field, atoms

    def key_tuple(self, key: Atom) -> tuple[Atom, ...]:
        hit = self.keys.get(id(key))
        if hit is None or hit[0] is not key:
            hit = (key, (key,))
            self.keys[id(key)] = hit
        return hit[1]

    def split(
        self, cube: Cube, rw: dict, atoms: tuple[Atom, ...]
    ) -> tuple[Cube | None, list[Cube]]:
        """(part of `cube` matching all atoms, disjoint cubes covering the rest)."""
        need, raw = self.need(atoms)
        if rw:
            for atom in raw:
                if atom.field in rw and not atom.matches(rw[atom.field]):
                    return None, [cube]
            need = tuple((f, m) for f, m in need if f not in rw)
        if not need:
            return cube, []
        for f, m in need:
            if not cube[f] & m:
                return None, [cube]
        match = list(cube)
        rest: list[Cube] = []
        prefix = list(cube)
        for f, m in need:
            inside = cube[f] & m
            outside = cube[f] & ~m
            match[f] = inside
            if outside:
                part = list(prefix)
                part[f] = outside
                rest.append(tuple(part))
            prefix[f] = inside
        return tuple(match), rest

    def run_chain(
        self, table: Table, chain: Chain, cube: Cube, rw: dict, depth: int = 0
    ) -> list[tuple[Cube, _Res]]:
        """Partition `cube` by what `chain` does with it.

        Each piece walks the chain on its own (pieces never interact), visiting only the rules
        the dispatch index says it can meet, in rule order. A piece split off on a narrow field
        (one bridge, one subnet) looks its rules up afresh; otherwise it keeps its parent's list.
        So a rule list of N per-network rules costs O(N) for a cube of every network, not N^2.
        """
        if depth > MAX_DEPTH:
            raise ParityError(f"chain nesting deeper than {MAX_DEPTH} (a loop?)", chain.loc)
        index = self.chain_index_of(chain)
        rules = chain.rules
        out: list[tuple[Cube, _Res]] = []
        fell: list[Cube] = []
        cands = index.lookup(self.view(cube, rw))
        heap: list = [(cands[0], 0, cube, cands, 0)] if cands else []
        if not cands:
            fell.append(cube)
        seq = 0
        while heap:
            p, _, c, cands, k = heappop(heap)
            rule = rules[p]
            match, cont = self.split(c, rw, rule.atoms)
            if match is not None:
                if rule.action.kind is Kind.VMAP:
                    remaining = [match]
                    for key, entry in self.vmap_entries(rule, match, rw):
                        left: list[Cube] = []
                        for r in remaining:
                            m2, rest2 = self.split(r, rw, self.key_tuple(key))
                            left.extend(rest2)
                            if m2 is not None:
                                self.act(table, rule, entry, m2, rw, depth, out, cont)
                        remaining = left
                        if not remaining:
                            break
                    cont.extend(remaining)
                else:
                    self.act(table, rule, rule.action, match, rw, depth, out, cont)
            for piece in cont:
                pc, pk = cands, k + 1
                if piece is not c and len(pc) - pk > 1:
                    fresh = index.narrow_lookup(self.view(piece, rw), len(pc) - pk)
                    if fresh is not None:
                        pc, pk = fresh, bisect_right(fresh, p)
                if pk < len(pc):
                    seq += 1
                    heappush(heap, (pc[pk], seq, piece, pc, pk))
                else:
                    fell.append(piece)
        out.extend((c, _Res(Kind.RETURN)) for c in fell)
        return out

    def view(self, cube: Cube, rw: dict) -> Cube:
        """`cube` as a dispatch query: each field NAT rewrote holds the class of its new value.

        Rules test the rewritten value, so only the entries filed under that class can match;
        a value with no class of its own (never expected) leaves the field whole.
        """
        if not rw:
            return cube
        query = list(cube)
        for f, value in rw.items():
            query[f] = self.value_mask(f, value)
        return tuple(query)

    def value_mask(self, f: Field, value) -> int:
        """The one-class mask of `value` in field `f` (the whole field if it has no class)."""
        key = (f, value)
        hit = self.value_masks.get(key)
        if hit is None:
            fc = self.domain.fields[f]
            i = fc.class_of(value)
            hit = self.value_masks[key] = (1 << i) if i is not None else (1 << len(fc)) - 1
        return hit

    def chain_index_of(self, chain: Chain) -> EntryIndex:
        """The dispatch index of `chain`'s rules (see `dispatch.py`), built once per chain."""
        hit = self.chain_index.get(id(chain))
        if hit is None or hit[0] is not chain:
            hit = (chain, build_entry_index(chain.rules, self.rule_masks))
            self.chain_index[id(chain)] = hit
        return hit[1]

    def rule_masks(self, rule: Rule) -> dict:
        """Per-field masks a rule needs; for a verdict map, also some key must be met."""
        masks = dict(self.need(rule.atoms)[0])
        if rule.action.kind is Kind.VMAP:
            union = {f: 0 for f in DISPATCH_FIELDS}
            for key_atom, _ in rule.action.vmap:
                kneed = dict(self.need(self.key_tuple(key_atom))[0])
                for f in union:
                    union[f] |= kneed.get(f, -1)
            for f, m in union.items():
                if m >= 0:
                    masks[f] = masks.get(f, -1) & m
        return masks

    def vmap_entries(self, rule: Rule, cube: Cube, rw: dict) -> list:
        """The (key, action) entries of a verdict map that can meet `cube`, in order."""
        hit = self.vmap_index.get(id(rule))
        if hit is None or hit[0] is not rule:
            index = build_entry_index(
                [key for key, _ in rule.action.vmap],
                lambda key: dict(self.need(self.key_tuple(key))[0]),
            )
            hit = (rule, index)
            self.vmap_index[id(rule)] = hit
        vmap = rule.action.vmap
        return [vmap[p] for p in hit[1].lookup(self.view(cube, rw))]

    def act(self, table, rule: Rule, action, cube: Cube, rw, depth, out, nxt) -> None:
        kind = action.kind
        if kind is Kind.CONTINUE:
            nxt.append(cube)
        elif kind is Kind.NAT and action.nat.family not in (None, self.domain.family):
            nxt.append(cube)
        elif kind in (Kind.ACCEPT, Kind.DROP, Kind.REJECT, Kind.NAT, Kind.RETURN):
            out.append((cube, _Res(kind, action)))
        else:
            target = lookup(table, action.target, rule)
            for c, res in self.run_chain(table, target, cube, rw, depth + 1):
                if kind is Kind.JUMP and res.kind is Kind.RETURN:
                    nxt.append(c)
                else:
                    out.append((c, res))

    def rewrite(self, cube: Cube, rw: dict, nat: Nat) -> dict:
        """Header after a NAT binding, mirroring `evaluate.apply_nat`."""
        new = dict(rw)
        has_ports = cube[Field.DPORT] != 1  # class 0 is "no ports"
        if nat.kind in ("dnat", "redirect"):
            new[Field.CT_DNAT] = True
            new[Field.DADDR_LOCAL] = nat.kind == "redirect"
            if nat.addrs is not None:
                new[Field.DADDR] = nat.addrs[0]
            if nat.ports is not None and has_ports:
                new[Field.DPORT] = nat.ports[0]
        else:
            new[Field.CT_SNAT] = True
            if nat.kind == "snat" and nat.addrs is not None:
                new[Field.SADDR] = nat.addrs[0]
            if nat.kind == "snat" and nat.ports is not None and has_ports:
                new[Field.SPORT] = nat.ports[0]
        return new

    def evaluate(self, cube: Cube) -> list[tuple[Cube, Outcome]]:
        """Partition `cube` by outcome along the domain's path."""
        if not self.pairs or not cube[Field.IIF] & self.pair_iifs:
            return self._evaluate(cube, False)
        out: list[tuple[Cube, Outcome]] = []
        for piece, candidate in _bridge_split(self.domain, cube, self.pairs):
            out.extend(self._evaluate(piece, candidate))
        return _merge_final(out)

    def _evaluate(self, cube: Cube, candidate: bool) -> list[tuple[Cube, Outcome]]:
        """One cube that is a bridge candidate in full, or not at all (see `bridge_candidate`)."""
        final: list[tuple[Cube, Outcome]] = []
        flows: list[Flow] = [(cube, {}, ())]
        for hook in self.domain.path.hooks:
            flows = self.hook_step(hook, flows, candidate, final)
        final.extend((c, Outcome("accept", None, nats)) for c, _, nats in flows)
        return _merge_final(final)

    def hook_step(self, hook: Hook, flows: list[Flow], candidate: bool, final: list) -> list[Flow]:
        """Run `flows` through every stage at `hook`; stopped pieces go to `final`.

        Returns the flows that continue to the next hook, merged per (rewrites, NAT bindings).
        """
        new_mask = 1 << self.domain.fields[Field.CT].reps.index("new")
        family = self.domain.family
        bridged = candidate and hook is Hook.PREROUTING
        for stage in self.plans[hook]:
            nxt: list = []
            for c, rw, nats in flows:
                if stage.nat:
                    self.nat_stage(stage, hook, c, rw, nats, new_mask, nxt, final, bridged)
                    continue
                table, chain = stage.chains[0]
                for c2, res in self.run_chain(table, chain, c, rw):
                    kind = res.kind
                    if kind is Kind.RETURN:
                        kind = chain.policy
                    if kind is Kind.ACCEPT:
                        nxt.append((c2, rw, nats))
                    elif kind is Kind.DROP:
                        final.append((c2, _unless_bridged(DROP, nats, bridged)))
                    elif kind is Kind.REJECT:
                        assert res.action is not None and res.action.reject is not None
                        reject = resolve_reject(res.action.reject, family)
                        end = Outcome("reject", reject)
                        final.append((c2, _unless_bridged(end, nats, bridged)))
                    else:
                        raise ParityError(
                            "NAT statement outside a nat chain", _first_nat_loc(chain)
                        )
            flows = _merge_flows(nxt)
        if bridged:  # not DNATed to a guest: the bridge forwarded it, no IP hook saw it
            final.extend((c, ACCEPT) for c, _, nats in flows if not dnatted(nats))
            flows = [flow for flow in flows if dnatted(flow[2])]
        return flows

    def nat_stage(
        self, stage: Stage, hook, cube: Cube, rw, nats, new_mask, nxt, final, bridged=False
    ) -> None:
        old = cube[Field.CT] & ~new_mask
        if old:
            part = list(cube)
            part[Field.CT] = old
            nxt.append((tuple(part), rw, nats))
        if not cube[Field.CT] & new_mask:
            return
        part = list(cube)
        part[Field.CT] = new_mask
        pending = [tuple(part)]
        for table, chain in stage.chains:
            cont: list[Cube] = []
            for c in pending:
                for c2, res in self.run_chain(table, chain, c, rw):
                    kind = res.kind
                    if kind is Kind.RETURN:
                        kind = chain.policy
                    if kind is Kind.ACCEPT:
                        cont.append(c2)
                    elif kind is Kind.DROP:
                        final.append((c2, _unless_bridged(DROP, nats, bridged)))
                    elif kind is Kind.REJECT:
                        assert res.action is not None and res.action.reject is not None
                        reject = resolve_reject(res.action.reject, self.domain.family)
                        end = Outcome("reject", reject)
                        final.append((c2, _unless_bridged(end, nats, bridged)))
                    else:  # NAT: first binding at this hook wins
                        assert res.action is not None and res.action.nat is not None
                        nat = res.action.nat
                        for c3 in _by_ports(c2) if nat.ports is not None else (c2,):
                            rw2 = self.rewrite(c3, rw, nat)
                            nxt.append((c3, rw2, nats + (NatApplied(hook, nat),)))
            pending = cont
        nxt.extend((c, rw, nats) for c in pending)


def _by_ports(cube: Cube) -> tuple[Cube, ...]:
    """`cube` split into packets without ports and with ports, so a port NAT rewrites only the
    latter. Whole-path cubes never mix the two (`initial_cubes`); hook-by-hook inputs do."""
    none, some = cube[Field.DPORT] & 1, cube[Field.DPORT] & ~1
    if not none or not some:
        return (cube,)
    return (_with_field(cube, Field.DPORT, none), _with_field(cube, Field.DPORT, some))


def _with_field(cube: Cube, f: Field, mask: int) -> Cube:
    return cube[:f] + (mask,) + cube[f + 1 :]


def _unless_bridged(outcome: Outcome, nats: tuple[NatApplied, ...], bridged: bool) -> Outcome:
    """A bridge candidate stopped in prerouting before any DNAT was never there: bridged."""
    return ACCEPT if bridged and not dnatted(nats) else outcome


def merge_cubes(cubes: list[Cube]) -> list[Cube]:
    """Union cubes that differ in exactly one field, until none do.

    Branching chains (a vmap per bridge) split a cube into many that all continue identically;
    merging them back keeps later splits from multiplying with earlier ones.
    """
    if len(cubes) < 2:
        return cubes
    width = len(cubes[0])
    changed = True
    while changed:
        changed = False
        for f in range(width):
            groups: dict[tuple, int] = {}
            for c in cubes:
                key = c[:f] + c[f + 1 :]
                groups[key] = groups.get(key, 0) | c[f]
            if len(groups) < len(cubes):
                changed = True
                cubes = [k[:f] + (m,) + k[f:] for k, m in groups.items()]
                if len(cubes) < 2:
                    return cubes
    return cubes


def _merge_flows(flows: list) -> list:
    groups: dict[tuple, tuple[dict, tuple, list]] = {}
    for cube, rw, nats in flows:
        key = (tuple(sorted(rw.items())), nats)
        if key not in groups:
            groups[key] = (rw, nats, [])
        groups[key][2].append(cube)
    return [(c, rw, nats) for rw, nats, cubes in groups.values() for c in merge_cubes(cubes)]


def _merge_final(final: list) -> list:
    groups: dict = {}
    for cube, outcome in final:
        groups.setdefault(outcome, []).append(cube)
    return [(c, o) for o, cubes in groups.items() for c in merge_cubes(cubes)]


def _first_nat_loc(chain: Chain):
    for rule in chain.rules:
        if rule.action.kind is Kind.NAT:
            return rule.loc
    return chain.loc


def initial_cubes(domain: Domain, br_netfilter: bool) -> list[Cube]:
    """The whole domain as disjoint cubes that respect field dependencies.

    Ports exist only for port protocols; a new connection has no NAT status yet. With
    br_netfilter off, forward traffic in and out of the same named interface that is not
    addressed to the host (see `bridge_candidate`) is cut out into cubes of its own, one exact
    interface pair each, so the engine can tell bridged traffic from routed hairpins by the cube.
    """
    from .classes import port_proto_mask

    full = [(1 << len(fc)) - 1 for fc in domain.fields]
    pmask = port_proto_mask(domain)
    new_bit = 1 << domain.fields[Field.CT].reps.index("new")
    cubes: list[list[int]] = []
    for ports in (True, False):
        proto = full[Field.L4PROTO] & (pmask if ports else ~pmask)
        if not proto:
            continue
        for ct_new in (True, False):
            c = list(full)
            c[Field.L4PROTO] = proto
            for pf in (Field.SPORT, Field.DPORT):
                c[pf] = (full[pf] & ~1) if ports else 1
            c[Field.CT] = new_bit if ct_new else full[Field.CT] & ~new_bit
            if ct_new:
                c[Field.CT_DNAT] = 1
                c[Field.CT_SNAT] = 1
            cubes.append(c)
    if not br_netfilter and domain.path is Path.FORWARD:
        pairs = same_iface_pairs(domain)
        split: list[list[int]] = []
        for c in cubes:
            for piece, _ in _bridge_split(domain, tuple(c), pairs):
                split.append(list(piece))
        cubes = split
    return [tuple(c) for c in cubes if all(c)]


def same_iface_pairs(domain: Domain) -> tuple[tuple[int, int], ...]:
    """(iif class, oif class) index pairs that name one and the same interface."""
    from .classes import literal_iface_indices

    iif, oif = domain.fields[Field.IIF], domain.fields[Field.OIF]
    out = []
    for i in literal_iface_indices(iif):
        name = iif.reps[i]
        if name in oif.reps:  # classes.py makes every literal of either field a class of both
            out.append((i, oif.reps.index(name)))
    return tuple(out)


def _false_bit(domain: Domain, field: Field) -> int:
    return 1 << domain.fields[field].reps.index(False)


def bridge_candidate(domain: Domain, cube: Cube, pairs) -> bool:
    """Whether `cube` is same-interface forward traffic not (yet) known to be for the host.

    Such a packet is bridged, and never crosses the IP hooks without br_netfilter, unless
    prerouting DNATs it: the model has no MAC addresses, and a DNAT rule matching it is what
    says it was addressed to the host (a routed hairpin). `daddr_local` or a DNAT'd connection
    (`ct status dnat`) says so before any rule runs. `_bridge_split` makes every cube either a
    candidate in full or not at all.
    """
    if cube[Field.DADDR_LOCAL] != _false_bit(domain, Field.DADDR_LOCAL):
        return False
    if cube[Field.CT_DNAT] != _false_bit(domain, Field.CT_DNAT):
        return False
    return any(cube[Field.IIF] == 1 << i and cube[Field.OIF] == 1 << j for i, j in pairs)


def _bridge_split(domain: Domain, cube: Cube, pairs) -> list[tuple[Cube, bool]]:
    """`cube` as disjoint pieces, each flagged whether it is a `bridge_candidate` in full."""
    out: list[tuple[Cube, bool]] = []
    rest = list(cube)
    f_local = _false_bit(domain, Field.DADDR_LOCAL)
    f_dnat = _false_bit(domain, Field.CT_DNAT)
    for i, j in pairs:
        if not (rest[Field.IIF] >> i & 1 and rest[Field.OIF] >> j & 1):
            continue
        same = list(rest)
        same[Field.IIF], same[Field.OIF] = 1 << i, 1 << j
        # the pair leaves the remainder: iif i with every other oif stays there
        other_oif = list(rest)
        other_oif[Field.IIF] = 1 << i
        other_oif[Field.OIF] = rest[Field.OIF] & ~(1 << j)
        rest[Field.IIF] &= ~(1 << i)
        if other_oif[Field.OIF]:
            out.append((tuple(other_oif), False))
        for field, fbit in ((Field.DADDR_LOCAL, f_local), (Field.CT_DNAT, f_dnat)):
            known = same[field] & ~fbit
            if known:
                part = list(same)
                part[field] = known
                out.append((tuple(part), False))
            same[field] &= fbit
            if not same[field]:
                break
        else:
            out.append((tuple(same), True))
        if not rest[Field.IIF]:
            break
    if rest[Field.IIF]:
        out.append((tuple(rest), False))
    return [(c, flag) for c, flag in out if all(c)]


__all__ = ["SymbolicEngine", "initial_cubes", "cube_size", "ACCEPT"]
