"""`netc verify --sample N`: random packets inside the classes, evaluated on both sides.

A cheap second opinion next to the exhaustive decision, for huge inputs or a doubt about the
symbolic engine: it shares only the class domain and the concrete evaluator with it. Packets are
drawn with plain seeded `random` (no hypothesis, so a run is reproducible from its seed): a path
and family at random, a class per field inside one of the domain's initial cubes (so ports exist
only for port protocols and new connections carry no NAT status), a value inside each class.
"""

from __future__ import annotations

from typing import Any

import random
from dataclasses import dataclass

from .classes import Domain, FieldClasses
from .equivalence import domains
from .evaluate import Evaluation, Packet, evaluate
from .model import Field, Ruleset
from .symbolic import cube_size, initial_cubes


@dataclass(frozen=True, slots=True)
class SampleDifference:
    packet: Packet
    a: Evaluation
    b: Evaluation


@dataclass(frozen=True, slots=True)
class SampleResult:
    seed: int
    drawn: int
    differing: int
    examples: tuple[SampleDifference, ...]


def _value(fc: FieldClasses, i: int, rng: random.Random) -> Any:  # the field's value type
    if fc.spans is None or fc.reps[i] is None:
        return fc.reps[i]
    lo, hi = fc.spans[i]
    return rng.randint(lo, hi)


def _draw(domain: Domain, cubes: list, weights: list[int], rng: random.Random) -> Packet:
    cube = rng.choices(cubes, weights)[0]
    values: dict[Field, Any] = {}
    for f in Field:
        fc = domain.fields[f]
        bits = [i for i in range(len(fc)) if cube[f] >> i & 1]
        values[f] = _value(fc, rng.choice(bits), rng)
    return Packet(
        path=domain.path,
        family=domain.family,
        iif=values[Field.IIF],
        oif=values[Field.OIF],
        saddr=values[Field.SADDR],
        daddr=values[Field.DADDR],
        l4proto=values[Field.L4PROTO],
        sport=values[Field.SPORT],
        dport=values[Field.DPORT],
        ct=values[Field.CT],
        ct_dnat=values[Field.CT_DNAT],
        ct_snat=values[Field.CT_SNAT],
        daddr_local=values[Field.DADDR_LOCAL],
    )


def sample(
    a: Ruleset,
    b: Ruleset,
    n: int,
    *,
    seed: int = 0,
    br_netfilter: bool = True,
    max_examples: int = 3,
) -> SampleResult:
    """Draw `n` packets over every path and family and compare both sides' outcomes."""
    rng = random.Random(seed)
    spaces = []
    for domain in domains(a, b):
        cubes = initial_cubes(domain, br_netfilter)
        if cubes:
            spaces.append((domain, cubes, [cube_size(c) for c in cubes]))
    differing = 0
    examples: list[SampleDifference] = []
    for _ in range(n if spaces else 0):
        domain, cubes, weights = rng.choice(spaces)
        pkt = _draw(domain, cubes, weights, rng)
        ea, eb = evaluate(a, pkt, br_netfilter), evaluate(b, pkt, br_netfilter)
        if ea.outcome != eb.outcome:
            differing += 1
            if len(examples) < max_examples:
                examples.append(SampleDifference(pkt, ea, eb))
    return SampleResult(seed, n, differing, tuple(examples))


def format_sample(result: SampleResult) -> str:
    from .report import format_evaluation, format_packet

    lines = [
        f"sampled {result.drawn} random packets (seed {result.seed}): "
        f"{result.differing} treated differently"
    ]
    for ex in result.examples:
        lines.append(f"sampled difference: {format_packet(ex.packet)}")
        lines.append(f"  A: {format_evaluation(ex.a)}")
        lines.append(f"  B: {format_evaluation(ex.b)}")
    return "\n".join(lines)


__all__ = ["SampleResult", "sample", "format_sample"]
