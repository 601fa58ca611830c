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
    inputs: list[tuple[Cube, dict, tuple, bool]] = [
        (c, {}, (), cand) for c, cand in _candidates(eng_a, domain, everything)
    ]
    regions = 0
    suspects: list[Cube] = []
    hooks = domain.path.hooks
    for k, hook in enumerate(hooks):
        reached: dict[tuple, tuple[dict, tuple]] = {}
        for cube, rw, nats, candidate in inputs:
            for ca, ra in _step(eng_a, hook, (cube, rw, nats), candidate):
                for cb, rb in _step(eng_b, hook, (ca, rw, nats), candidate):
                    regions += 1
                    if ra != rb:
                        suspects.append(_preimage(domain, cb, rw))
                    elif rb[0] == "go":
                        reached.setdefault(rb[1:], (dict(rb[1]), rb[2]))
        if k + 1 < len(hooks):
            inputs = [(everything, rw, nats, False) for rw, nats in reached.values()]
    return HookwiseResult(classes, regions, tuple(merge_cubes(suspects)))


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


def _preimage(domain: Domain, cube: Cube, rw: dict) -> Cube:
    """Initial packets that can be in `cube` after the rewrites `rw`: rewritten fields are free."""
    region = list(cube)
    for f in rw:
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
