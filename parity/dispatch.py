"""Which rules and verdict-map keys can meet a cube, found by index instead of by scanning.

With N networks a dispatch chain has O(N) rules (iptables: one `-i`/`-o`/`-s` rule per network)
and a verdict map O(N) keys (nft: one per bridge or subnet). A cube for one network meets O(1)
of them; testing all of them for every cube costs N per cube, N^2 in all. So each rule (and each
vmap key) is filed under the classes it can match on the dispatch fields (interfaces and
addresses), and a cube looks up only the classes it holds on its narrowest field.

The index only ever skips entries whose class mask does not meet the cube on some field, which
`SymbolicEngine.split` would reject anyway; it is derived from the masks of the rule text, not
from netc's names. A query is a cube in which every field NAT has rewritten holds the class of
its new value instead (`SymbolicEngine.view`): a rule tests the rewritten value, and an atom is a
union of classes, so it matches that value exactly when its mask holds that class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from typing import TypeVar

from .model import Field

E = TypeVar("E")

DISPATCH_FIELDS = (Field.IIF, Field.OIF, Field.SADDR, Field.DADDR)
NARROW = 64  # an entry whose mask holds more classes than this is listed as "wide" (always tried)


def bits(mask: int):
    """Indices of the set bits of a non-negative mask, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


@dataclass(frozen=True, slots=True)
class FieldIndex:
    """For one field: entry positions by class, plus the entries that are too wide to file."""

    by_class: dict[int, list[int]]
    wide: list[int]
    wide_set: frozenset[int]


def build_field_index(masks: Sequence[int]) -> FieldIndex:
    """`masks[p]` is entry p's class mask on the field (-1: the entry does not test it)."""
    by_class: dict[int, list[int]] = {}
    wide: list[int] = []
    for p, m in enumerate(masks):
        if m < 0 or m.bit_count() > NARROW:
            wide.append(p)
        else:
            for i in bits(m):
                by_class.setdefault(i, []).append(p)
    return FieldIndex(by_class, wide, frozenset(wide))


def candidates(index: FieldIndex, mask: int) -> list[int]:
    """Positions (in order) of the entries that may meet `mask` (a superset, never fewer)."""
    found = set(index.wide)
    for i in bits(mask):
        found.update(index.by_class.get(i, ()))
    return sorted(found)


@dataclass(frozen=True, slots=True)
class EntryIndex:
    """Entries (rules or vmap keys) with their masks on the dispatch fields, indexed per field."""

    masks: tuple[tuple[int, ...], ...]  # per entry, one mask per field of `fields`
    fields: tuple[Field, ...]
    per_field: tuple[FieldIndex, ...]
    cache: dict = field(default_factory=dict, compare=False)  # query -> [cost, field, entries]
    sets: dict = field(default_factory=dict, compare=False)  # (field, mask) -> entries

    def lookup(self, view: Sequence[int]) -> list[int]:
        """Positions of the entries that can meet the query cube `view`, in order."""
        found = self.narrow_lookup(view, len(self.masks) + 1)
        assert found is not None
        return found

    def narrow_lookup(self, view: Sequence[int], limit: int) -> list[int] | None:
        """Like `lookup`, or None when no field narrows the search below `limit` entries.

        The entries are only tested once that is known, so declining costs O(fields)."""
        query = [view[f] for f in self.fields]
        key = tuple(query)
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = [*self._narrowest(query), None]
        cost, best, found = hit
        if cost >= limit:
            return None
        if found is None:
            pool: Iterable[int]
            if best < 0:
                pool = range(len(self.masks))
            else:
                pool = self._intersect(query, best)
            found = hit[2] = [p for p in pool if self._meets(p, query)]
        return found

    def _intersect(self, query: list[int], best: int) -> list[int]:
        """The narrowest field's candidates, less those another narrow field rules out.

        Set operations, not a test of each entry: a piece of one bridge in the state of another
        network's DNAT meets neither network's rules, and finds that out in C, not per rule.
        """
        pool = frozenset(candidates(self.per_field[best], query[best]))
        for k, m in enumerate(query):
            if k == best or m < 0 or m.bit_count() > NARROW or not pool:
                continue
            filed = self._filed(k, m)
            pool = (pool & filed) | (pool & self.per_field[k].wide_set)
        return sorted(pool)

    def _filed(self, k: int, mask: int) -> frozenset[int]:
        """The entries filed under a class of `mask` on field `k` (the wide ones not included)."""
        key = (k, mask)
        hit = self.sets.get(key)
        if hit is None:
            by_class = self.per_field[k].by_class
            hit = self.sets[key] = frozenset(p for i in bits(mask) for p in by_class.get(i, ()))
        return hit

    def _narrowest(self, query: list[int]) -> tuple[int, int]:
        """(entries to test, field) for the field whose index narrows most (-1: none does)."""
        best_cost, best = len(self.masks), -1
        for k, m in enumerate(query):
            if m < 0 or m.bit_count() > NARROW:
                continue
            index = self.per_field[k]
            cost = len(index.wide)
            for i in bits(m):
                cost += len(index.by_class.get(i, ()))
            if cost < best_cost:
                best_cost, best = cost, k
        return best_cost, best

    def _meets(self, p: int, query: list[int]) -> bool:
        return all(r & q for r, q in zip(self.masks[p], query) if q >= 0)


def build_entry_index(
    entries: Sequence[E], masks_of: Callable[[E], dict], fields=DISPATCH_FIELDS
) -> EntryIndex:
    """Index `entries` by `masks_of(entry)`, a dict field -> mask (absent: not tested)."""
    rows = []
    for entry in entries:
        need = masks_of(entry)
        rows.append(tuple(need.get(f, -1) for f in fields))
    per_field = tuple(build_field_index([row[k] for row in rows]) for k in range(len(fields)))
    return EntryIndex(tuple(rows), tuple(fields), per_field)


__all__ = ["DISPATCH_FIELDS", "EntryIndex", "build_entry_index", "bits", "candidates"]
