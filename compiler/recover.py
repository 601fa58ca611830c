"""Recovering from syntax errors: every syntax error of a file, each reported once, in words.

`parse.py` sends a file here only when the fast parser stopped at an error. The tokens are fed to
Lark's interactive LALR parser (`parse_interactive()`) one by one; on an error the parser is rewound to the
start of the statement that failed and tokens are skipped, counting braces, until the next
statement of the same network, the `}` that closes it or the next `network` keyword. Only then does
parsing resume, so a mistake costs its own statement and never cascades into errors about the lines
after it. A network that had a syntax error is left out of the tree: its other statements are not
validated, because a half-read network would produce spurious complaints (a missing bridge that
was only unreadable).
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

from netc.diagnostics import Diagnostic, did_you_mean, shown
from netc.ir.span import Span

from .lark_parser import InteractiveParser, Token, Tree, UnexpectedCharacters, UnexpectedToken
from .syntax import literals, parser

MAX_SYNTAX_ERRORS = 20  # per file; after that the rest is likely noise from one big mistake

# How terminals are named in messages.
_TERMINAL_WORDS = {
    "WORD": "a name or value",
    "STRING": 'a "quoted" name',
    "$END": "end of file",
}

# What a name or value after a keyword is, for "missing ... after 'bridge'".
_VALUE_AFTER = {
    "network": "a network name",
    "bridge": "a bridge name",
    "dev": "a device name",
    "address": "an address range",
    "ports": "a port range",
    "ip": "an address with a prefix length (like 192.168.122.1/24)",
    "dhcp": "an address range",
    "host": "an address",
    "mac": "a MAC address",
    "name": "a host name",
    "tftp": "a directory",
    "bootp": "a file name",
    "server": "an address",
    "-": "the end of the range",
}

# Where a keyword belongs, for a keyword written in the wrong place.
_BELONGS = {
    "dev": "inside a 'forward' block: forward nat { dev eth0 }",
    "address": "inside a 'forward nat' block: forward nat { address A - B }",
    "ports": "inside a 'forward nat' block: forward nat { ports 1024 - 65535 }",
    "inbound": "inside a 'forward route' block: forward route { inbound stateful }",
    "dhcp": "inside an 'ip' block: ip 192.168.122.1/24 { dhcp A - B }",
    "host": "inside an 'ip' block: ip 192.168.122.1/24 { host ADDRESS mac MAC }",
    "tftp": "inside an 'ip' block: ip 192.168.122.1/24 { tftp /srv/tftp }",
    "bootp": "inside an 'ip' block: ip 192.168.122.1/24 { bootp FILE }",
    "mac": "on a 'host' line: host ADDRESS mac MAC",
    "name": "on a 'host' line: host ADDRESS name NAME",
    "server": "on a 'bootp' line: bootp FILE server ADDRESS",
    "nat": "after 'forward': forward nat",
    "route": "after 'forward': forward route",
    "open": "after 'forward': forward open",
    "isolated": "after 'forward': forward isolated",
    "stateful": "after 'inbound': inbound stateful",
    "stateless": "after 'inbound': inbound stateless",
}

_NAMES = {"WORD", "STRING"}


@dataclass(frozen=True, slots=True)
class _Grammar:
    """Facts about the grammar that recovery needs, read from the parse tables, not hard-coded,
    so that statements added to the grammar are recovered from without touching this module."""

    keywords: dict[str, str]  # terminal name -> keyword text, for word-like keywords
    literals: dict[str, str]  # terminal name -> text, for every fixed-text terminal
    statements: frozenset[str]  # terminals that start a statement directly inside a network
    network: str
    lbrace: str
    rbrace: str


@functools.cache
def _grammar() -> _Grammar:
    texts = literals()
    by_text = {text: name for name, text in texts.items()}
    keywords = {name: text for name, text in texts.items() if text[:1].isalpha()}
    probe = _start()
    for name in (by_text["network"], "WORD", by_text["{"]):
        probe.feed_token(Token(name, texts.get(name, "x")))
    statements = frozenset(t for t in probe.choices() if t in keywords)
    return _Grammar(keywords, texts, statements, by_text["network"], by_text["{"], by_text["}"])


def _start() -> InteractiveParser:
    """A parser at the start of a file, fed token by token."""
    return parser().parse_interactive()


def _copy(state: InteractiveParser) -> InteractiveParser:
    """An independent parser in the same state. The trees built so far are shared, not copied:
    Lark builds a new node at every reduction and never changes one it has built."""
    return state.copy(deepcopy_values=False)


@dataclass(frozen=True, slots=True)
class _Block:
    label: str  # "network 'default'", "ip 192.168.122.1/24", "forward nat"
    line: int


@dataclass(frozen=True, slots=True)
class _LexFault:
    diagnostic: Diagnostic


@dataclass(frozen=True, slots=True)
class _Unreadable:
    """Where no token can start: `length` characters at `pos` are skipped."""

    pos: int
    line: int
    column: int
    length: int


class Recovery:
    """One parse of one file: feeds tokens, reports errors, rewinds and resynchronises."""

    def __init__(self, text: str, filename: str, earlier_errors: int = 0, hand_back: bool = False):
        """`earlier_errors`: syntax errors already found in the file before `text`'s tokens (they
        count towards MAX_SYNTAX_ERRORS). `hand_back`: stop after the first network that closes
        normally once an error was found, at a clean top level; `resume_at` then says where the
        rest of the file starts, for the fast parser (None: read to the end)."""
        self.text = text
        self.filename = filename
        self.earlier_errors = earlier_errors
        self.hand_back = hand_back
        self.resume_at: int | None = None
        self.gave_up = False  # too many syntax errors: the file's tree is empty
        self.g = _grammar()
        self.problems: list[Diagnostic] = []
        self.ip = _start()
        self.top = _copy(self.ip)  # between networks
        self.stmt: InteractiveParser | None = None  # before the current network statement
        self.depth = 0  # braces open in the text
        self.blocks: list[_Block] = []
        self.recent: list[Token] = []  # tokens fed since the last brace
        self.last: Token | None = None
        self.network_start: tuple[int, int] | None = None
        self.network_tokens: list[Token] = []  # fed since the current network's keyword
        self.networks: list[tuple[tuple[int, int], list[Token]]] = []  # complete, with start
        self.damaged: set[tuple[int, int]] = set()
        self.skipping = False
        self.resume_inside = False  # while skipping: is a network open in the rewound parser?
        self.failed_at: Token | None = None  # the token the last syntax error was reported at

    # -- driver --------------------------------------------------------------------------------

    def run(self) -> tuple[Tree, list[Diagnostic]]:
        for item in self.tokens():
            if len(self.problems) + self.earlier_errors >= MAX_SYNTAX_ERRORS:
                self.gave_up = True
                where = item.diagnostic.span if isinstance(item, _LexFault) else self.span(item)
                self.problems.append(
                    Diagnostic(f"too many syntax errors; stopped reading {self.filename}", where)
                )
                return Tree("start", []), self.problems
            if isinstance(item, _LexFault):
                self.problems.append(item.diagnostic)
                if not self.skipping:
                    self.mark_damaged()
                    self.rewind()
            elif self.skipping:
                self.resync(item)
            else:
                self.advance(item)
                if self.hand_back and self.clean_after(item):
                    self.resume_at = item.end_pos
                    return self.tree(), self.problems
        self.finish()
        return self.tree(), self.problems

    def clean_after(self, tok: Token) -> bool:
        """Did `tok` close a network normally, after an error, with errors still to spare? The
        driver is then where a fresh one would be at the start of the rest of the file."""
        return (
            tok.type == self.g.rbrace
            and tok is self.last
            and self.depth == 0
            and not self.skipping
            and bool(self.problems)
            and len(self.problems) + self.earlier_errors < MAX_SYNTAX_ERRORS
        )

    def tree(self) -> Tree:
        """The networks without syntax errors, parsed again from their tokens by a fresh parser.

        The parsers of the recovery share the trees they build (copying them at every token
        would be quadratic), and Lark extends a repetition's list in place, so a rewound parser
        may hold nodes a discarded one grew. Their states are right, their trees are not used."""
        builder = _start()
        last = None
        for start, tokens in self.networks:
            if start not in self.damaged:
                for tok in tokens:
                    builder.feed_token(tok)
                last = tokens[-1]
        tree = builder.feed_eof(last)
        return Tree("start", tree.children, tree.meta if tree.children else None)

    def tokens(self):
        """The file's tokens; a character the lexer cannot read becomes a `_LexFault` and is
        skipped (an unterminated string up to the end of its line), and lexing goes on."""
        for item in _tokens(self.text):
            yield _LexFault(self.lex_problem(item)) if isinstance(item, _Unreadable) else item

    # -- normal parsing ------------------------------------------------------------------------

    def advance(self, tok: Token) -> None:
        g = self.g
        choices = self.ip.choices()
        # Top level accepts end of file; after 'network' (where a keyword may be the name) not.
        if tok.type == g.network and self.depth == 0 and "$END" in choices:
            self.top = _copy(self.ip)
            self.stmt = None
            self.network_start = (tok.line, tok.column)
            self.network_tokens = []
        starts_statement = tok.type in g.statements and self.depth == 1 and tok.type in choices
        before = _copy(self.ip)
        try:
            self.ip.feed_token(tok)
        except UnexpectedToken:
            # Not err.expected: LALR merges look-ahead sets, so in a state reached through a
            # shared rule (a name after 'bridge' and after 'dev') the table lists tokens that are
            # wrong here. accepts() tries each one on a copy and keeps those that really fit.
            expected = before.accepts()
            self.problems.append(self.describe(tok, expected))
            self.failed_at = tok
            self.mark_damaged()
            if not self.close_blocks_for(tok, before, expected):
                self.rewind(tok, expected)
            return
        if starts_statement:
            # Kept once the statement really started: LALR's merged look-ahead sets list
            # statement keywords after `expose udp 5000 - 5`, which still wants 'to', and
            # resuming from such a state failed again at the same keyword, for ever.
            self.stmt = before
        self.fed(tok)

    def close_blocks_for(self, tok: Token, before: InteractiveParser, expected: set[str]) -> bool:
        """A network statement inside an inner block means that block's '}' is missing (the
        message says so): supply it and carry on, rather than also reporting the network as
        unclosed later. True when that repair worked."""
        g = self.g
        if tok.type not in g.statements or self.depth < 2 or g.rbrace not in expected:
            return False
        trial, depth = before, self.depth
        while depth > 1:
            try:
                trial.feed_token(Token.new_borrow_pos(g.rbrace, "}", tok))
            except UnexpectedToken:
                return False
            depth -= 1
        if tok.type not in trial.choices():
            return False
        self.ip, self.depth = trial, depth
        self.blocks = self.blocks[:depth]
        self.recent = []
        self.advance(tok)
        return True

    def fed(self, tok: Token) -> None:
        """Book-keeping after the parser accepted a token: braces, open blocks, snapshots, the
        tokens of the network under way."""
        g = self.g
        self.network_tokens.append(tok)
        if tok.type == g.lbrace:
            self.blocks.append(_Block(self.block_label(), tok.line))
            self.depth += 1
            self.recent = []
            if self.depth == 1:
                self.stmt = _copy(self.ip)
        elif tok.type == g.rbrace:
            self.depth -= 1
            if self.blocks:
                self.blocks.pop()
            self.recent = []
            if self.depth == 0:
                self.top = _copy(self.ip)
                self.stmt = None
                if self.network_start is not None:
                    self.networks.append((self.network_start, self.network_tokens))
                    self.network_tokens = []
        else:
            self.recent.append(tok)
        self.last = tok

    def finish(self) -> Tree:
        end = self.end_token()
        if self.skipping:
            return self.resync(end) or Tree("start", [])
        before = _copy(self.ip)
        try:
            return self.ip.feed_token(end)
        except UnexpectedToken:
            self.problems.append(self.describe(end, before.accepts()))
            self.failed_at = end
            self.mark_damaged()
            self.rewind()
            return self.resync(end) or Tree("start", [])

    # -- recovery ------------------------------------------------------------------------------

    def mark_damaged(self) -> None:
        if self.depth >= 1 and self.network_start is not None:
            self.damaged.add(self.network_start)

    def rewind(self, tok: Token | None = None, expected: set[str] | None = None) -> None:
        """Go back to before the failed statement (or network) and skip from `tok` on."""
        self.skipping = True
        self.resume_inside = self.depth >= 1 and self.stmt is not None
        base = self.stmt if self.resume_inside else self.top
        self.ip = _copy(base)
        if tok is None:
            return
        # A keyword where a name was wanted ("bridge forward") was probably meant as the name:
        # skip it rather than resuming at it, or its own statement would fail next.
        if expected and expected & _NAMES and tok.type in self.g.statements:
            if tok.type != self.g.network:
                self.recent = []
                return
        self.resync(tok)

    def resync(self, tok: Token) -> Tree | None:
        """While skipping: decide whether `tok` is where parsing can resume, and resume."""
        g = self.g
        if tok.type == "$END":
            if self.depth >= 1 and self.blocks and tok is not self.failed_at:
                block = self.blocks[0]
                self.problems.append(
                    Diagnostic(
                        f"missing '}}' to close {block.label} at end of file",
                        self.span(tok),
                        f"{block.label} is opened at line {block.line}",
                    )
                )
            self.close_network(tok)
            return self.feed_or_none(tok)
        if tok.type == g.network:
            if self.depth >= 1 and self.blocks and tok is not self.failed_at:
                block = self.blocks[0]
                self.problems.append(
                    Diagnostic(
                        f"missing '}}' to close {block.label} before the next network",
                        self.span(tok),
                        f"{block.label} is opened at line {block.line}",
                    )
                )
            self.close_network(tok)
            self.depth, self.blocks, self.recent = 0, [], []
            if tok.type in self.ip.choices():
                self.skipping = False
                self.top = _copy(self.ip)
                self.advance(tok)
            return None
        if tok.type == g.lbrace:
            self.depth += 1
        elif tok.type == g.rbrace:
            if self.depth == 1 and self.resume_inside:
                self.depth = 0
                self.blocks = []
                self.skipping = False
                self.recent = []
                if self.feed_or_none(tok) is not False:
                    self.top = _copy(self.ip)
                return None
            self.depth = max(self.depth - 1, 0)
            if self.blocks and len(self.blocks) > self.depth:
                self.blocks = self.blocks[: self.depth]
        elif (
            tok.type in g.statements
            and self.depth == 1
            and self.resume_inside
            and tok.type in self.ip.choices()
            and self.fits(tok)
        ):
            self.skipping = False
            self.recent = []
            self.advance(tok)
        return None

    def fits(self, tok: Token) -> bool:
        """Does the parser really take `tok` (its table's choices() may list more)?"""
        trial = _copy(self.ip)
        try:
            trial.feed_token(tok)
        except UnexpectedToken:
            return False
        return True

    def close_network(self, at: Token) -> None:
        """Close the network the rewound parser is inside (its '}' is missing or was skipped)."""
        if self.skipping and self.resume_inside:
            self.feed_or_none(Token.new_borrow_pos(self.g.rbrace, "}", at))
            self.resume_inside = False

    def feed_or_none(self, tok: Token):
        try:
            return self.ip.feed_token(tok)
        except UnexpectedToken:  # cannot happen from a rewound state; never let it escape
            return False

    # -- messages ------------------------------------------------------------------------------

    def end_token(self) -> Token:
        if self.last is not None:
            end = Token("$END", "", 0, self.last.end_line, self.last.end_column)
        else:
            end = Token("$END", "", 0, 1, 1)
        end.end_line, end.end_column = end.line, end.column + 1
        return end

    def span(self, tok: Token) -> Span:
        return Span(self.filename, tok.line, tok.column, tok.end_line, tok.end_column)

    def block_label(self) -> str:
        head = self.recent[-3:]
        for i, tok in enumerate(head):
            if tok.type in self.g.keywords:
                head = head[i:]
                break
        if head and head[0].type == self.g.network and len(head) > 1:
            return f"network '{shown(_value(head[1]))}'"
        return " ".join(shown(_value(t)) for t in head) or "block"

    def describe_expected(self, expected: set[str]) -> str:
        g = self.g
        words = sorted(g.keywords[t] for t in expected if t in g.keywords)
        others = sorted(
            _TERMINAL_WORDS.get(t, f"'{g.literals.get(t, t.lower())}'")
            for t in expected
            if t not in g.keywords and t != "$END"
        )
        modes = {"nat", "route", "open", "isolated"}
        if set(words) == modes and not others:
            return "a forward mode (nat, route, open or isolated)"
        if words and set(words) <= {g.keywords[t] for t in g.statements} and g.rbrace in expected:
            body = ", ".join(sorted(words))
            return f"a network statement ({body}) or '}}'"
        listing = [f"'{w}'" for w in words] + others
        if "$END" in expected:
            listing.append("end of file")
        if len(listing) <= 2:
            return " or ".join(listing)
        return "one of: " + ", ".join(listing)

    def describe(self, tok: Token, expected: set[str]) -> Diagnostic:
        g = self.g
        span = self.span(tok)
        found = "end of file" if tok.type == "$END" else f"'{shown(_value(tok))}'"
        prev = self.last
        prev_text = _value(prev) if prev is not None else ""
        # A value is wanted when nothing but names (or, for a network's name, keywords) fits.
        wants_value = bool(expected & _NAMES) and not (
            expected - _NAMES - {"MINUS"} - set(g.keywords)
        )

        if g.rbrace in expected and self.blocks and tok.type in ("$END", g.network):
            block = self.blocks[-1]
            where = "at end of file" if tok.type == "$END" else "before the next network"
            return Diagnostic(
                f"missing '}}' to close {block.label} {where}",
                span,
                f"{block.label} is opened at line {block.line}",
            )
        if wants_value and prev is not None and prev_text in _VALUE_AFTER:
            what = _VALUE_AFTER[prev_text]
            if tok.type in g.keywords and tok.line == prev.line:
                return Diagnostic(
                    f"'{tok}' is a keyword, not {what}",
                    span,
                    f'write a name that is a keyword in quotes: "{tok}"',
                )
            return Diagnostic(f"missing {what} after '{shown(prev_text)}'", self.span(prev), None)
        if tok.type == g.rbrace and self.depth == 0:
            return Diagnostic("unmatched '}'", span, "no block is open here")
        if (
            prev is not None
            and prev.type == "WORD"
            and self.recent[-2:-1]
            and self.recent[-2].type == g.network
            and g.lbrace in expected
        ):
            return Diagnostic(
                f"unexpected {found}; expected '{{' after network '{shown(prev_text)}'",
                span,
                "a network's statements go in braces: network NAME { bridge virbr0 ... }",
            )
        hint = None
        if tok.type == "WORD" and not all(_visible(c) for c in str(tok)):
            odd = next(c for c in str(tok) if not _visible(c))
            hint = f"it contains the invisible character {_codepoint(odd)}"
        elif (
            tok.type == "WORD"
            and prev is not None
            and prev.type in _NAMES
            and (prev.end_line == tok.line)
        ):
            hint = (
                f"a name is one word: if '{shown(prev_text)} {shown(str(tok))}' is meant as one, "
                "it cannot contain spaces"
            )
        elif tok.type == "WORD":
            word = str(tok)
            keywords = [g.keywords[t] for t in expected if t in g.keywords]
            if word.lower() in keywords:
                hint = f"keywords are lower case: write '{word.lower()}'"
            else:
                hint = did_you_mean(word, keywords)
            if hint is None and self.depth == 0:
                hint = "a file holds blocks of the form: network NAME { ... }"
        elif tok.type in g.keywords:
            text = g.keywords[tok.type]
            if tok.type in g.statements and self.depth >= 2 and g.rbrace in expected:
                label = self.blocks[-1].label if self.blocks else "the block"
                hint = f"is a '}}' missing to close {label} before it?"
            elif self.depth == 0 and tok.type != g.network:
                hint = f"'{text}' goes inside a network: network NAME {{ {text} ... }}"
            elif text in _BELONGS:
                hint = f"'{text}' belongs {_BELONGS[text]}"
        return Diagnostic(
            f"unexpected {found}; expected {self.describe_expected(expected)}", span, hint
        )

    def lex_problem(self, err: _Unreadable) -> Diagnostic:
        char = self.text[err.pos]
        span = Span(self.filename, err.line, err.column, err.line, err.column + err.length)
        if char == '"':
            return Diagnostic(
                "unterminated quoted string", span, "close the string on the same line"
            )
        if char == ";":
            return Diagnostic(
                "unexpected ';'", span, "statements end at the next keyword; drop the ';'"
            )
        return Diagnostic(
            f"unexpected character {_codepoint(char)}",
            Span(self.filename, err.line, err.column, err.line, err.column + 1),
            "names and values are separated by spaces, tabs or newlines only",
        )


def _tokens(text: str):
    """Lark's tokens of `text`, and an `_Unreadable` wherever its lexer finds no token, after
    which lexing goes on. Lark's lexer starts at the start of a text, so the text is lexed again
    with everything up to the end of the unreadable characters blanked out: every position
    stays, and the blanks lex as one token instead of the tokens already given again."""
    lexed = text
    while True:
        try:
            for tok in parser().lex(lexed):
                yield tok
            return
        except UnexpectedCharacters as err:
            pos = err.pos_in_stream
            length = max(_unreadable(text, pos), 1)
            yield _Unreadable(pos, err.line, err.column, length)
            lexed = blank(text[: pos + length]) + text[pos + length :]


def blank(text: str) -> str:
    """`text` with every character but line ends turned into a space: lexed, it is whitespace
    with the same lines and columns (Lark's lexer only starts at the start of a text)."""
    return "\n".join(" " * len(line) for line in text.split("\n"))


def _unreadable(text: str, pos: int) -> int:
    """How much to skip where no token can start: an unterminated string to the end of its
    line, anything else one character."""
    if text[pos] == '"':
        newline = text.find("\n", pos)
        return (newline if newline >= 0 else len(text)) - pos
    return 1


def _value(tok: Token) -> str:
    return str(tok)


def _visible(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMNPS"


def _codepoint(char: str) -> str:
    name = unicodedata.name(char, None)
    if name is None and unicodedata.category(char) == "Cc":
        name = "control character"
    return f"U+{ord(char):04X}" + (f" ({name.lower()})" if name else "")
