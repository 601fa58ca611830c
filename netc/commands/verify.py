"""`netc verify`: prove two rulesets behave the same, and check one against its networks' spec.

Usage:
    netc verify A B                      parity of two rulesets
    netc verify A B --spec FILE.net...   parity, and both sides against the spec of FILE.net
    netc verify A --spec FILE.net...     one ruleset against the spec only
    netc verify --compile FILE.net...    compile nft and iptables/ip6tables, then all of the above
    netc verify A B --sample 10000       also compare 10000 random packets (a second opinion)

A side is one or more files joined with `+`, e.g. `setup.iptables+setup.ip6tables`. Each file is
an nft script / `nft list ruleset` listing, or iptables-restore / iptables-save text; the format
is read from the content. An iptables file whose family the content does not reveal takes a
`v4:` or `v6:` prefix (`v6:rules.save`).

Exit status: 0 equivalent (and spec holds), 1 a difference or a spec failure, 2 unreadable or
unsupported input (`file:line:col: error: ...` on stderr).
"""

from __future__ import annotations

import argparse
import sys

from netc.collector import collector_paused
from netc.parity import ParityError, format_result, load_ruleset, verify
from netc.parity.model import Ruleset
from netc.parity.spec import SpecNetwork, check_spec, format_spec_failures


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify",
        help="prove an nft and an iptables ruleset equivalent, packet class by packet class",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sides", nargs="*", metavar="SIDE", help="A and B: FILE[+FILE...]")
    p.add_argument(
        "--spec", nargs="+", metavar="NET", default=[], help=".net file(s) the rulesets implement"
    )
    p.add_argument(
        "--compile",
        nargs="+",
        metavar="NET",
        default=[],
        help="compile .net file(s) to both backends and verify them (and their spec)",
    )
    p.add_argument(
        "--no-br-netfilter",
        dest="br_netfilter",
        action="store_false",
        help="assume bridged guest<->guest traffic bypasses the IP hooks (traffic addressed to "
        "the host, such as a DNAT'd hairpin, is still routed through them)",
    )
    p.add_argument("--examples", type=int, default=3, help="counterexamples to print (default 3)")
    p.add_argument(
        "--sample",
        type=int,
        default=0,
        metavar="N",
        help="also draw N random packets inside the classes (seeded, no hypothesis) and compare "
        "both sides on each: a cheap second opinion for huge inputs; a difference exits 1",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for --sample (default 0)")
    p.add_argument("-v", "--verbose", action="store_true", help="print class counts per path")
    p.set_defaults(run=run)


def _side(spec: str) -> list[str]:
    return [part for part in spec.split("+") if part]


def run(args: argparse.Namespace) -> int:
    try:
        with collector_paused():
            return _run(args)
    except ParityError as err:
        sys.stderr.write(f"{err}\n")
        return 2


def _run(args: argparse.Namespace) -> int:
    sides: list[Ruleset] = []
    networks: list[SpecNetwork] = []
    if args.compile:
        if args.sides:
            raise ParityError("--compile takes .net files instead of rulesets")
        sides = _compile_sides(args.compile)
        networks = spec_networks(args.compile)
    else:
        if not 1 <= len(args.sides) <= 2:
            raise ParityError("give two rulesets (A B), or one with --spec")
        if len(args.sides) == 1 and not args.spec:
            raise ParityError("one ruleset needs --spec NET to check it against")
        sides = [load_ruleset(_side(s)) for s in args.sides]
    if args.spec:
        networks = spec_networks(args.spec)
    status, report = _check(sides, networks, args.br_netfilter, args.examples, args.verbose)
    sys.stdout.write(report)
    if args.sample:
        if args.sample < 0 or len(sides) != 2:
            raise ParityError("--sample N needs N > 0 and two rulesets")
        from netc.parity.sample import format_sample, sample

        result = sample(
            sides[0],
            sides[1],
            args.sample,
            seed=args.seed,
            br_netfilter=args.br_netfilter,
            max_examples=args.examples,
        )
        sys.stdout.write(format_sample(result) + "\n")
        if result.differing:
            status = 1
    return status


def verify_files(files: list[str]) -> tuple[int, str]:
    """Compile FILEs to both backends, prove them equivalent and check their spec.

    Returns (exit status, report); `netc compile --verify` uses this to refuse unproven output.
    """
    with collector_paused():
        return _check(_compile_sides(files), spec_networks(files), True, 3, False)


def _check(
    sides: list[Ruleset],
    networks: list[SpecNetwork],
    br_netfilter: bool,
    examples: int,
    verbose: bool,
) -> tuple[int, str]:
    status = 0
    out: list[str] = []
    if len(sides) == 2:
        result = verify(sides[0], sides[1], br_netfilter=br_netfilter, max_counterexamples=examples)
        out.append(format_result(result, verbose=verbose))
        if not result.equivalent:
            status = 1
            out += _missing_family_hint(sides)
    if networks:
        for name, rs in zip("AB", sides):
            failures = check_spec(rs, networks, br_netfilter=br_netfilter)
            if failures:
                status = 1
                out.append(f"spec of {len(networks)} network(s) FAILS on {name}={rs.label}:")
                out.append(format_spec_failures(failures))
            else:
                out.append(f"spec of {len(networks)} network(s) holds on {name}={rs.label}")
    return status, "\n".join(out) + "\n"


def _missing_family_hint(sides: list[Ruleset]) -> list[str]:
    """A side without any IPv6 rule against one with some: most likely a forgotten ip6tables half
    (`v4.rules` alone against a dual-stack nft script), which otherwise reads as thousands of
    IPv6 differences."""
    from netc.parity.model import Family

    has_v6 = [
        any(Family.IPV6 in t.families and any(c.rules for c in t.chains.values()) for t in s.tables)
        for s in sides
    ]
    if has_v6[0] == has_v6[1]:
        return []
    with_v6, without = ("A", "B") if has_v6[0] else ("B", "A")
    return [
        f"hint: {with_v6} has IPv6 rules and {without} has none; if {without} is iptables text, "
        f"join its ip6tables half: v4.rules+v6.rules"
    ]


def _compile_sides(files: list[str]) -> list[Ruleset]:
    """Compile once and parse each backend's text with parity's own parsers."""
    from netc.compiler.api import compile_files, emit
    from netc.parity.ipt_parse import parse_iptables
    from netc.parity.model import Family
    from netc.parity.nft_parse import parse_nft

    compiled = compile_files(files)
    nft = parse_nft(emit(compiled, "nft"), "<nft>")
    v4 = parse_iptables(emit(compiled, "iptables"), Family.IPV4, "<iptables>")
    v6 = parse_iptables(emit(compiled, "ip6tables"), Family.IPV6, "<ip6tables>")
    return [nft, v4.merged(v6)]


def spec_networks(files: list[str]) -> list[SpecNetwork]:
    """Parity's description of each network, read from netc's parsed model (CLI glue only)."""
    from netc.compiler.api import compile_files

    return spec_from_networks(compile_files(files).program.networks)


def spec_from_networks(networks) -> list[SpecNetwork]:
    """Translate netc's parsed networks (netc.ir.model.Network) into parity's SpecNetwork."""
    from netc.ir.model import Family as IrFamily

    out = []
    for net in networks:
        fwd = net.forward
        subs4 = tuple(str(s.gateway) for s in net.subnets_of(IrFamily.IPV4))
        subs6 = tuple(str(s.gateway) for s in net.subnets_of(IrFamily.IPV6))
        ports = (fwd.nat_ports.first, fwd.nat_ports.last) if fwd.nat_ports else None
        out.append(
            SpecNetwork(
                name=net.name,
                bridge=net.bridge,
                mode=fwd.mode.value,
                subnets4=subs4,
                subnets6=subs6,
                forward_dev=fwd.dev,
                nat_ports=ports,
                ipv6_masquerade=fwd.ipv6_nat,
                dhcp=any(s.serves_dhcp for s in net.subnets_of(IrFamily.IPV4)),
                dhcp6=any(s.serves_dhcp for s in net.subnets_of(IrFamily.IPV6)),
                dns=net.dns,
                tftp=any(s.tftp_root for s in net.subnets),
                stateful_inbound=fwd.stateful_inbound,
                **_policy_spec(net),
            )
        )
    return out


def _policy_spec(net) -> dict:
    """The statements beyond libvirt (issue 8) as parity's SpecNetwork fields."""
    from netc.ir.model import FilterAction
    from netc.parity.spec import SpecFilter, SpecForward, SpecInboundFilter, SpecService

    protos = {"tcp": 6, "udp": 17}
    forwards = tuple(
        SpecForward(
            protos[f.proto.value],
            (f.host_ports.first, f.host_ports.last),
            str(f.target),
            (f.target_ports.first, f.target_ports.last),
            None if f.host_address is None else str(f.host_address),
            f.in_dev,
        )
        for f in net.port_forwards
    )
    services = None
    if net.services is not None:
        services = tuple(
            SpecService(
                protos[s.proto.value],
                (s.ports.first, s.ports.last),
                tuple(fam.value for fam in s.families),
            )
            for s in net.services.services
        )
    filters = tuple(
        SpecFilter(
            f.action is FilterAction.ALLOW,
            str(f.destination),
            None if f.proto is None else protos[f.proto.value],
            None if f.ports is None else (f.ports.first, f.ports.last),
        )
        for f in net.filters
    )
    inbound = tuple(
        SpecInboundFilter(
            f.action is FilterAction.ALLOW,
            str(f.source),
            None if f.guests is None else str(f.guests),
            None if f.proto is None else protos[f.proto.value],
            None if f.ports is None else (f.ports.first, f.ports.last),
        )
        for f in net.inbound_filters
    )
    return {
        "port_forwards": forwards,
        "services": services,
        "filters": filters,
        "isolate_guests": net.isolate_guests,
        "inbound_filters": inbound,
    }
