"""Human-readable output: packets, packet classes, outcomes and the verify summary."""

from __future__ import annotations

import ipaddress

from .classes import Domain
from .model import CT_STATES, PROTOCOL_NAMES, Family, Field


def fmt_addr(family: Family, value: int) -> str:
    if family is Family.IPV4:
        return str(ipaddress.IPv4Address(value))
    return str(ipaddress.IPv6Address(value))


def fmt_span(family: Family, lo: int, hi: int) -> str:
    if lo == hi:
        return fmt_addr(family, lo)
    cls = ipaddress.IPv4Address if family is Family.IPV4 else ipaddress.IPv6Address
    first, last = cls(lo), cls(hi)
    nets = list(ipaddress.summarize_address_range(first, last))
    if len(nets) == 1:
        return str(nets[0])
    return f"{first}-{last}"


def fmt_proto(value: int) -> str:
    return PROTOCOL_NAMES.get(value, f"proto {value}")


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if out and out[-1][1] + 1 >= lo:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


def describe_field_mask(domain: Domain, f: Field, mask: int) -> str | None:
    """A compact description of the classes in `mask`, or None if it is the whole field."""
    fc = domain.fields[f]
    idx = [i for i in range(len(fc)) if mask >> i & 1]
    if len(idx) == len(fc) and len(fc) > 1:
        return None if f not in (Field.SPORT, Field.DPORT) else "any"
    if f in (Field.SPORT, Field.DPORT) and len(idx) == len(fc) - 1 and fc.reps[0] is None:
        return None  # every port: say nothing
    if f in (Field.IIF, Field.OIF):
        assert fc.labels is not None  # interface classes have labels
        return ", ".join(fc.labels[i] for i in idx)
    if f is Field.CT:
        return ",".join(fc.reps[i] for i in idx)
    if f in (Field.CT_DNAT, Field.CT_SNAT, Field.DADDR_LOCAL):
        if len(fc) == 1:
            return None
        return "/".join(str(fc.reps[i]).lower() for i in idx)
    if f is Field.NFPROTO:
        return None
    assert fc.spans is not None  # the remaining fields are intervals
    spans = [fc.spans[i] for i in idx if fc.reps[i] is not None]
    none = any(fc.reps[i] is None for i in idx)
    parts = []
    for lo, hi in _merged(spans):
        if f in (Field.SADDR, Field.DADDR):
            parts.append(fmt_span(domain.family, lo, hi))
        elif f is Field.L4PROTO:
            parts.append(fmt_proto(lo) if lo == hi else f"{lo}-{hi}")
        else:
            parts.append(str(lo) if lo == hi else f"{lo}-{hi}")
    if none:
        parts.append("none")
    if len(parts) > 6:
        parts = parts[:6] + [f"... ({len(parts)} ranges)"]
    return ", ".join(parts)


def format_packet(pkt) -> str:
    parts = [f"{pkt.path.value} {pkt.family.value}"]
    if pkt.iif is not None:
        parts.append(f"iif {pkt.iif}")
    if pkt.oif is not None:
        parts.append(f"oif {pkt.oif}")
    parts.append(f"src {fmt_addr(pkt.family, pkt.saddr)}")
    parts.append(f"dst {fmt_addr(pkt.family, pkt.daddr)}")
    proto = fmt_proto(pkt.l4proto)
    if pkt.sport is not None:
        proto += f" sport {pkt.sport} dport {pkt.dport}"
    parts.append(proto)
    parts.append(f"ct {pkt.ct}")
    if pkt.ct_dnat:
        parts.append("ct-status dnat")
    if pkt.ct_snat:
        parts.append("ct-status snat")
    if pkt.daddr_local:
        parts.append("daddr-local")
    return ", ".join(parts)


def format_evaluation(ev) -> str:
    text = ev.outcome.describe()
    if ev.trace:
        text += "  [" + "; ".join(f"{loc}: {src}" for loc, src in ev.trace[-2:]) + "]"
    return text


def format_result(result, verbose: bool = False) -> str:
    """The `netc verify` report."""
    a, b = result.label_a, result.label_b
    lines = []
    if result.equivalent:
        lines.append(f"equivalent: A={a} B={b}")
    else:
        lines.append(f"NOT equivalent: A={a} B={b}")
    differ = f"{result.differing_classes} classes differ"
    if result.unchecked_regions:
        differ = (
            f"at least {differ} (stopped counting: {result.unchecked_regions} suspect regions"
            " not re-checked)"
        )
    lines.append(
        f"  {result.classes} packet classes checked in {result.regions} regions"
        f" ({result.seconds:.2f} s); {differ}"
    )
    if verbose:
        for name, total, regions in result.per_domain:
            lines.append(f"    {name}: {total} classes, {regions} regions")
    for n, cx in enumerate(result.counterexamples, start=1):
        title = "counterexample" if n > 1 else "smallest counterexample"
        lines.append(f"{title} {n}: {format_packet(cx.packet)}")
        region = ", ".join(f"{k} {v}" for k, v in cx.region.fields)
        lines.append(f"  stands for {cx.classes} classes: {region}")
        lines.append(f"  A: {format_evaluation(cx.a)}")
        lines.append(f"  B: {format_evaluation(cx.b)}")
    both = []
    for d in result.declared:
        if d.only_in is not None:
            count = d.count_a or d.count_b
            lines.append(
                f"declared difference: {d.kind} only in {d.only_in}"
                f" ({count} at {d.first} ...; {d.why})"
            )
        else:
            both.append(f"{d.kind} (A {d.count_a}, B {d.count_b})")
    if both:
        lines.append("declared constructs on both sides (no verdict effect): " + ", ".join(both))
    return "\n".join(lines)


__all__ = ["format_result", "format_packet", "describe_field_mask", "CT_STATES"]
