"""`netc status [FILE...]`: backend in use, networks up, drift. Exit 1 when anything drifted."""

from __future__ import annotations

import argparse
import sys

from .host_options import add_host_options, where


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="show what netc applied and whether the host still matches it",
        description="Show which backend holds netc's rules, which networks are up, and drift: "
        "live rules that differ from what netc loaded (e.g. after `nft flush ruleset`), or "
        "files changed since they were applied. Exit status 1 when something drifted.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="compare with these files instead")
    add_host_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from netc.host.status import status

    result = status(args.files, where(args))
    sys.stdout.write(result.report.text())
    return 1 if result.drift else 0
