"""`netc down [FILE...]`: remove the rules and the bridges netc created."""

from __future__ import annotations

import argparse
import sys

from .host_options import add_host_options, where


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "down",
        help="remove netc's rules and the bridges it created",
        description="Take down the networks of FILEs (default: every network netc applied). "
        "Bridges netc did not create, and every foreign rule and link, stay as they are.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="applied .net file(s)")
    add_host_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from netc.host.down import down

    sys.stdout.write(down(args.files, where(args)).text())
    return 0
