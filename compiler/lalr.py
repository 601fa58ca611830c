"""netc's LALR(1) runtime: a lexer and a table-driven parser for netc's grammar.

The tables (`parser_tables.json`) come from Lark at build time (`regenerate_parser.py`); this
module does at run time what Lark's LALR parser with the basic lexer and
`propagate_positions=True` does, building the same tree (`Tree` with `data`, `children`, `meta`;
`Token`, a `str` with `type` and positions), in a couple of hundred lines instead of Lark's
general machinery: one regular expression finds each token with the spaces before it, a dict
lookup re-types keywords, and a reduction slices the value stack. That parses about three times
as fast as Lark's own loop and keeps lark out of `netc compile`'s imports.
`tests/test_generated_parser.py` checks that it parses like Lark, positions included, on every
committed input and on generated and mutated ones.

`parse()` is the fast path and stops at the first error; `Parser` is the interactive form (feed
one token, ask what fits, copy the state) that `recover.py` uses to report every syntax error.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator

with open(os.path.join(os.path.dirname(__file__), "parser_tables.json"), encoding="utf-8") as _file:
    TABLES = json.load(_file)

ACTIONS: list[dict[str, int]] = TABLES["actions"]
GOTO: list[dict[str, int]] = TABLES["goto"]
RULES: list = TABLES["rules"]  # [symbol, tree name, length, kept [index, splice] or None, ?rule]
START: int = TABLES["start"]
END: int = TABLES["end"]
IGNORE = frozenset(TABLES["ignore"])
NEWLINE = frozenset(TABLES["newline"])
RETYPE: dict[str, dict[str, str]] = TABLES["retype"]
LITERALS: dict[str, str] = TABLES["literals"]  # terminal name -> text, for fixed-text terminals

# One alternative per terminal, in the order of Lark's basic lexer: the first that matches wins.
_SCANNER = re.compile("|".join(f"(?P<{name}>{regexp})" for name, regexp in TABLES["terminals"]))


def _skipping_scanner() -> re.Pattern:
    """Ignored text (spaces, comments) and the token after it in one match, which halves the
    matches per token. Equivalent to `_SCANNER` token by token: an ignored terminal is skipped
    only where no terminal before it in the order matches (the lookaheads), the skipping is
    atomic (no backtracking into a comment to find a word inside it), and where the combined
    match fails (trailing ignored text, an unreadable character) `tokens` falls back to
    `_SCANNER`."""
    skips, before = [], []
    for name, regexp in TABLES["terminals"]:
        if name not in IGNORE:
            before.append(f"(?:{regexp})")
        elif before:
            skips.append(f"(?=(?:{regexp}))(?!{'|'.join(before)})(?:{regexp})")
        else:
            skips.append(f"(?:{regexp})")
    token = "|".join(
        f"(?P<{name}>{regexp})" for name, regexp in TABLES["terminals"] if name not in IGNORE
    )
    return re.compile(f"(?>(?:{'|'.join(skips)})*)(?:{token})")


_SKIPPING_SCANNER = _skipping_scanner()


class Token(str):
    """A terminal: its text (the `str` value), `type` (terminal name) and 1-based positions;
    `end_column` is the column just after the token, as in Lark."""

    type: str
    start_pos: int | None
    line: int | None
    column: int | None
    end_line: int | None
    end_column: int | None
    end_pos: int | None

    def __new__(
        cls,
        type: str,
        value: str,
        start_pos: int | None = None,
        line: int | None = None,
        column: int | None = None,
        end_line: int | None = None,
        end_column: int | None = None,
        end_pos: int | None = None,
    ) -> Token:
        self = str.__new__(cls, value)
        self.type = type
        self.start_pos, self.line, self.column = start_pos, line, column
        self.end_line, self.end_column, self.end_pos = end_line, end_column, end_pos
        return self

    @property
    def value(self) -> str:
        return str(self)

    @classmethod
    def new_borrow_pos(cls, type: str, value: str, borrow: Token) -> Token:
        return cls(
            type,
            value,
            borrow.start_pos,
            borrow.line,
            borrow.column,
            borrow.end_line,
            borrow.end_column,
            borrow.end_pos,
        )

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {str(self)!r})"

    def __reduce__(self):
        return (Token, (self.type, str(self), self.start_pos, self.line, self.column,
                        self.end_line, self.end_column, self.end_pos))  # fmt: skip


class Meta:
    """Where a tree node starts and ends in the text (from its first and last positioned child,
    the filtered keywords and braces included); `empty` when it has no positioned child."""

    __slots__ = ("empty", "line", "column", "start_pos", "end_line", "end_column", "end_pos")

    def __init__(self) -> None:
        self.empty = True


class Tree:
    """A rule's node: `data` is the rule's name, `children` the kept tokens and subtrees."""

    __slots__ = ("data", "children", "meta")

    def __init__(self, data: str, children: list, meta: Meta | None = None) -> None:
        self.data = data
        self.children = children
        self.meta = Meta() if meta is None else meta

    def __eq__(self, other: object) -> bool:  # as Lark's: positions are not compared
        if not isinstance(other, Tree):
            return NotImplemented
        return self.data == other.data and self.children == other.children

    def __hash__(self) -> int:
        return hash((self.data, tuple(self.children)))

    def __repr__(self) -> str:
        return f"Tree({self.data!r}, {self.children!r})"


class LexFault(Exception):
    """No terminal matches at `pos`; `length` characters are skipped by the lexer."""

    def __init__(self, pos: int, line: int, column: int, length: int) -> None:
        super().__init__(f"no token at line {line}, column {column}")
        self.pos, self.line, self.column, self.length = pos, line, column, length


class UnexpectedToken(Exception):
    def __init__(self, token: Token) -> None:
        super().__init__(f"unexpected {token.type} {str(token)!r}")
        self.token = token


def tokens(text: str, skip: Callable[[str, int], int] | None = None) -> Iterator[Token | LexFault]:
    """The tokens of `text`, ignored ones (spaces, comments) left out. Where no terminal
    matches, raise LexFault, or, given `skip` (text, pos → characters to skip), yield it and
    go on after the skipped characters."""
    retype = RETYPE.get
    pos, line, line_start, size = 0, 1, 0, len(text)
    while True:
        # Consecutive matches: finditer stops being useful where the combined match fails (a
        # gap before the next match); the single-terminal scanner takes over from there.
        for found in _SKIPPING_SCANNER.finditer(text, pos):
            if found.start() != pos:
                break
            kind = found.lastgroup
            start, end = found.span(kind)
            if start != pos and (newlines := text.count("\n", pos, start)):
                line += newlines
                line_start = text.rindex("\n", pos, start) + 1
            value = found.group(kind)
            words = retype(kind)
            if words is not None:
                kind = words.get(value, kind)
            column = start - line_start + 1
            if kind in NEWLINE and (newlines := value.count("\n")):
                start_line = line
                line += newlines
                line_start = start + value.rindex("\n") + 1
                yield Token(kind, value, start, start_line, column, line,
                            end - line_start + 1, end)  # fmt: skip
            else:
                yield Token(kind, value, start, line, column, line, column + end - start, end)
            pos = end
        if pos >= size:
            return
        found = _SCANNER.match(text, pos)
        if found is not None:
            kind, end = found.lastgroup, found.end()
        else:
            end = pos + (max(skip(text, pos), 1) if skip is not None else 1)
            fault = LexFault(pos, line, pos - line_start + 1, end - pos)
            if skip is None:
                raise fault
            yield fault
            kind, end = None, min(end, size)
        if kind is not None and kind not in IGNORE:
            # not expected: the combined match fails only before trailing ignored text or an
            # unreadable character; kept so that the fallback is a complete lexer by itself
            value = found.group()
            words = retype(kind)
            if words is not None:
                kind = words.get(value, kind)
            token = Token(kind, value, pos, line, pos - line_start + 1, line, 0, end)
        else:
            token = None
        if newlines := text.count("\n", pos, end):
            line += newlines
            line_start = text.rindex("\n", pos, end) + 1
        if token is not None:
            token.end_line, token.end_column = line, end - line_start + 1
            yield token
        pos = end


def _meta(children: list) -> Meta:
    """Lark's propagated positions: from the first and the last child that has one."""
    meta = Meta()
    for first in children:
        if type(first) is not Token:
            first = None if first.meta.empty else first.meta
        if first is not None:
            break
    else:
        return meta
    last = children[-1]
    if type(last) is not Token:
        for last in reversed(children):
            if type(last) is not Token:
                last = None if last.meta.empty else last.meta
            if last is not None:
                break
    meta.empty = False
    meta.line, meta.column, meta.start_pos = first.line, first.column, first.start_pos
    meta.end_line, meta.end_column, meta.end_pos = last.end_line, last.end_column, last.end_pos
    return meta


