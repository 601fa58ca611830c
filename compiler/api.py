"""The compiler's public face: one `.net` text to networks, checks across networks, lowering.

Composing these with reading, libvirt XML and the emitters is the pipeline's job
(`netc.pipeline`); the compiler imports only the IR, its grammar tables and diagnostics.
"""

from __future__ import annotations

from netc.diagnostics import Diagnostic
from netc.ir.model import Network

from .build import build
from .lower import lower
from .parse import parse_recovering
from .validate import cross_check

__all__ = ["cross_check", "lower", "networks_from_text"]


def networks_from_text(text: str, filename: str) -> tuple[list[Network], list[Diagnostic]]:
    """Parse and build one source; returns the networks and every syntax and value error.

    Networks with a syntax error are left out; the others are still built and checked, so one
    run reports independent mistakes all over the file.
    """
    tree, syntax = parse_recovering(text, filename)
    networks, problems = build(tree, filename)
    return networks, syntax + problems
