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

from dataclasses import dataclass

from .classes import Domain
from .evaluate import (
    ACCEPT,
    DROP,
    MAX_DEPTH,
    NatApplied,
    Outcome,
    Stage,
    lookup,
    plan,
)
from .model import Atom, Chain, Field, Kind, Nat, ParityError, Path, Rule, Ruleset, Table
from .values import resolve_reject

Cube = tuple[int, ...]
Rewrites = tuple[tuple[Field, object], ...]


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
    action: object = None  # Action for terminal results


class SymbolicEngine:
    """Evaluates one ruleset over one domain (path and family)."""

    def __init__(self, ruleset: Ruleset, domain: Domain, br_netfilter: bool = True) -> None:
        self.ruleset = ruleset
        self.domain = domain
        self.br_netfilter = br_netfilter
        self.needs: dict[int, tuple] = {}
        self.keys: dict[int, tuple] = {}
        self.relevant_cache: dict[tuple, tuple] = {}
        self.plans = {h: plan(ruleset, h, domain.family) for h in domain.path.hooks}

    def mask(self, atom: Atom) -> int:
        m = 0
        for i, rep in enumerate(self.domain.fields[atom.field].reps):
            if atom.matches(rep):
                m |= 1 << i
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
        if depth > MAX_DEPTH:
            raise ParityError(f"chain nesting deeper than {MAX_DEPTH} (a loop?)", chain.loc)
        out: list[tuple[Cube, _Res]] = []
        pending = [cube]
        for rule in self.relevant(chain, cube[Field.IIF], cube[Field.OIF]):
            if not pending:
                break
            nxt: list[Cube] = []
            for c in pending:
                match, rest = self.split(c, rw, rule.atoms)
                nxt.extend(rest)
                if match is None:
                    continue
                if rule.action.kind is Kind.VMAP:
                    remaining = [match]
                    for key, entry in rule.action.vmap:
                        left: list[Cube] = []
                        for r in remaining:
                            m2, rest2 = self.split(r, rw, self.key_tuple(key))
                            left.extend(rest2)
                            if m2 is not None:
                                self.act(table, rule, entry, m2, rw, depth, out, nxt)
                        remaining = left
                        if not remaining:
                            break
                    nxt.extend(remaining)
                else:
                    self.act(table, rule, rule.action, match, rw, depth, out, nxt)
            pending = nxt
        out.extend((c, _Res(Kind.RETURN)) for c in pending)
        return out

    def relevant(self, chain: Chain, iif: int, oif: int) -> tuple[Rule, ...]:
        """The rules of `chain` that can match some packet with these interface classes.

        This is the dispatch-by-interface speed-up: a cube for one bridge only scans that
        bridge's rules, so N networks cost about N small chains instead of N^2 rule visits.
        """
        key = (id(chain), iif, oif)
        hit = self.relevant_cache.get(key)
        if hit is not None and hit[0] is chain:
            return hit[1]
        keep = []
        for rule in chain.rules:
            need, _ = self.need(rule.atoms)
            masks = dict(need)
            if not masks.get(Field.IIF, -1) & iif or not masks.get(Field.OIF, -1) & oif:
                continue
            if rule.action.kind is Kind.VMAP:
                union = {Field.IIF: 0, Field.OIF: 0}
                for key_atom, _ in rule.action.vmap:
                    kneed = dict(self.need(self.key_tuple(key_atom))[0])
                    for f in union:
                        union[f] |= kneed.get(f, -1)
                if not union[Field.IIF] & iif or not union[Field.OIF] & oif:
                    continue
            keep.append(rule)
        result = tuple(keep)
        self.relevant_cache[key] = (chain, result)
        return result

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
        final: list[tuple[Cube, Outcome]] = []
        flows: list[tuple[Cube, dict, tuple[NatApplied, ...]]] = [(cube, {}, ())]
        new_mask = 1 << self.domain.fields[Field.CT].reps.index("new")
        family = self.domain.family
        for hook in self.domain.path.hooks:
            for stage in self.plans[hook]:
                nxt: list = []
                for c, rw, nats in flows:
                    if stage.nat:
                        self.nat_stage(stage, hook, c, rw, nats, new_mask, nxt, final)
                        continue
                    table, chain = stage.chains[0]
                    for c2, res in self.run_chain(table, chain, c, rw):
                        kind = res.kind
                        if kind is Kind.RETURN:
                            kind = chain.base.policy
                        if kind is Kind.ACCEPT:
                            nxt.append((c2, rw, nats))
                        elif kind is Kind.DROP:
                            final.append((c2, DROP))
                        elif kind is Kind.REJECT:
                            reject = resolve_reject(res.action.reject, family)
                            final.append((c2, Outcome("reject", reject)))
                        else:
                            raise ParityError(
                                "NAT statement outside a nat chain", _first_nat_loc(chain)
                            )
                flows = _merge_flows(nxt)
        final.extend((c, Outcome("accept", None, nats)) for c, _, nats in flows)
        return _merge_final(final)

    def nat_stage(self, stage: Stage, hook, cube: Cube, rw, nats, new_mask, nxt, final) -> None:
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
                        kind = chain.base.policy
                    if kind is Kind.ACCEPT:
                        cont.append(c2)
                    elif kind is Kind.DROP:
                        final.append((c2, DROP))
                    elif kind is Kind.REJECT:
                        reject = resolve_reject(res.action.reject, self.domain.family)
                        final.append((c2, Outcome("reject", reject)))
                    else:  # NAT: first binding at this hook wins
                        nat = res.action.nat
                        rw2 = self.rewrite(c2, rw, nat)
                        nxt.append((c2, rw2, nats + (NatApplied(hook, nat),)))
            pending = cont
        nxt.extend((c, rw, nats) for c in pending)


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

    Ports exist only for port protocols; a new connection has no NAT status yet; with
    br_netfilter off, forward traffic in and out of the same named interface is bridged and never
    reaches the IP hooks, so it is left out (the model cannot tell routed hairpin traffic apart).
    """
    from .classes import literal_iface_indices, port_proto_mask

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
        lits = literal_iface_indices(domain.fields[Field.IIF])
        oif_fc = domain.fields[Field.OIF]
        split: list[list[int]] = []
        lit_mask = 0
        for i in lits:
            lit_mask |= 1 << i
            j = oif_fc.reps.index(domain.fields[Field.IIF].reps[i])
            for c in cubes:
                d = list(c)
                d[Field.IIF] = 1 << i
                d[Field.OIF] = c[Field.OIF] & ~(1 << j)
                split.append(d)
        for c in cubes:
            d = list(c)
            d[Field.IIF] = c[Field.IIF] & ~lit_mask
            if d[Field.IIF]:
                split.append(d)
        cubes = split
    return [tuple(c) for c in cubes if all(c)]


__all__ = ["SymbolicEngine", "initial_cubes", "cube_size", "ACCEPT"]