def _reducer(name: str, keep: list | None, expand1: bool):
    """A function building a rule's node from its children (Lark's tree builder for that rule).

    Without `Parser.in_place`, a repetition `x*` is rebuilt at each item (the splice copies the
    list so far): only the recovering parser, which copies its stacks, runs that way."""
    if keep is None and not expand1:
        return lambda children: Tree(name, children, _meta(children))
    if keep is None:
        return lambda children: (
            children[0] if len(children) == 1 else Tree(name, children, _meta(children))
        )

    def build(children: list) -> Tree | Token:
        kept: list = []
        for index, splice in keep:
            if splice:
                kept += children[index].children
            else:
                kept.append(children[index])
        if expand1 and len(kept) == 1:
            return kept[0]
        return Tree(name, kept, _meta(children))

    return build


def _grows(keep: list | None) -> bool:
    """`x*` as Lark expands it: `_x_star: _x_star x`, the first child spliced, the second kept."""
    return keep == [[0, True], [1, False]]


_REDUCERS = [
    (origin, size, _reducer(name, keep, expand1), _grows(keep) and not expand1)
    for origin, name, size, keep, expand1 in RULES
]


class Parser:
    """The LALR parser's stacks: feed tokens one by one; cheap to copy for trying tokens out.

    `in_place` (see `feed`) is for a parser that is never copied: `parse` uses it; copies
    never do."""

    __slots__ = ("states", "values", "in_place")

    def __init__(
        self, states: list[int] | None = None, values: list | None = None, in_place: bool = False
    ) -> None:
        self.states = [START] if states is None else states
        self.values = [] if values is None else values
        self.in_place = in_place

    def copy(self) -> Parser:
        return Parser(self.states.copy(), self.values.copy())

    def choices(self) -> dict[str, int]:
        """The terminals the table has an action for here (LALR look-ahead sets are merged, so
        some may still fail after reductions: `accepts` tries them)."""
        return ACTIONS[self.states[-1]]

    def accepts(self) -> set[str]:
        fits = set()
        for terminal in self.choices():
            try:
                self.copy().feed(Token(terminal, ""))
            except UnexpectedToken:
                continue
            fits.add(terminal)
        return fits

    def feed(self, token: Token) -> Tree | None:
        """Shift `token` after the reductions it calls for; `$END` returns the finished tree.

        With `in_place`, a repetition `x*` appends to the node built so far instead of building
        a new one (linear instead of quadratic in its length); a copy of the parser would share
        that node and see it grow, so copies never do this."""
        states, values, in_place = self.states, self.values, self.in_place
        kind = token.type
        while True:
            code = ACTIONS[states[-1]].get(kind)
            if code is None:
                raise UnexpectedToken(token)
            if code >= 0:
                states.append(code)
                values.append(token)
                return None
            origin, size, build, grows = _REDUCERS[-1 - code]
            if size == 1:
                children = [values.pop()]
                states.pop()
            elif size:
                children = values[-size:]
                del values[-size:]
                del states[-size:]
            else:
                children = []
            if in_place and grows:
                value, item = children
                value.children.append(item)
                value.meta = _meta(children)
            else:
                value = build(children)
            states.append(GOTO[states[-1]][origin])
            values.append(value)
            if kind == "$END" and states[-1] == END:
                return value


def end_token(last: Token | None) -> Token:
    """The end-of-input token, placed where Lark places it (at the last token)."""
    if last is None:
        return Token("$END", "", 0, 1, 1)
    return Token.new_borrow_pos("$END", "", last)


def parse(text: str) -> Tree:
    """Parse a whole text; raises LexFault or UnexpectedToken at the first error."""
    parser = Parser(in_place=True)
    feed = parser.feed
    token = None
    for token in tokens(text):
        feed(token)
    tree = feed(end_token(token))
    assert tree is not None
    return tree
