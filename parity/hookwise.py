"""Decide a path hook by hook, so that the splits of successive hooks add instead of multiplying.

Whole-path evaluation (`SymbolicEngine.evaluate`) carries every cube through all hooks of a
path. A split made at one hook then multiplies with the splits of the next: the forward filter
keeps one cube per same-bridge interface pair (iif X, oif X), the postrouting NAT splits each by
every source subnet it masquerades, and N networks give N^2 regions.

Two rulesets agree on a path if they agree at every hook on every state a packet can enter that
hook in (a state is: header classes, the fields rewritten so far, the NAT bindings so far), by
induction along the path. So each hook is decided on its own. Its input is every header class
(an over-approximation of what the earlier hooks let through, and of what packets exist) under each (rewrites, bindings)
pair the earlier hooks produce. Nothing here knows how netc names things: the pieces are
whatever the rule text splits.

States that rewrote the same fields and differ in one value (every network's DNAT to its own
guest) are decided in one run, the rewritten fields pinned to their values' classes (`fold`):
a run per state would cut the whole hook apart once per state, N states times N pieces.

The over-approximation can only err one way: a difference at a hook on a state no packet
reaches, e.g. a NAT rule that differs only for packets the forward filter has already rejected.
So a differing piece is only a *suspect*. It is mapped back to the packets that can enter the
hook in that state (a field no earlier hook rewrote still has its original value, so the piece
bounds it; a rewritten field is unconstrained), and `equivalence.verify` re-decides those
packets exactly, over whole paths. Every real difference diverges first at some hook, on a state
this check covers, so it lies in a suspect region and the exact re-check finds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .classes import Domain
from .evaluate import Outcome
from .symbolic import (
    Cube,
    Flow,
    SymbolicEngine,
    _bridge_split,
    _merge_final,
    bridge_candidate,
    cube_size,
    initial_cubes,
    merge_cubes,
)


@dataclass(frozen=True, slots=True)
class HookwiseResult:
    classes: int  # elementary classes of the domain
    regions: int  # pieces compared, summed over hooks
    suspects: tuple[Cube, ...]  # regions of initial packets to re-decide exactly (may overlap)


def check_domain(
    eng_a: SymbolicEngine, eng_b: SymbolicEngine, domain: Domain, br_netfilter: bool
) -> HookwiseResult:
    """Compare `eng_a` and `eng_b` hook by hook over `domain` (see the module docstring)."""
    first = initial_cubes(domain, br_netfilter)
    classes = sum(cube_size(c) for c in first)
    # Every class of every field at once, even combinations no packet has (ports on icmp, a new
    # connection already NATed): one cube instead of four, and a difference that only such
    # combinations show is a suspect, cleared by the exact re-check over real packets.
    everything = tuple((1 << len(fc)) - 1 for fc in domain.fields)
    inputs = [_plain(c, {}, (), cand) for c, cand in _candidates(eng_a, domain, everything)]
    regions = 0
    suspects: list[Cube] = []
    hooks = domain.path.hooks
    for k, hook in enumerate(hooks):
        reached: dict[tuple, tuple[dict, tuple]] = {}
        for group in inputs:
            went: dict[tuple, int] = {}  # result -> union of the folded field's masks
            for ca, ra in _step(eng_a, hook, (group.cube, group.rw, group.nats), group.candidate):
                for cb, rb in _step(eng_b, hook, (ca, group.rw, group.nats), group.candidate):
                    regions += 1
                    if ra != rb:
                        suspects.append(_preimage(domain, cb, group.free))
                    elif rb[0] == "go":
                        field = group.field
                        went[rb] = went.get(rb, 0) | (cb[field] if field is not None else 1)
            for (_, rw, nats), mask in went.items():
                for base_rw, base_nats in group.states_in(mask):
                    state_rw = {**base_rw, **dict(rw)}
                    key = (tuple(sorted(state_rw.items())), base_nats + nats)
                    reached.setdefault(key, (state_rw, key[1]))
        if k + 1 < len(hooks):
            inputs = fold(domain, everything, list(reached.values()))
    return HookwiseResult(classes, regions, tuple(merge_cubes(suspects)))


@dataclass(frozen=True, slots=True)
class _Group:
    """States entering a hook, decided in one run.

    A plain group is one state, its rewrites carried as values (`rw`) and its bindings in
    `nats`. A folded group is many states that rewrote the same fields and differ in the value
    of at most one (`field`): each rewritten field is pinned in `cube` to the class of its value,
    and the run starts with no rewrites and no bindings, so results say what *this* hook adds.
    An atom is a union of classes, so testing the class is testing the value. One run then
    covers, say, every network's DNAT to its own guest, where a run per state would cut the
    whole hook apart once per network.
    """

    cube: Cube
    rw: dict
    nats: tuple
    candidate: bool
    free: tuple  # fields whose value the earlier hooks chose (free in a suspect's preimage)
    field: int | None = None  # the folded field that tells the states apart
    states: tuple = ()  # folded: (class on `field` or 0, rewrites, bindings) per state

    def states_in(self, mask: int):
        """(rewrites, bindings) of each state whose class on `field` is in `mask`."""
        if not self.states:
            return [({}, ())]  # plain: the results are whole states already
        return [(rw, nats) for c, rw, nats in self.states if self.field is None or mask >> c & 1]


def _plain(cube: Cube, rw: dict, nats: tuple, candidate: bool = False) -> _Group:
    return _Group(cube, rw, nats, candidate, tuple(rw))


def fold(domain: Domain, everything: Cube, states: list[tuple[dict, tuple]]) -> list[_Group]:
    """The states entering a hook as groups (see `_Group`); each state is in exactly one.

    States are grouped by the fields they rewrote and the classes of all values but one; within
    a group each state must own its class on that one field. The field is chosen per set of
    rewritten fields to make the fewest groups; a state that fits nowhere is a plain group.
    """
    classed: dict[frozenset, list[tuple[dict, tuple, dict[int, int]]]] = {}
    groups: list[_Group] = []
    for rw, nats in states:
        found = {f: domain.fields[f].class_of(v) for f, v in rw.items()}
        classes = {f: c for f, c in found.items() if c is not None}
        if len(classes) < len(found):
            groups.append(_plain(everything, rw, nats))
            continue
        classed.setdefault(frozenset(rw), []).append((rw, nats, classes))
    for fields, members in classed.items():
        order = sorted(fields)
        best = min(
            order or [None],
            key=lambda f: len({_rest(m[2], f) for m in members}),
        )
        by_rest: dict[tuple, dict[int, tuple]] = {}
        for rw, nats, classes in members:
            slot = by_rest.setdefault(_rest(classes, best), {})
            c = classes[best] if best is not None else 0
            if c in slot:  # another state has this class: decided on its own
                groups.append(_plain(everything, rw, nats))
            else:
                slot[c] = (rw, nats)
        for rest, slot in by_rest.items():
            cube = list(everything)
            for f, c in rest:
                cube[f] = 1 << c
            if best is not None:
                cube[best] = sum(1 << c for c in slot)
            folded = tuple((c, rw, nats) for c, (rw, nats) in slot.items())
            groups.append(_Group(tuple(cube), {}, (), False, tuple(order), best, folded))
    return groups


def _rest(classes: dict, field) -> tuple:
    return tuple(sorted((f, c) for f, c in classes.items() if f != field))


def _candidates(eng: SymbolicEngine, domain: Domain, cube: Cube) -> list[tuple[Cube, bool]]:
    """`cube` as pieces that are bridge candidates in full or not at all (br_netfilter off)."""
    if not eng.pairs or not cube[0] & eng.pair_iifs:
        return [(cube, False)]
    return [
        (c, bridge_candidate(domain, c, eng.pairs))
        for c, _ in _bridge_split(domain, cube, eng.pairs)
    ]


def _step(eng: SymbolicEngine, hook, flow: Flow, candidate: bool) -> list[tuple[Cube, tuple]]:
    """The pieces of one flow at one hook, each with what happens to it there.

    ("end", outcome) when the hook stops the packet, ("go", rewrites, bindings) when it
    continues; the two sides agree on a piece when these are equal.
    """
    final: list[tuple[Cube, Outcome]] = []
    flows = eng.hook_step(hook, [flow], candidate, final)
    out: list[tuple[Cube, tuple]] = [(c, ("end", o)) for c, o in _merge_final(final)]
    for c, rw, nats in flows:
        out.append((c, ("go", tuple(sorted(rw.items())), nats)))
    return out


def _preimage(domain: Domain, cube: Cube, free) -> Cube:
    """Initial packets that can be in `cube` after rewriting the fields `free`: those are free."""
    region = list(cube)
    for f in free:
        region[f] = (1 << len(domain.fields[f])) - 1
    return tuple(region)


def intersect(a: Cube, b: Cube) -> Cube | None:
    cube = tuple(x & y for x, y in zip(a, b))
    return cube if all(cube) else None


def subtract(a: Cube, b: Cube) -> list[Cube]:
    """`a` minus `b` as disjoint cubes (at most one per field)."""
    if intersect(a, b) is None:
        return [a]
    out: list[Cube] = []
    rest = list(a)
    for f, m in enumerate(b):
        outside = rest[f] & ~m
        if outside:
            piece = list(rest)
            piece[f] = outside
            out.append(tuple(piece))
            rest[f] &= m
    return out


__all__ = ["HookwiseResult", "check_domain", "intersect", "subtract"]
