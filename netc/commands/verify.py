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
from netc.parity import ParityError, load_ruleset
from netc.parity.model import Ruleset
from netc.parity.spec import SpecNetwork
from netc.verification import check


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
        from netc.pipeline import compile_files
        from netc.verification import compiled_rulesets, spec_from_networks

        compiled = compile_files(args.compile)  # once: stdin is read once
        sides = compiled_rulesets(compiled)
        networks = spec_from_networks(compiled.program.networks)
    else:
        if not 1 <= len(args.sides) <= 2:
            raise ParityError("give two rulesets (A B), or one with --spec")
        if len(args.sides) == 1 and not args.spec:
            raise ParityError("one ruleset needs --spec NET to check it against")
        sides = [load_ruleset(_side(s)) for s in args.sides]
    if args.spec:
        from netc.verification import spec_of_files

        networks = spec_of_files(args.spec)
    status, report = check(sides, networks, args.br_netfilter, args.examples, args.verbose)
    sys.stdout.write(report)
    if status and len(sides) == 2:
        sys.stdout.write(_missing_family_hint(sides))
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


def _missing_family_hint(sides: list[Ruleset]) -> str:
    """A side without any IPv6 rule against one with some: most likely a forgotten ip6tables half
    (`v4.rules` alone against a dual-stack nft script), which otherwise reads as thousands of
    IPv6 differences."""
    from netc.parity.model import Family

    has_v6 = [
        any(Family.IPV6 in t.families and any(c.rules for c in t.chains.values()) for t in s.tables)
        for s in sides
    ]
    if has_v6[0] == has_v6[1]:
        return ""
    with_v6, without = ("A", "B") if has_v6[0] else ("B", "A")
    return (
        f"hint: {with_v6} has IPv6 rules and {without} has none; if {without} is iptables text, "
        "join its ip6tables half: v4.rules+v6.rules\n"
    )
