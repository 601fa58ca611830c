"""Source text → syntax tree, with syntax errors turned into diagnostics.

The parser is Lark's LALR(1) parser for `grammar/netc.lark` (`syntax.py`). A file with a syntax
error is parsed again by `recover.py`, which feeds the same parser token by token through its
interactive interface and reports every error rather than the first.
"""

from __future__ import annotations

import re

from netc.diagnostics import Diagnostic, NetcError

from .lark_parser import Meta, Token, Tree, UnexpectedInput
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
    the token-by-token recovering driver; at a syntax error, the whole networks before it are
    parsed fast again and the rest of the file goes to the driver, which finds every error. Both
    build the same tree for a well-formed file.
    """
    children: list = []
    problems: list[Diagnostic] = []
    start = 0  # where the part of the file not read yet starts
    while True:
        rest = text if start == 0 else blank(text[:start]) + text[start:]
        try:
            tree = parser().parse(rest)
        except UnexpectedInput as err:
            # only where it stopped: the error holds the failed parser, and with it a whole tree
            failed_at = _error_position(err, rest)
        else:
            if start == 0:
                return Tree("start", tree.children, tree.meta if tree.children else None), []
            return _start(children + tree.children), problems
        # only files with errors pay for the messages (and `start` is 0 until this ran)
        from .recover import Recovery, blank

        # The whole networks before the failing one parse fast; the recovering driver reads on
        # from there, and hands the rest back after the first network it reads without error.
        end = _complete_networks(text, start, failed_at)
        if end > start:
            children += parser().parse(blank(text[:start]) + text[start:end]).children
        driver = Recovery(blank(text[:end]) + text[end:], filename, len(problems), True)
        tail, found = driver.run()
        problems += found
        if driver.gave_up:  # as the driver does on a whole file: no tree after too many errors
            return Tree("start", []), problems
        children += tail.children
        if driver.resume_at is None:
            return _start(children), problems
        start = driver.resume_at


def _start(networks: list) -> Tree:
    """The file's tree from networks parsed in parts, positioned as Lark positions a whole file's
    (from the first network's start to the last one's end)."""
    if not networks:
        return Tree("start", [])
    meta = Meta()
    first, last = networks[0].meta, networks[-1].meta
    meta.line, meta.column, meta.start_pos = first.line, first.column, first.start_pos
    meta.end_line, meta.end_column, meta.end_pos = last.end_line, last.end_column, last.end_pos
    meta.empty = False
    return Tree("start", networks, meta)


# What the lexer reads in a well-formed prefix: a string, a comment, a brace; anything else (a
# WORD) holds no brace (`WORD` and `STRING` in grammar/netc.lark).
_BRACES = re.compile(r'"[^"\n]*"|#[^\n]*|[{}]')


def _error_position(err: UnexpectedInput, text: str) -> int:
    """Where the fast parser stopped: everything before it lexes and parses as a file's start."""
    token = getattr(err, "token", None)
    pos = getattr(token, "start_pos", None)
    if pos is None:
        pos = getattr(err, "pos_in_stream", None)
    return len(text) if pos is None else pos


def _complete_networks(text: str, start: int, before: int) -> int:
    """The end of the last network closed between `start` (between networks) and `before`, or
    `start`: the text between is a sequence of whole networks, because the parser accepted it.
    Found by counting braces outside strings and comments, which is exact on text that lexes."""
    depth, end = 0, start
    for match in _BRACES.finditer(text, start, before):
        brace = match.group()
        if brace == "{":
            depth += 1
        elif brace == "}":
            depth -= 1
            if depth == 0:
                end = match.end()
    return end
