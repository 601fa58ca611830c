"""`netc compile FILE... --target nft|iptables|ip6tables [--remove] [-o OUT]`."""

from __future__ import annotations

import argparse
import sys

from netc.pipeline import compile_files, emit
from netc.diagnostics import render_notes
from netc.emitters import TARGETS
from netc.output import write_output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compile",
        help="compile network files to nft or iptables-restore text",
        description="Compile .net files into one ruleset for a firewall backend.",
    )
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help=".net file(s) or libvirt network XML; '-' reads stdin",
    )
    p.add_argument(
        "-t",
        "--target",
        type=lambda value: "nft" if value == "nftables" else value,
        choices=sorted(TARGETS),
        default="nft",
        metavar="{nft,iptables,ip6tables}",
        help="backend: nft (also spelled nftables), iptables or ip6tables (default: nft)",
    )
    p.add_argument("--remove", action="store_true", help="print the teardown instead")
    p.add_argument(
        "--verify",
        action="store_true",
        help="first prove the nft and iptables outputs equivalent and check them against the "
        "networks' behaviour spec (as `netc verify --compile`); on a failure print the report "
        "to stderr, no rules, and exit 1",
    )
    p.add_argument(
        "-o", "--output", metavar="OUT", help="write to OUT (atomically) instead of stdout"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    compiled = compile_files(args.files)
    sys.stderr.write(render_notes(compiled.notes, args.verbose))
    if args.verify:
        from netc.verification import verify_compiled

        status, report = verify_compiled(compiled)
        if status:
            sys.stderr.write(report)
            return status
    write_output(emit(compiled, args.target, remove=args.remove), args.output)
    return 0
