"""`netc import FILE.xml... [-o OUT]`: libvirt network XML → formatted `.net` source."""

from __future__ import annotations

import argparse
import sys

from netc.compiler.sources import read_source
from netc.diagnostics import NetcError, render_notes
from netc.libvirt import import_sources
from netc.output import write_output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="print libvirt network XML as .net source",
        description=(
            "Read libvirt network XML (e.g. /etc/libvirt/qemu/networks/*.xml or "
            "`virsh net-dumpxml NAME`) and print the equivalent .net source, one network per "
            "file, each under a comment naming its file. Elements that do not affect the "
            "firewall are ignored with a note on stderr. `netc compile` also accepts the XML "
            "directly and compiles exactly this text."
        ),
    )
    p.add_argument("files", nargs="+", metavar="FILE.xml", help="network XML file(s); '-' = stdin")
    p.add_argument(
        "-o", "--output", metavar="OUT", help="write to OUT (atomically) instead of stdout"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    sources, problems = [], []
    for path in args.files:
        try:
            sources.append((path if path != "-" else "<stdin>", read_source(path)))
        except NetcError as err:
            problems += err.diagnostics
    if problems:
        raise NetcError(problems)
    imported = import_sources(sources)
    sys.stderr.write(render_notes(imported.notes, args.verbose))
    write_output(imported.text, args.output)
    return 0
