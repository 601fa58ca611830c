"""Hypothesis as a second, independent search: concrete packets drawn inside the classes.

* Drawing any member of a class (not just its representative) gives the outcome the symbolic
  engine computed for the class: the classes really are exact.
* On a mutant, hypothesis finds and shrinks a packet the two sides treat differently.
* Every network netc can compile passes verify and the spec check.
"""

from __future__ import annotations

import ipaddress

from helpers import golden_pair
from hypothesis import HealthCheck, example, find, given, settings
from hypothesis import strategies as st

from netc.parity import Family, Packet, Path, evaluate, parse_iptables, parse_nft, verify
from netc.parity.classes import build_domain
from netc.parity.model import PORT_PROTOCOLS, Field
from netc.parity.spec import check_spec
from netc.parity.symbolic import SymbolicEngine

from test_parity_equivalence import mutant_pair


def member(draw, fc, i):
    """A value inside class i of a field (any member, not only the representative)."""
    rep = fc.reps[i]
    if fc.spans is not None and rep is not None:
        lo, hi = fc.spans[i]
        return draw(st.integers(lo, hi))
    if fc.labels is not None and rep is not None and fc.labels[i] != rep:
        # a wildcard or "other" class: any name sharing the representative's prefix structure
        suffix = draw(st.text("xyz0123", min_size=0, max_size=4))
        return rep + suffix
    return rep


@st.composite
def class_packets(draw, rulesets, paths=tuple(Path), families=tuple(Family)):
    path = draw(st.sampled_from(paths))
    family = draw(st.sampled_from(families))
    domain = build_domain(rulesets, path, family)
    choice = {f: draw(st.integers(0, len(domain.fields[f]) - 1)) for f in Field}
    proto = member(draw, domain.fields[Field.L4PROTO], choice[Field.L4PROTO])
    ports = proto in PORT_PROTOCOLS
    for f in (Field.SPORT, Field.DPORT):
        n = len(domain.fields[f])
        choice[f] = draw(st.integers(1, n - 1)) if ports else 0
    ct = domain.fields[Field.CT].reps[choice[Field.CT]]
    if ct == "new":
        choice[Field.CT_DNAT] = choice[Field.CT_SNAT] = 0
    values = {f: member(draw, domain.fields[f], choice[f]) for f in Field if f is not Field.L4PROTO}
    pkt = Packet(
        path,
        family,
        values[Field.IIF],
        values[Field.OIF],
        values[Field.SADDR],
        values[Field.DADDR],
        proto,
        values[Field.SPORT],
        values[Field.DPORT],
        ct,
        values[Field.CT_DNAT],
        values[Field.CT_SNAT],
        values[Field.DADDR_LOCAL],
    )
    cube = tuple(1 << choice[f] for f in Field)
    cube = (
        cube[: Field.L4PROTO]
        + (1 << domain.fields[Field.L4PROTO].index_of(proto),)
        + cube[Field.L4PROTO + 1 :]
    )
    return domain, cube, pkt


A, B = golden_pair("two-networks")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(class_packets((A, B)))
def test_any_member_of_a_class_gets_the_class_outcome(drawn):
    domain, cube, pkt = drawn
    for rs in (A, B):
        parts = SymbolicEngine(rs, domain).evaluate(cube)
        assert len(parts) == 1
        assert parts[0][1] == evaluate(rs, pkt).outcome
    assert evaluate(A, pkt).outcome == evaluate(B, pkt).outcome


def test_hypothesis_finds_and_shrinks_a_mutant_counterexample():
    a, b = mutant_pair("drop established-return (iptables)")
    domain, cube, pkt = find(
        class_packets((a, b), (Path.FORWARD,), (Family.IPV4,)),
        lambda d: evaluate(a, d[2]).outcome != evaluate(b, d[2]).outcome,
        settings=settings(max_examples=10000, deadline=None, database=None),
    )
    assert pkt.ct in ("established", "related") and pkt.oif == "virbr0"
    assert not verify(a, b).equivalent


