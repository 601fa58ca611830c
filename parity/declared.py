"""Declared differences: constructs allowed to differ between backends, always reported.

libvirt's two backends intentionally differ (iptables' DHCP `CHECKSUM --checksum-fill` has no nft
twin; one nft generation used `udp checksum set 0` instead), and nft rules carry `counter` where
iptables counts implicitly. None of these changes a verdict or a NAT binding, so the evaluator
treats them as no-ops; but a parity checker that drops them silently would hide a real backend
difference, so every kind present on one side only is listed in the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Declared, Loc, Ruleset

DECLARED_KINDS = {
    "CHECKSUM --checksum-fill": "iptables mangle target fixing DHCP checksums; no verdict/NAT effect",
    "udp checksum set 0": "nft statement clearing the UDP checksum; no verdict/NAT effect",
    "counter": "packet counters; iptables counts every rule implicitly",
    "comment": "rule comments",
}


@dataclass(frozen=True, slots=True)
class DeclaredDifference:
    kind: str
    count_a: int
    count_b: int
    first: Loc  # first occurrence on the side that has it (A if both)

    @property
    def only_in(self) -> str | None:
        if self.count_a and not self.count_b:
            return "A"
        if self.count_b and not self.count_a:
            return "B"
        return None

    @property
    def why(self) -> str:
        return DECLARED_KINDS[self.kind]


def _group(items: tuple[Declared, ...]) -> dict[str, list[Loc]]:
    out: dict[str, list[Loc]] = {}
    for d in items:
        if d.kind not in DECLARED_KINDS:
            raise ValueError(f"undeclared construct kind {d.kind!r}")
        out.setdefault(d.kind, []).append(d.loc)
    return out


def declared_differences(a: Ruleset, b: Ruleset) -> tuple[DeclaredDifference, ...]:
    """Every declared construct on either side, with counts; `only_in` marks real differences."""
    ga, gb = _group(a.declared), _group(b.declared)
    out = []
    for kind in DECLARED_KINDS:
        la, lb = ga.get(kind, []), gb.get(kind, [])
        if la or lb:
            out.append(DeclaredDifference(kind, len(la), len(lb), (la or lb)[0]))
    return tuple(out)
