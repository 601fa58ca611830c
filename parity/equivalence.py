"""Decide whether two rulesets treat every packet the same, and find the simplest one they don't.

For each path (input, forward, output) and family, the class domain of both rulesets is built
(`classes.py`), A partitions it by outcome symbolically, B partitions each of A's cubes, and any
piece whose outcomes differ is a set of counterexample classes. A pass is a proof for the modelled
fragment. The default method decides each hook on its own first (`hookwise.py`), which keeps the
work linear in the number of networks, and re-decides only the regions it cannot clear that way.
`method="paths"` is the whole-path decision alone; `method="product"` evaluates every elementary
class concretely, one by one: the slow references the fast path is tested against.
"""

from __future__ import annotations

from typing import Any

import itertools
import time
from dataclasses import dataclass, field

from .classes import Domain, FieldClasses, build_domain
from .declared import DeclaredDifference, declared_differences
from .evaluate import Evaluation, Outcome, Packet, evaluate
from .model import CT_STATES, PORT_PROTOCOLS, Family, Field, Path, Ruleset
from .dispatch import bits
from .hookwise import check_domain, intersect, subtract
from .symbolic import Cube, SymbolicEngine, cube_size, initial_cubes

PATH_ORDER = (Path.FORWARD, Path.INPUT, Path.OUTPUT)
# Whole-path regions spent re-deciding suspects after a real difference is known, before the
# rest are left unchecked (the verdict is certain; only the count of differing classes grows).
RECHECK_BUDGET = 20_000
FAMILY_ORDER = (Family.IPV4, Family.IPV6)


@dataclass(frozen=True, slots=True)
class ClassDescription:
    """The set of packets a counterexample stands for, one readable range per field."""

    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Counterexample:
    packet: Packet
    region: ClassDescription
    a: Evaluation
    b: Evaluation
    classes: int  # elementary classes in the differing region


@dataclass(frozen=True, slots=True)
class VerifyResult:
    equivalent: bool
    classes: int  # elementary packet classes covered (the proof's size)
    regions: int  # cubes actually compared
    differing_classes: int
    counterexamples: tuple[Counterexample, ...]
    declared: tuple[DeclaredDifference, ...]
    seconds: float
    label_a: str = "A"
    label_b: str = "B"
    per_domain: tuple[tuple[str, int, int], ...] = field(default=())
    # suspect regions left unchecked once a difference was certain: differing_classes is then
    # a lower bound (see `verify`)
    unchecked_regions: int = 0


# -- choosing simple members ------------------------------------------------------------------


def _proto_key(rep: int) -> tuple:
    order = {6: 0, 17: 1, 1: 2, 58: 2}
    return (order.get(rep, 3), rep)


def class_key(fc: FieldClasses, i: int) -> tuple:
    f = fc.field
    rep = fc.reps[i]
    if f in (Field.IIF, Field.OIF):
        assert fc.labels is not None  # interface classes have labels
        lab = fc.labels[i]
        return (0 if lab == rep else 1 if "*" in lab else 2, str(rep))
    if f is Field.L4PROTO:
        return _proto_key(rep)
    if f is Field.CT:
        return (CT_STATES.index(rep),)
    if fc.spans is not None:
        lo, hi = fc.spans[i]
        return (hi - lo, lo)
    return (rep is not False, str(rep))


_NICE = {
    (Field.SADDR, Family.IPV4): (0xC6336401, 0xCB007101),  # 198.51.100.1, 203.0.113.1
    (Field.DADDR, Family.IPV4): (0xC6336401, 0xCB007101),
    (Field.SADDR, Family.IPV6): (0x20010DB8FFFF << 80 | 1,),  # 2001:db8:ffff::1
    (Field.DADDR, Family.IPV6): (0x20010DB8FFFF << 80 | 1,),
    (Field.SPORT, None): (40000,),
    (Field.DPORT, None): (443, 80),
}


