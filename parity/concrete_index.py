"""Which rules of a chain, and which verdict-map entry, one concrete packet can meet.

The concrete evaluator scans a chain rule by rule, as the kernel does. With N networks a
dispatch chain holds O(N) rules, so checking a spec (a few packets per network) costs N^2 rule
visits: 98 s at 1,000 networks. Here each chain's rules are filed by the literal interface names
and the address intervals they require, so a packet visits only the rules that can match it,
still in order. Only rules that cannot match are skipped; a rule whose test on a field is
negated, a wildcard or missing-aware stays in the "always" list. When the caller counts rules
examined (`rules_seen`, the kernel-cost model of bench/traverse.py) the evaluator scans instead.
"""

from __future__ import annotations

from typing import Any

from bisect import bisect_right
from dataclasses import dataclass

from .model import Atom, Chain, Field, Intervals, Names

_FIELDS = (Field.IIF, Field.OIF, Field.SADDR, Field.DADDR)
MAX_FILINGS = 8  # per rule on average; beyond that an interval field is not worth indexing


@dataclass(frozen=True, slots=True)
class _FieldFile:
    field: Field
    always: tuple[int, ...]  # rules that may match whatever the value
    names: dict[str, tuple[int, ...]] | None  # interface fields: literal -> rules
    starts: list[int] | None  # interval fields: elementary interval starts
    spans: list[tuple[int, ...]] | None  # rules per elementary interval


def _required(atom: Atom) -> bool:
    """The atom holds only for values inside its test (so a value outside rules the rule out)."""
    return not atom.negate and not atom.missing


def _file_names(chain: Chain, field: Field) -> _FieldFile | None:
    always: list[int] = []
    names: dict[str, list[int]] = {}
    filed = 0
    for p, rule in enumerate(chain.rules):
        tests = [
            a.test
            for a in rule.atoms
            if a.field is field and _required(a) and isinstance(a.test, Names)
        ]
        literal = [t for t in tests if not any(q.endswith("*") for q in t.patterns)]
        if not literal:
            always.append(p)
            continue
        filed += 1
        for name in literal[0].patterns:
            names.setdefault(name, []).append(p)
    if not filed:
        return None
    return _FieldFile(field, tuple(always), {k: tuple(v) for k, v in names.items()}, None, None)


def _file_spans(chain: Chain, field: Field) -> _FieldFile | None:
    always: list[int] = []
    filed: list[tuple[int, tuple[tuple[int, int], ...]]] = []
    for p, rule in enumerate(chain.rules):
        tests = [
            a.test
            for a in rule.atoms
            if a.field is field and _required(a) and isinstance(a.test, Intervals)
        ]
        if not tests:
            always.append(p)
        else:
            filed.append((p, tests[0].spans))
    if not filed:
        return None
    cuts = sorted({v for _, spans in filed for lo, hi in spans for v in (lo, hi + 1)})
    per: list[list[int]] = [[] for _ in cuts]
    total = 0
    for p, spans in filed:
        for lo, hi in spans:
            i = bisect_right(cuts, lo) - 1
            while i < len(cuts) and cuts[i] <= hi:
                per[i].append(p)
                i += 1
                total += 1
        if total > MAX_FILINGS * len(chain.rules):
            return None
    return _FieldFile(field, tuple(always), None, cuts, [tuple(x) for x in per])


def _candidates(ff: _FieldFile, value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if ff.names is not None:
        return ff.names.get(value, ())
    assert ff.starts is not None and ff.spans is not None  # an interval field
    i = bisect_right(ff.starts, value) - 1
    return ff.spans[i] if i >= 0 else ()


@dataclass(frozen=True, slots=True)
class ChainFile:
    """A chain's rules filed per dispatch field (see the module docstring)."""

    size: int
    files: tuple[_FieldFile, ...]

    def rules_for(self, get) -> list[int] | range:
        """Positions of rules that may match a packet (`get(field)` reads it), in order."""
        best: tuple[int, ...] | None = None
        best_always: tuple[int, ...] = ()
        for ff in self.files:
            found = _candidates(ff, get(ff.field))
            if found is None:
                continue
            if best is None or len(found) + len(ff.always) < len(best) + len(best_always):
                best, best_always = found, ff.always
        if best is None:
            return range(self.size)
        return sorted(set(best).union(best_always))


_FILES: dict[int, tuple[Chain, ChainFile]] = {}


def chain_file(chain: Chain) -> ChainFile:
    hit = _FILES.get(id(chain))
    if hit is None or hit[0] is not chain:
        if len(_FILES) > 100_000:
            _FILES.clear()
        files = []
        for f in _FIELDS:
            ff = _file_names(chain, f) if f in (Field.IIF, Field.OIF) else _file_spans(chain, f)
            if ff is not None:
                files.append(ff)
        hit = _FILES[id(chain)] = (chain, ChainFile(len(chain.rules), tuple(files)))
    return hit[1]


_VMAPS: dict[int, tuple[object, tuple[Field | None, Any]]] = {}


def vmap_first(action, get) -> int | None:
    """Index of the first verdict-map key the packet (`get(field)` reads it) matches, for maps
    whose keys are all plain literal names or all address/port intervals on one field (nft
    `iifname vmap { "a" : ... }`, `ip saddr vmap { 10.0.1.0/24 : ... }`); -1 when the map is
    not of that kind (the caller scans), None when no key matches."""
    hit = _VMAPS.get(id(action))
    if hit is None or hit[0] is not action:
        if len(_VMAPS) > 100_000:
            _VMAPS.clear()
        hit = _VMAPS[id(action)] = (action, _vmap_table(action))
    field, table = hit[1]
    if table is None:
        return -1
    value = get(field)
    if value is None:
        return -1
    if isinstance(table, dict):
        return table.get(value)
    starts, first = table
    i = bisect_right(starts, value) - 1
    return first[i] if i >= 0 else None


def _vmap_table(action) -> tuple[Field | None, Any]:  # a dict, (starts, first) or None
    keys = [key for key, _ in action.vmap]
    fields = {key.field for key in keys}
    if len(fields) != 1 or not all(_required(key) for key in keys):
        return None, None
    field = fields.pop()
    if all(isinstance(k.test, Names) for k in keys):
        names: dict[str, int] = {}
        for i, key in enumerate(keys):
            if any(q.endswith("*") for q in key.test.patterns):
                return None, None
            for name in key.test.patterns:
                names.setdefault(name, i)
        return field, names
    if all(isinstance(k.test, Intervals) for k in keys):
        cuts = sorted({v for k in keys for lo, hi in k.test.spans for v in (lo, hi + 1)})
        first: list[int | None] = [None] * len(cuts)
        filings = 0
        for i, key in enumerate(keys):
            for lo, hi in key.test.spans:
                j = bisect_right(cuts, lo) - 1
                while j < len(cuts) and cuts[j] <= hi:
                    if first[j] is None:
                        first[j] = i
                    j += 1
                    filings += 1
            if filings > MAX_FILINGS * len(keys):
                return None, None
        return field, (cuts, first)
    return None, None


__all__ = ["ChainFile", "chain_file", "vmap_first"]
