"""Source text → syntax tree, with syntax errors turned into diagnostics.

The parser is an LALR(1) parser for `grammar/netc.lark`: Lark computes its tables ahead of time
(`parser_tables.json`; regenerate with `python -m netc.compiler.regenerate_parser`, see that
module for why) and netc's own runtime `lalr.py` runs them, building the tree Lark would build, so
running netc does not import lark at all. A file with a syntax error is parsed again by
`recover.py`, which reports every error rather than the first.
"""

from __future__ import annotations

from netc.diagnostics import Diagnostic, NetcError

from . import lalr
from .lalr import LexFault, Token, Tree, UnexpectedToken

__all__ = ["Token", "Tree", "parse", "parse_recovering"]


def parse(text: str, filename: str) -> Tree:
    """Parse one `.net` source; raises NetcError with every syntax error found."""
    tree, problems = parse_recovering(text, filename)
    if problems:
        raise NetcError(problems)
    return tree


def parse_recovering(text: str, filename: str) -> tuple[Tree, list[Diagnostic]]:
    """Parse one source as far as possible: the tree of the networks without syntax errors, and
    a diagnostic for every syntax error (empty when the whole file is well-formed).

    A well-formed file (the common case) goes through the runtime's own loop, several times as
    fast as the token-by-token recovering driver; the first syntax error sends the whole file to
    the driver, which finds every error. Both build the same tree for a well-formed file.
    """
    try:
        tree = lalr.parse(text)
    except (LexFault, UnexpectedToken):
        from .recover import Recovery  # only files with errors pay for the messages

        return Recovery(text, filename).run()
    return Tree("start", tree.children, tree.meta if tree.children else None), []