# -- generated networks ------------------------------------------------------------------------


_OUTSIDE = {4: ["198.51.100.0/24", "203.0.113.0/25", "192.0.2.7"], 6: ["2001:db8:ffff::/48"]}


@st.composite
def _filter(draw, v6: bool) -> str:
    """An outbound (`... to PREFIX`) or inbound (`... from PREFIX`) filter line; some are
    refused by the compiler (e.g. `allow from` towards masqueraded guests), which is fine."""
    action = draw(st.sampled_from(["allow", "deny"]))
    prefix = draw(st.sampled_from(_OUTSIDE[4] + (_OUTSIDE[6] if v6 else [])))
    proto = ""
    if draw(st.booleans()):
        proto = " " + draw(st.sampled_from(["tcp", "udp"]))
        if draw(st.booleans()):
            first = draw(st.integers(1, 60000))
            proto += f" {first}" + (f" - {first + 10}" if draw(st.booleans()) else "")
    if draw(st.booleans()):
        return f"    {action}{proto} to {prefix}"
    return f"    {action} from {prefix}{proto}"


@st.composite
def networks(draw):
    n = draw(st.integers(1, 3))
    nets = []
    used = draw(st.lists(st.integers(0, 250), min_size=n, max_size=n, unique=True))
    for i, third in enumerate(used):
        mode = draw(st.sampled_from(["nat", "route", "open", "isolated"]))
        lines = [f"network n{i} {{", f"    bridge virbr{i + 10}"]
        opts = []
        if mode in ("nat", "route") and draw(st.booleans()):
            opts.append("dev eth0")
        if mode == "nat" and draw(st.booleans()):
            lo = draw(st.integers(1024, 30000))
            opts.append(f"ports {lo} - {lo + draw(st.integers(1, 30000))}")
        v6 = draw(st.booleans())
        if mode == "nat" and v6 and draw(st.booleans()):
            opts.append("ipv6 nat")
        if mode == "route" and draw(st.booleans()):
            opts.append("inbound stateful")
        body = " { " + "; ".join(opts).replace(";", "") + " }" if opts else ""
        lines.append(f"    forward {mode}{body}")
        if mode != "open" or draw(st.booleans()):
            lines.append(
                f"    ip 10.{i}.{third}.1/24 {{ dhcp 10.{i}.{third}.10 - 10.{i}.{third}.99 }}"
            )
        if v6:
            lines.append(f"    ip 2001:db8:{i}:{third:x}::1/64")
        if draw(st.booleans()):
            lines.append("    dns off")
        if mode in ("nat", "route"):
            lines += draw(st.lists(_filter(v6), max_size=3))
        lines.append("}")
        nets.append("\n".join(lines))
    return "\n".join(nets) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
@example(  # found by this test: the spec's outside host sat inside a `deny to` prefix
    "network n0 {\n    bridge virbr10\n    forward nat\n"
    "    ip 10.0.0.1/24 { dhcp 10.0.0.10 - 10.0.0.99 }\n    deny to 198.51.100.0/24\n}\n"
)
def test_every_compilable_network_passes_verify_and_spec(source):
    from netc.verification import spec_from_networks
    from netc.pipeline import compile_sources, emit
    from netc.diagnostics import NetcError

    try:
        compiled = compile_sources([("gen.net", source)])
    except NetcError:
        return  # not every drawn source is a valid program; validity is the compiler's job
    a = parse_nft(emit(compiled, "nft"), "gen.nft")
    b = parse_iptables(emit(compiled, "iptables"), Family.IPV4, "gen.v4").merged(
        parse_iptables(emit(compiled, "ip6tables"), Family.IPV6, "gen.v6")
    )
    result = verify(a, b)
    assert result.equivalent, result.counterexamples[:1]
    spec = spec_from_networks(compiled.program.networks)
    for rs in (a, b):
        failures = check_spec(rs, spec)
        assert not failures, "\n".join(map(str, failures)) + "\n" + source