def nice_value(fc: FieldClasses, i: int, family: Family) -> Any:
    """A readable member of class i: documentation addresses and common ports when inside."""
    rep = fc.reps[i]
    if fc.spans is None or rep is None:
        return rep
    lo, hi = fc.spans[i]
    is_addr = fc.field in (Field.SADDR, Field.DADDR)
    for value in _NICE.get((fc.field, family if is_addr else None), ()):
        if lo <= value <= hi and (not is_addr or hi - lo > 0xFFFF):
            return value
    if is_addr:
        step = 10 if family is Family.IPV4 else 0x10
        return lo + step if hi - lo >= step else lo
    if fc.field in (Field.SPORT, Field.DPORT) and lo == 0 and hi > 0:
        return 1
    return lo


KEY_FIELDS = (
    Field.CT,
    Field.L4PROTO,
    Field.IIF,
    Field.OIF,
    Field.DPORT,
    Field.SPORT,
    Field.DADDR,
    Field.SADDR,
    Field.CT_DNAT,
    Field.CT_SNAT,
    Field.DADDR_LOCAL,
)


def best_index(fc: FieldClasses, mask: int) -> int:
    """The simplest class in `mask` (least `class_key`, then least index)."""
    order, rank = _class_order(fc)
    if mask.bit_count() <= 64:
        return min(bits(mask), key=rank.__getitem__)
    for i in order:
        if mask >> i & 1:
            return i
    raise AssertionError("empty class mask")


_ORDERS: dict[int, tuple[FieldClasses, list[int], list[int]]] = {}


def _class_order(fc: FieldClasses) -> tuple[list[int], list[int]]:
    """Class indices from simplest to least simple, and each index's rank (cached per field:
    with thousands of classes, ranking them for every region was the cost of reporting)."""
    hit = _ORDERS.get(id(fc))
    if hit is None or hit[0] is not fc:
        if len(_ORDERS) > 256:
            _ORDERS.clear()
        order = sorted(range(len(fc)), key=lambda i: (class_key(fc, i), i))
        rank = [0] * len(fc)
        for r, i in enumerate(order):
            rank[i] = r
        hit = _ORDERS[id(fc)] = (fc, order, rank)
    return hit[1], hit[2]


def cube_key(domain: Domain, cube: Cube) -> tuple:
    key: list = [PATH_ORDER.index(domain.path), FAMILY_ORDER.index(domain.family)]
    for f in KEY_FIELDS:
        fc = domain.fields[f]
        key.append(class_key(fc, best_index(fc, cube[f])))
    return tuple(key)


def packet_in(domain: Domain, choice: dict[Field, int]) -> Packet:
    def val(f: Field) -> Any:
        return nice_value(domain.fields[f], choice[f], domain.family)

    return Packet(
        path=domain.path,
        family=domain.family,
        iif=val(Field.IIF),
        oif=val(Field.OIF),
        saddr=val(Field.SADDR),
        daddr=val(Field.DADDR),
        l4proto=val(Field.L4PROTO),
        sport=val(Field.SPORT),
        dport=val(Field.DPORT),
        ct=val(Field.CT),
        ct_dnat=val(Field.CT_DNAT),
        ct_snat=val(Field.CT_SNAT),
        daddr_local=val(Field.DADDR_LOCAL),
    )


def simplest_packet(domain: Domain, cube: Cube) -> Packet:
    choice = {}
    for f in Field:
        fc = domain.fields[f]
        choice[f] = best_index(fc, cube[f])
        if f in (Field.SADDR, Field.DADDR) and cube[f] == (1 << len(fc)) - 1:
            # unconstrained address: show an outside host rather than the narrowest class
            nice = _NICE[(f, domain.family)][0]
            choice[f] = fc.index_of(nice)
    return packet_in(domain, choice)


def describe_cube(domain: Domain, cube: Cube) -> ClassDescription:
    from .report import describe_field_mask

    parts = []
    for f in KEY_FIELDS:
        text = describe_field_mask(domain, f, cube[f])
        if text is not None:
            parts.append((f.name.lower(), text))
    return ClassDescription(tuple(parts))


