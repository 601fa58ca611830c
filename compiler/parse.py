"""Source text → syntax tree, with syntax errors turned into diagnostics.

The parser is Lark's LALR(1) parser for `grammar/netc.lark` (`syntax.py`). A file with a syntax
error is parsed again by `recover.py`, which feeds the same parser token by token through its
interactive interface and reports every error rather than the first.
"""

from __future__ import annotations

from netc.diagnostics import Diagnostic, NetcError

from .lark_parser import Token, Tree, UnexpectedInput
from .syntax import parser

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

    A well-formed file (the common case) goes through Lark's own parsing loop, much faster than
    the token-by-token recovering driver; the first syntax error sends the whole file to the
    driver, which finds every error. Both build the same tree for a well-formed file.
    """
    try:
        tree = parser().parse(text)
    except UnexpectedInput:
        from .recover import Recovery  # only files with errors pay for the messages

        return Recovery(text, filename).run()
    return Tree("start", tree.children, tree.meta if tree.children else None), []
