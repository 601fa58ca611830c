"""`netc check FILE...`: validate without printing rules."""

from __future__ import annotations

import argparse
import sys

from netc.pipeline import compile_files
from netc.diagnostics import render_notes


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="validate network files", description=run.__doc__)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Parse and validate every file; exit 0 when all are good, 2 with diagnostics otherwise."""
    compiled = compile_files(args.files)
    sys.stderr.write(render_notes(compiled.notes, args.verbose))
    if not args.quiet:
        n = len(compiled.program.networks)
        sys.stderr.write(
            f"ok: {n} network{'s' if n != 1 else ''}, {len(compiled.intents)} intents\n"
        )
    return 0