# -- the decision -----------------------------------------------------------------------------


def domains(a: Ruleset, b: Ruleset):
    for path in PATH_ORDER:
        for family in FAMILY_ORDER:
            yield build_domain((a, b), path, family)


def verify(
    a: Ruleset,
    b: Ruleset,
    *,
    br_netfilter: bool = True,
    method: str = "symbolic",
    max_counterexamples: int = 3,
) -> VerifyResult:
    """Decide equivalence of `a` and `b` exhaustively over the modelled fragment.

    `method`: "symbolic" decides hook by hook and re-decides only suspect regions over whole
    paths (`hookwise.py`); "paths" pushes the whole domain through whole paths (quadratic in the
    number of networks); "product" evaluates every elementary class concretely (the reference).
    """
    start = time.perf_counter()
    if method not in ("symbolic", "paths", "product"):
        raise ValueError(f"unknown method {method!r}")
    diffs: list[tuple[tuple, Domain, Cube]] = []
    stats: list[list] = []  # per domain: [name, classes, regions]
    suspects: list[tuple[tuple, int, Domain, tuple, Cube]] = []
    differing = 0
    for domain in domains(a, b):
        row: list = [f"{domain.path.value}/{domain.family.value}", 0, 0]  # label, cubes, regions
        stats.append(row)
        if method == "product":
            for cube in product_cubes(domain, br_netfilter):
                pkt = simplest_packet(domain, cube)
                row[1] += 1
                row[2] += 1
                if evaluate(a, pkt, br_netfilter).outcome != evaluate(b, pkt, br_netfilter).outcome:
                    differing += 1
                    diffs.append((cube_key(domain, cube), domain, cube))
            continue
        engines = (SymbolicEngine(a, domain, br_netfilter), SymbolicEngine(b, domain, br_netfilter))
        first = initial_cubes(domain, br_netfilter)
        if method == "paths":
            row[1] = sum(cube_size(c) for c in first)
            n_regions, n_diff = _whole_paths(engines, domain, first, diffs)
            row[2] += n_regions
            differing += n_diff
            continue
        hooks = check_domain(*engines, domain, br_netfilter)
        row[1], row[2] = hooks.classes, hooks.regions
        for s in hooks.suspects:
            suspects.append((cube_key(domain, s), len(suspects), domain, (engines, first, row), s))
    # Suspect regions, simplest first, re-decided exactly over whole paths. Every one must be
    # cleared to prove equivalence; once a real difference is known, the rest only refine the
    # count, so that stops after a budget (a bug in every network would otherwise cost N^2).
    suspects.sort(key=lambda t: t[:2])
    spent = unchecked = 0
    checked: dict[int, list[Cube]] = {}  # per domain: regions re-decided so far
    for i, (_, _, domain, (engines, first, row), region) in enumerate(suspects):
        if diffs and spent > RECHECK_BUDGET:
            unchecked = len(suspects) - i
            break
        done = checked.setdefault(id(row), [])
        parts = [region]  # suspects may overlap: count no class twice
        for other in done:
            parts = [q for part in parts for q in subtract(part, other)]
        done.append(region)
        cubes = [c for c0 in first for part in parts if (c := intersect(c0, part))]
        n_regions, n_diff = _whole_paths(engines, domain, cubes, diffs)
        row[2] += n_regions
        spent += n_regions
        differing += n_diff
    total = sum(row[1] for row in stats)
    regions = sum(row[2] for row in stats)
    per_domain = [tuple(row) for row in stats]
    examples = []
    for domain, cube in _simplest_regions(diffs, max_counterexamples):
        pkt = simplest_packet(domain, cube)
        ea, eb = evaluate(a, pkt, br_netfilter), evaluate(b, pkt, br_netfilter)
        if ea.outcome == eb.outcome:
            # a bug, not bad input: the CLI reports it as an internal error (exit 3), not exit 2
            raise RuntimeError(f"symbolic and concrete evaluation disagree on {pkt}")
        examples.append(Counterexample(pkt, describe_cube(domain, cube), ea, eb, cube_size(cube)))
    return VerifyResult(
        equivalent=not diffs,
        classes=total,
        regions=regions,
        differing_classes=differing,
        counterexamples=tuple(examples),
        declared=declared_differences(a, b),
        seconds=time.perf_counter() - start,
        label_a=a.label or "A",
        label_b=b.label or "B",
        per_domain=tuple(per_domain),
        unchecked_regions=unchecked,
    )


