"""Equivalence classes per header field, induced by every constant in both rulesets.

Each numeric field (addresses, protocol, ports) is cut at `lo` and `hi + 1` of every interval any
atom of either ruleset mentions, giving elementary intervals; interface names split into each
literal, one made-up name per wildcard prefix, and one name matching nothing. Every atom is then a
union of classes, so all packets in a product of classes get the same outcome on both sides, and
checking one representative per class is a proof for the modelled fragment.
"""

from __future__ import annotations

from typing import Any

import bisect
from dataclasses import dataclass

from .model import (
    CT_STATES,
    PORT_PROTOCOLS,
    Atom,
    Family,
    Field,
    Intervals,
    Kind,
    Names,
    Path,
    Ruleset,
)


@dataclass(frozen=True, slots=True)
class FieldClasses:
    """The classes of one field: representatives plus, for intervals, their bounds."""

    field: Field
    reps: tuple  # one representative value per class (None = field absent)
    spans: tuple[tuple[int, int], ...] | None = None  # for interval fields
    labels: tuple[str, ...] | None = None  # for interface classes

    def __len__(self) -> int:
        return len(self.reps)

    def index_of(self, value: Any) -> int:  # the field's value type
        if len(self.reps) == 1:
            return 0
        if self.spans is not None and value is not None:
            # by the spans' starts, without copying them out (O(log n), called per NAT state)
            return bisect.bisect_right(self.spans, value, key=lambda span: span[0]) - 1
        return self.reps.index(value)

    def class_of(self, value: Any) -> int | None:
        """The class holding `value`, or None when no class does (a value of another type,
        below every interval, or a name no class stands for)."""
        try:
            i = self.index_of(value)
        except (ValueError, TypeError):
            return None
        if not 0 <= i < len(self.reps):
            return None
        if self.spans is not None and value is not None:
            lo, hi = self.spans[i]
            return i if lo <= value <= hi else None
        return i if self.reps[i] == value else None


@dataclass(frozen=True, slots=True)
class Domain:
    path: Path
    family: Family
    fields: tuple[FieldClasses, ...]  # indexed by Field

    def size(self) -> int:
        n = 1
        for f in self.fields:
            n *= len(f)
        return n


def iter_atoms(ruleset: Ruleset, family: Family):
    for table in ruleset.tables:
        if family not in table.families:
            continue
        for chain in table.chains.values():
            for rule in chain.rules:
                yield from rule.atoms
                for key, _ in rule.action.vmap:
                    yield key


def _interval_classes(field: Field, atoms: list[Atom], top: int, extra=()) -> FieldClasses:
    cuts = {0}
    for atom in atoms:
        assert isinstance(atom.test, Intervals)
        for lo, hi in atom.test.spans:
            cuts.add(lo)
            if hi + 1 <= top:
                cuts.add(hi + 1)
    for value in extra:
        cuts.add(value)
        if value + 1 <= top:
            cuts.add(value + 1)
    starts = sorted(cuts)
    spans = tuple(
        (s, (starts[i + 1] - 1) if i + 1 < len(starts) else top) for i, s in enumerate(starts)
    )
    return FieldClasses(field, tuple(s[0] for s in spans), spans)


def _iface_classes(
    field: Field, atoms: list[Atom], shared: frozenset[str], tag: str
) -> FieldClasses:
    """Classes of an interface field.

    `shared` holds the literal names of *both* interface fields, so a name seen only as iif
    (`iifname "eth0"`) is its own oif class too: the same-interface pair is then one exact class
    pair, which the bridged-traffic model (`symbolic.initial_cubes`) relies on. `tag` makes the
    made-up members of unnamed classes differ between iif and oif, so a representative packet of
    such a class pair never has iif = oif by accident (it stands for different interfaces).
    """
    literals: set[str] = set(shared)
    prefixes: set[str] = set()
    for atom in atoms:
        assert isinstance(atom.test, Names)
        for p in atom.test.patterns:
            if p.endswith("*"):
                prefixes.add(p[:-1])
            else:
                literals.add(p)
    reps: list[str] = sorted(literals)
    labels: list[str] = list(reps)
    for prefix in sorted(prefixes):
        rep = prefix + "~" + tag
        while rep in literals or any(
            q.startswith(prefix) and q != prefix and rep.startswith(q) for q in prefixes
        ):
            rep += tag
        reps.append(rep)
        labels.append(f"{prefix}* (unnamed)")
    everything = Names(tuple(sorted(literals)) + tuple(p + "*" for p in prefixes))
    other = f"other-{tag}"
    while everything.contains(other):
        other = "o" + other
    if not any(p == "" for p in prefixes):
        reps.append(other)
        labels.append("any other")
    return FieldClasses(field, tuple(reps), None, tuple(labels))


def _literal_names(atoms: list[Atom]) -> set[str]:
    return {
        p
        for atom in atoms
        if isinstance(atom.test, Names)
        for p in atom.test.patterns
        if not p.endswith("*")
    }


def build_domain(rulesets: tuple[Ruleset, ...], path: Path, family: Family) -> Domain:
    by_field: dict[Field, list[Atom]] = {f: [] for f in Field}
    for rs in rulesets:
        for atom in iter_atoms(rs, family):
            if atom.family is not None and atom.family is not family:
                continue
            by_field[atom.field].append(atom)
        # NAT targets land on constants too, so their values are exact class members.
    top = (1 << family.bits) - 1
    shared = frozenset(_literal_names(by_field[Field.IIF]) | _literal_names(by_field[Field.OIF]))
    fields: list[FieldClasses] = []
    for f in Field:
        atoms = by_field[f]
        if f is Field.IIF:
            fc = (
                FieldClasses(f, (None,), labels=("-",))
                if path is Path.OUTPUT
                else _iface_classes(f, atoms, shared, "i")
            )
        elif f is Field.OIF:
            fc = (
                FieldClasses(f, (None,), labels=("-",))
                if path is Path.INPUT
                else _iface_classes(f, atoms, shared, "o")
            )
        elif f in (Field.SADDR, Field.DADDR):
            fc = _interval_classes(f, atoms, top)
        elif f is Field.L4PROTO:
            fc = _interval_classes(f, atoms, 255, sorted(PORT_PROTOCOLS | {1, 58}))
        elif f in (Field.SPORT, Field.DPORT):
            inner = _interval_classes(f, atoms, 65535)
            assert inner.spans is not None
            # class 0 is "no ports" (icmp, ...); the rest are real port intervals
            fc = FieldClasses(f, (None,) + inner.reps, ((-1, -1),) + inner.spans)
        elif f is Field.CT:
            fc = FieldClasses(f, CT_STATES)
        elif f in (Field.CT_DNAT, Field.CT_SNAT, Field.DADDR_LOCAL):
            fc = FieldClasses(f, (False, True) if atoms else (False,))
        else:  # NFPROTO
            fc = FieldClasses(f, (family,))
        fields.append(fc)
    return Domain(path, family, tuple(fields))


def port_proto_mask(domain: Domain) -> int:
    mask = 0
    for i, rep in enumerate(domain.fields[Field.L4PROTO].reps):
        if rep in PORT_PROTOCOLS:
            mask |= 1 << i
    return mask


def literal_iface_indices(fc: FieldClasses) -> list[int]:
    return [i for i, lab in enumerate(fc.labels or ()) if lab == fc.reps[i]]


__all__ = ["Domain", "FieldClasses", "build_domain", "Kind"]
