"""Which earlier claim on a host port range comes first: an interval index over ports 0-65535.

The port-forward clash check asks, for every forward, for the first earlier forward whose ports
overlap its own. Comparing with every earlier forward is quadratic (60,000 `expose` lines took
minutes); this answers each question in about 2 × 17 steps, whatever the widths involved.

It is a segment tree over the 65,536 ports, stored sparsely in dicts (only the nodes claims
touch exist). A claim is marked on the O(log) nodes that tile its range (`cover`); every node
also remembers the first claim marked anywhere below it (`below`). Claims arrive in increasing
order, so "first" is simply "set once": an insert stops climbing at the first node already set.
"""

from __future__ import annotations

_LEAVES = 1 << 16  # ports 0-65535; node 1 is the root, leaf of port p is _LEAVES + p
_FEW = 16  # claims kept in a plain list before the tree is built (one tree node costs more)


class PortClaims:
    """Claims on port ranges, numbered in increasing order; `first_overlap` finds the
    smallest number whose range meets a given range."""

    __slots__ = ("_few", "_cover", "_below", "_inner")

    def __init__(self) -> None:
        # Most keys (a host address, a device) see a few claims: a list, until it grows.
        self._few: list[tuple[int, int, int]] | None = []
        self._cover: dict[int, int] = {}  # node -> first claim that tiles it
        self._below: dict[int, int] = {}  # node -> first claim tiling it or a node below it
        self._inner = False  # has a claim tiled a node above the leaves (a range of ports)?

    def claim(self, first: int, last: int, number: int) -> None:
        """Record claim `number` (larger than any recorded before) on ports first..last."""
        few = self._few
        if few is not None:
            few.append((first, last, number))
            if len(few) <= _FEW:
                return
            self._few = None
            for claim in few:
                self._tile(*claim)
            return
        self._tile(first, last, number)

    def _tile(self, first: int, last: int, number: int) -> None:
        lo, hi = first + _LEAVES, last + _LEAVES + 1
        while lo < hi:
            if lo & 1:
                self._mark(lo, number)
                lo += 1
            if hi & 1:
                hi -= 1
                self._mark(hi, number)
            lo >>= 1
            hi >>= 1

    def _mark(self, node: int, number: int) -> None:
        cover, below = self._cover, self._below
        if node not in cover:
            cover[node] = number
            self._inner = self._inner or node < _LEAVES
        # every ancestor of a node that is set is set already, with a smaller number
        while node and node not in below:
            below[node] = number
            node >>= 1

    def first_overlap(self, first: int, last: int) -> int | None:
        """The smallest claim number whose range shares a port with first..last, or None.

        A claim meets the range if it tiles a node inside one of the nodes tiling the range
        (`below` of those) or a node that holds an end of the range (`cover` on the two paths
        from the end leaves to the root).
        """
        if self._few is not None:  # in claim order: the first that meets the range
            return next((n for f, l, n in self._few if f <= last and first <= l), None)
        cover, below = self._cover, self._below
        found: int | None = None
        # without ranges, only leaves are tiled: those in the range are below its tiling nodes
        for leaf in {first + _LEAVES, last + _LEAVES} if self._inner else ():
            node = leaf
            while node:
                number = cover.get(node)
                if number is not None and (found is None or number < found):
                    found = number
                node >>= 1
        lo, hi = first + _LEAVES, last + _LEAVES + 1
        while lo < hi:
            if lo & 1:
                number = below.get(lo)
                if number is not None and (found is None or number < found):
                    found = number
                lo += 1
            if hi & 1:
                hi -= 1
                number = below.get(hi)
                if number is not None and (found is None or number < found):
                    found = number
            lo >>= 1
            hi >>= 1
        return found