def _whole_paths(engines, domain: Domain, cubes: list[Cube], diffs: list) -> tuple[int, int]:
    """A partitions `cubes` over whole paths, B each of A's pieces; differing pieces go to
    `diffs`. Returns (regions compared, classes differing)."""
    eng_a, eng_b = engines
    regions = differing = 0
    for cube0 in cubes:
        for ca, oa in eng_a.evaluate(cube0):
            for cb, ob in eng_b.evaluate(ca):
                regions += 1
                if oa != ob:
                    differing += cube_size(cb)
                    diffs.append((cube_key(domain, cb), domain, cb))
    return regions, differing


def _refine(domain: Domain, cube: Cube) -> list[Cube] | None:
    """Split a differing region into one region per service (protocol group, dport class).

    Merged cubes are coarse; a report wants one counterexample per distinct service that
    differs (tcp/53 and tcp/68 are two findings, not one). Returns None when already atomic.
    """
    from .classes import port_proto_mask

    protos = domain.fields[Field.L4PROTO]
    groups = []
    for pick in (6, 17):
        if pick in protos.reps:
            groups.append(1 << protos.reps.index(pick))
    ports = port_proto_mask(domain)
    rest_ports = ports & ~sum(groups)
    groups += [rest_ports, ((1 << len(protos)) - 1) & ~ports]
    parts = [g & cube[Field.L4PROTO] for g in groups if g & cube[Field.L4PROTO]]
    if len(parts) > 1:
        return [_with(cube, Field.L4PROTO, m) for m in parts]
    dport = cube[Field.DPORT]
    if dport.bit_count() > 1:
        return [
            _with(cube, Field.DPORT, 1 << i) for i in range(dport.bit_length()) if dport >> i & 1
        ]
    return None


def _with(cube: Cube, f: Field, mask: int) -> Cube:
    return cube[:f] + (mask,) + cube[f + 1 :]


def _simplest_regions(diffs, limit: int):
    """The `limit` simplest per-service regions, best-first (a cube's key bounds its parts')."""
    import heapq

    heap = [(key, n, domain, cube) for n, (key, domain, cube) in enumerate(diffs)]
    heapq.heapify(heap)
    counter = len(heap)
    out: list[tuple[Domain, Cube]] = []
    while heap and len(out) < limit:
        _, _, domain, cube = heapq.heappop(heap)
        parts = _refine(domain, cube)
        if parts is None:
            out.append((domain, cube))
            continue
        for part in parts:
            counter += 1
            heapq.heappush(heap, (cube_key(domain, part), counter, domain, part))
    return out


def product_cubes(domain: Domain, br_netfilter: bool):
    """Every elementary class as a single-class cube (the naive product enumeration)."""
    for c0 in initial_cubes(domain, br_netfilter):
        bits = [
            [1 << i for i in range(len(fc)) if c0[f] >> i & 1]
            for f, fc in zip(Field, domain.fields)
        ]
        yield from itertools.product(*bits)


def outcomes_differ(a: Ruleset, b: Ruleset, pkt: Packet, br_netfilter: bool = True) -> bool:
    return evaluate(a, pkt, br_netfilter).outcome != evaluate(b, pkt, br_netfilter).outcome


__all__ = ["verify", "VerifyResult", "Counterexample", "Outcome", "PORT_PROTOCOLS"]
