"""Source text → Lark syntax tree, with syntax errors turned into diagnostics.

The LALR tables are cached on disk by Lark (`cache=True`), which keeps `netc compile` start-up
close to the cost of importing lark itself.
"""

from __future__ import annotations

import functools
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from netc.diagnostics import Diagnostic, NetcError, did_you_mean
from netc.ir.span import Span

# How terminals are named in messages.
_TERMINAL_WORDS = {
    "WORD": "a name or value",
    "STRING": 'a "quoted" name',
    "$END": "end of file",
}


@functools.cache
def parser() -> Lark:
    grammar = resources.files("netc.grammar").joinpath("netc.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=True,
    )


def parse(text: str, filename: str) -> Tree:
    """Parse one `.net` source; raises NetcError with a located diagnostic on a syntax error."""
    try:
        return parser().parse(text)
    except UnexpectedInput as err:
        raise NetcError(_diagnose(err, text, filename)) from None


def token_span(token: Token, filename: str) -> Span:
    return Span(filename, token.line, token.column, token.end_line, token.end_column)


def _describe(terminal: str) -> str:
    if terminal in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[terminal]
    for term in parser().terminals:
        if term.name == terminal and term.pattern.type == "str":
            return f"'{term.pattern.value}'"
    return terminal.lower()


def _keywords(expected: set[str]) -> list[str]:
    words = []
    for term in parser().terminals:
        if term.name in expected and term.pattern.type == "str" and term.pattern.value.isalpha():
            words.append(term.pattern.value)
    return words


def _diagnose(err: UnexpectedInput, text: str, filename: str) -> Diagnostic:
    if isinstance(err, UnexpectedToken):
        token = err.token
        expected = sorted(_describe(t) for t in err.expected)
        listing = ", ".join(expected)
        if token.type == "$END":
            lines = text.splitlines() or [""]
            line = len(lines)
            col = len(lines[-1]) + 1
            span = Span(filename, line, col, line, col + 1)
            hint = "a block is not closed: is a '}' missing?" if "'}'" in expected else None
            return Diagnostic(f"unexpected end of file; expected {listing}", span, hint)
        span = token_span(token, filename)
        hint = did_you_mean(str(token), _keywords(set(err.expected)))
        if hint is None and str(token) in {
            t.pattern.value for t in parser().terminals if t.pattern.type == "str"
        }:
            hint = f"'{token}' is a keyword; write a name that is a keyword in quotes: \"{token}\""
        return Diagnostic(f"unexpected '{token}'; expected {listing}", span, hint)
    if isinstance(err, UnexpectedCharacters):
        char = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        span = Span(filename, err.line, err.column, err.line, err.column + 1)
        if char == '"':
            return Diagnostic(
                "unterminated quoted string", span, "close the string on the same line"
            )
        if char == ";":
            return Diagnostic(
                "unexpected ';'", span, "statements end at the next keyword; drop the ';'"
            )
        return Diagnostic(f"unexpected character {char!r}", span)
    span = Span(filename, getattr(err, "line", 1), getattr(err, "column", 1), 0, 0)
    return Diagnostic("syntax error", span)
