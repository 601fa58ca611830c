"""Parse `nft -f` scripts and `nft list ruleset` output into the normal form.

Independent of netc's emitters: it reads what the kernel tool would read. The script is replayed
as commands onto an empty ruleset (`table inet netc {}` / `delete table inet netc` idioms, `add
rule`, `insert rule`), so the result is what the kernel holds after `nft -f`.

Fail closed: every token must be understood; an unknown keyword is a located ParityError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from .model import (
    Action,
    Atom,
    BaseHook,
    Chain,
    ChainType,
    Declared,
    Family,
    Field,
    Hook,
    Intervals,
    Kind,
    Loc,
    Names,
    Nat,
    ParityError,
    Rule,
    Ruleset,
    Table,
    Values,
    CT_STATES,
)
from .values import (
    DEFAULT_REJECT,
    ICMP_TYPES,
    ICMPV6_TYPES,
    ICMPX_TYPES,
    parse_address_span,
    parse_nat_target,
    parse_port_span,
    parse_protocol,
)

PRIORITY_NAMES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50}
PRIORITY_NAMES["srcnat"] = 100
FAMILIES = {"ip": frozenset({Family.IPV4}), "ip6": frozenset({Family.IPV6})}
FAMILIES["inet"] = frozenset({Family.IPV4, Family.IPV6})
NAT_FLAGS = {"random", "fully-random", "persistent"}


class Tok(NamedTuple):  # a tuple: made hundreds of thousands of times for a large ruleset
    kind: str  # word, string, {, }, ;, ",", ":", nl, eof
    text: str
    line: int
    col: int


_TOKEN_RE = re.compile(
    r"""(?P<ws>[ \t\r]+|\\\n)
      |(?P<comment>\#[^\n]*)
      |(?P<nl>\n)
      |(?P<string>"[^"\n]*")
      |(?P<punct>[{};,])
      |(?P<word>[A-Za-z0-9_.:/\-*$@%\[\]~+&|^<>=!]+)
    """,
    re.VERBOSE,
)


_LOOKAHEAD = 2  # the most `peek` looks ahead; the token list ends with this many extra eofs


def tokenize(text: str, filename: str) -> list[Tok]:
    toks: list[Tok] = []
    append = toks.append
    pos, line, line_start, size = 0, 1, 0, len(text)
    while pos < size:
        # consecutive matches; finditer skips unreadable text, which is caught by the position
        for m in _TOKEN_RE.finditer(text, pos):
            start = m.start()
            if start != pos:
                break
            kind = m.lastgroup
            value = m.group()
            col = start - line_start + 1
            if kind == "word":
                append(Tok(":" if value == ":" else "word", value, line, col))
            elif kind == "punct":
                append(Tok(value, value, line, col))
            elif kind == "nl":
                append(Tok("nl", "\n", line, col))
            elif kind == "string":
                append(Tok("string", value[1:-1], line, col))
            pos = m.end()
            if kind == "nl" or (kind == "ws" and "\n" in value):
                line += value.count("\n")
                line_start = pos
        if pos < size:
            col = pos - line_start + 1
            raise ParityError(f"unexpected character {text[pos]!r}", Loc(filename, line, col))
    toks.extend([Tok("eof", "", line, pos - line_start + 1)] * (1 + _LOOKAHEAD))
    return toks


@dataclass
class _MutableTable:
    family: str
    name: str
    chains: dict[str, "_MutableChain"]
    loc: Loc


@dataclass
class _MutableChain:
    name: str
    rules: list[Rule]
    base: BaseHook | None
    loc: Loc


class NftParser:
    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.toks = tokenize(text, filename)
        self.lines = text.splitlines()
        self.i = 0
        self.tables: dict[tuple[str, str], _MutableTable] = {}
        self.declared: list[Declared] = []

    # -- token helpers ------------------------------------------------------------------------
    def loc(self, tok: Tok | None = None) -> Loc:
        tok = tok or self.peek()
        return Loc(self.filename, tok.line, tok.col)

    def peek(self, ahead: int = 0) -> Tok:
        return self.toks[self.i + ahead]  # never past the end: `next` stops at the first eof

    def next(self) -> Tok:
        tok = self.toks[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def error(self, message: str, tok: Tok | None = None) -> ParityError:
        return ParityError(message, self.loc(tok))

    def expect(self, kind: str, text: str | None = None) -> Tok:
        tok = self.next()
        if tok.kind != kind or (text is not None and tok.text != text):
            want = text or kind
            got = tok.text if tok.kind != "nl" else "end of line"
            raise self.error(f"expected {want!r}, got {got or 'end of input'!r}", tok)
        return tok

    def word(self) -> Tok:
        tok = self.next()
        if tok.kind not in ("word", "string"):
            raise self.error(f"expected a name, got {tok.text or tok.kind!r}", tok)
        return tok

    def at_word(self, *texts: str) -> bool:
        tok = self.peek()
        return tok.kind == "word" and tok.text in texts

    def skip_separators(self) -> None:
        while self.peek().kind in ("nl", ";"):
            self.next()

    def skip_newlines(self) -> None:
        while self.peek().kind == "nl":
            self.next()

    def end_of_statement(self) -> bool:
        return self.peek().kind in ("nl", ";", "}", "eof")

    # -- script level -------------------------------------------------------------------------
    def parse(self) -> Ruleset:
        while True:
            self.skip_separators()
            tok = self.peek()
            if tok.kind == "eof":
                break
            self.command()
        tables = []
        for t in self.tables.values():
            chains = {
                c.name: Chain(c.name, tuple(c.rules), c.base, c.loc) for c in t.chains.values()
            }
            tables.append(Table(f"{t.family} {t.name}", FAMILIES[t.family], chains, "nft", t.loc))
        return Ruleset(tuple(tables), (self.filename,), tuple(self.declared))

    def family(self) -> str:
        tok = self.word()
        if tok.text not in FAMILIES:
            raise self.error(f"unsupported table family {tok.text!r}", tok)
        return tok.text

    def table_ref(self, create: bool) -> _MutableTable:
        fam_tok = self.peek()
        fam = self.family()
        name = self.word().text
        key = (fam, name)
        if key not in self.tables:
            if not create:
                raise self.error(f"no such table {fam} {name}", fam_tok)
            self.tables[key] = _MutableTable(fam, name, {}, self.loc(fam_tok))
        return self.tables[key]

    def chain_ref(self, create: bool) -> tuple[_MutableTable, _MutableChain]:
        table = self.table_ref(create=False)
        tok = self.word()
        if tok.text not in table.chains:
            if not create:
                raise self.error(f"no such chain {tok.text!r}", tok)
            table.chains[tok.text] = _MutableChain(tok.text, [], None, self.loc(tok))
        return table, table.chains[tok.text]

    def command(self) -> None:
        tok = self.word()
        verb = tok.text
        if verb == "table":
            table = self.table_ref(create=True)
            if self.peek().kind == "{":
                self.table_block(table)
            return
        if verb in ("add", "create", "insert", "replace", "delete", "destroy", "flush", "list"):
            what = self.word()
            obj = what.text
            if verb == "list":
                while not self.end_of_statement():
                    self.next()
                return
            if obj == "ruleset" and verb == "flush":
                self.tables.clear()
                return
            if obj == "table":
                if verb in ("add", "create"):
                    table = self.table_ref(create=True)
                    if self.peek().kind == "{":
                        self.table_block(table)
                    return
                if verb in ("delete", "destroy"):
                    fam_tok = self.peek()
                    fam, name = self.family(), self.word().text
                    if (fam, name) not in self.tables and verb == "delete":
                        raise self.error(f"no such table {fam} {name}", fam_tok)
                    self.tables.pop((fam, name), None)
                    return
                if verb == "flush":
                    table = self.table_ref(create=False)
                    for chain in table.chains.values():
                        chain.rules.clear()
                    return
            if obj == "chain":
                if verb in ("add", "create"):
                    _, chain = self.chain_ref(create=True)
                    if self.peek().kind == "{":
                        self.next()
                        self.chain_body(chain)
                    return
                if verb in ("delete", "destroy"):
                    table = self.table_ref(create=False)
                    table.chains.pop(self.word().text, None)
                    return
                if verb == "flush":
                    _, chain = self.chain_ref(create=False)
                    chain.rules.clear()
                    return
            if obj == "rule" and verb in ("add", "insert"):
                table, chain = self.chain_ref(create=False)
                position = None
                if self.at_word("position", "handle", "index"):
                    raise self.error(f"'{self.peek().text}' in rule commands is not supported")
                rule = self.rule(table.family)
                if verb == "add":
                    chain.rules.append(rule)
                else:
                    chain.rules.insert(position or 0, rule)
                return
            raise self.error(f"unsupported command '{verb} {obj}'", tok)
        raise self.error(f"unsupported command {verb!r}", tok)

    def table_block(self, table: _MutableTable) -> None:
        self.expect("{")
        while True:
            self.skip_separators()
            tok = self.peek()
            if tok.kind == "}":
                self.next()
                return
            word = self.word()
            if word.text == "chain":
                name_tok = self.word()
                chain = table.chains.get(name_tok.text)
                if chain is None:
                    chain = _MutableChain(name_tok.text, [], None, self.loc(name_tok))
                    table.chains[name_tok.text] = chain
                self.expect("{")
                self.chain_body(chain, family=table.family)
            elif word.text == "comment":
                self.expect("string")
            elif word.text == "flags":
                raise self.error("table flags are not supported", word)
            else:
                raise self.error(f"unsupported table statement {word.text!r}", word)

    def chain_body(self, chain: _MutableChain, family: str | None = None) -> None:
        fam = family or "inet"
        if family is None:
            # `add chain f t c { ... }`: the table family precedes; find it from the table list.
            for (f, _), t in self.tables.items():
                if chain in t.chains.values():
                    fam = f
        while True:
            self.skip_separators()
            tok = self.peek()
            if tok.kind == "}":
                self.next()
                return
            if self.at_word("type"):
                self.base_decl(chain)
            elif self.at_word("policy"):
                self.next()
                pol = self.word()
                if chain.base is None:
                    raise self.error("policy on a regular chain", pol)
                if pol.text not in ("accept", "drop"):
                    raise self.error(f"bad policy {pol.text!r}", pol)
                chain.base = BaseHook(
                    chain.base.type,
                    chain.base.hook,
                    chain.base.priority,
                    Kind.ACCEPT if pol.text == "accept" else Kind.DROP,
                )
            elif self.at_word("comment") and self.peek(1).kind == "string":
                self.next()
                self.next()
            elif self.at_word("device", "devices"):
                raise self.error("netdev/ingress chains are not supported")
            else:
                chain.rules.append(self.rule(fam))

    def base_decl(self, chain: _MutableChain) -> None:
        self.expect("word", "type")
        type_tok = self.word()
        try:
            ctype = ChainType(type_tok.text)
        except ValueError:
            raise self.error(f"unknown chain type {type_tok.text!r}", type_tok) from None
        self.expect("word", "hook")
        hook_tok = self.word()
        try:
            hook = Hook(hook_tok.text)
        except ValueError:
            raise self.error(f"unsupported hook {hook_tok.text!r}", hook_tok) from None
        self.expect("word", "priority")
        prio = self.priority()
        if self.peek().kind == ";":
            self.next()
        policy = Kind.ACCEPT
        if self.at_word("policy"):
            self.next()
            pol = self.word()
            if pol.text not in ("accept", "drop"):
                raise self.error(f"bad policy {pol.text!r}", pol)
            policy = Kind.ACCEPT if pol.text == "accept" else Kind.DROP
        chain.base = BaseHook(ctype, hook, prio, policy)

    def priority(self) -> int:
        tok = self.word()
        text = tok.text
        m = re.fullmatch(r"([a-z]+)?([+-]?\d+)?", text)
        if m is None or not text:
            raise self.error(f"bad priority {text!r}", tok)
        base = 0
        if m.group(1):
            if m.group(1) not in PRIORITY_NAMES:
                raise self.error(f"unknown priority name {m.group(1)!r}", tok)
            base = PRIORITY_NAMES[m.group(1)]
        offset = int(m.group(2)) if m.group(2) else 0
        if m.group(1) and not m.group(2) and self.at_word("+", "-"):
            sign = self.next().text
            num = self.word()
            if not num.text.isdigit():
                raise self.error(f"bad priority offset {num.text!r}", num)
            offset = int(num.text) if sign == "+" else -int(num.text)
        return base + offset

    # -- rules --------------------------------------------------------------------------------
    def rule(self, family: str) -> Rule:
        start = self.peek()
        return _RuleParser(self, family, self.loc(start)).parse()


class _RuleParser:
    """One rule: a conjunction of matches, optional non-terminal statements, one action."""

    def __init__(self, p: NftParser, family: str, loc: Loc) -> None:
        self.p = p
        self.family = family
        self.loc = loc
        self.atoms: list[Atom] = []
        self.action: Action | None = None
        self.words: list[str] = []

    def fam_atom(self, fam: Family) -> None:
        if fam not in FAMILIES[self.family]:
            raise self.p.error(f"{fam.value} match in a {self.family} table")
        if self.family == "inet":
            self.atoms.append(Atom(Field.NFPROTO, Values(frozenset({fam}))))

    def proto_atom(self, proto: int) -> None:
        self.atoms.append(Atom(Field.L4PROTO, Intervals(((proto, proto),))))

    def set_action(self, action: Action, tok: Tok) -> None:
        if self.action is not None:
            raise self.p.error("a second verdict in one rule", tok)
        self.action = action

    def parse(self) -> Rule:
        p = self.p
        first = p.peek()
        while not p.end_of_statement():
            tok = p.peek()
            if tok.kind != "word":
                raise p.error(f"unexpected {tok.text!r}", tok)
            if self.action is not None and tok.text != "comment":
                raise p.error(f"statement after the verdict: {tok.text!r}", tok)
            self.statement()
        if self.action is None:
            if not self.atoms and first is p.peek():
                raise p.error("empty rule", first)
            self.action = Action(Kind.CONTINUE)
        text = self.p.lines[self.loc.line - 1].strip() if self.p.lines else ""
        return Rule(tuple(self.atoms), self.action, self.loc, text)

    def take(self) -> Tok:
        tok = self.p.next()
        self.words.append(tok.text)
        return tok

    def statement(self) -> None:
        p = self.p
        tok = self.take()
        w = tok.text
        if w == "counter":
            p.declared.append(Declared("counter", p.loc(tok)))
            if p.at_word("packets"):
                for _ in range(4):
                    self.take()
            return
        if w == "comment":
            p.expect("string")
            p.declared.append(Declared("comment", p.loc(tok)))
            return
        if w in ("accept", "drop", "return", "continue"):
            self.set_action(Action(Kind(w)), tok)
            return
        if w in ("jump", "goto"):
            target = p.word()
            self.words.append(target.text)
            self.set_action(Action(Kind(w), target=target.text), tok)
            return
        if w == "reject":
            self.set_action(Action(Kind.REJECT, reject=self.reject_type()), tok)
            return
        if w in ("masquerade", "snat", "dnat", "redirect"):
            self.set_action(Action(Kind.NAT, nat=self.nat(w, tok)), tok)
            return
        if w in ("log", "limit", "quota", "notrack", "queue", "dup", "fwd", "synproxy"):
            raise p.error(f"unsupported statement {w!r}", tok)
        if w == "udp" and p.at_word("checksum"):
            self.take()
            self.expect_words("set")
            val = self.take()
            if val.text != "0":
                raise p.error("only 'udp checksum set 0' is supported", val)
            p.declared.append(Declared("udp checksum set 0", p.loc(tok)))
            return
        self.match(tok)

    def expect_words(self, *words: str) -> None:
        for w in words:
            tok = self.take()
            if tok.text != w:
                raise self.p.error(f"expected {w!r}, got {tok.text!r}", tok)

    def reject_type(self) -> str:
        p = self.p
        if not p.at_word("with"):
            if self.family == "ip":
                return "icmp port-unreachable"
            if self.family == "ip6":
                return "icmpv6 port-unreachable"
            return DEFAULT_REJECT
        self.take()
        kind = self.take()
        if kind.text == "tcp":
            self.expect_words("reset")
            self.proto_atom(6)
            return "tcp reset"
        if kind.text not in ("icmp", "icmpv6", "icmpx"):
            raise p.error(f"unsupported reject type {kind.text!r}", kind)
        if p.at_word("type"):
            self.take()
        code = self.take()
        valid = {"icmp": ICMP_TYPES, "icmpv6": ICMPV6_TYPES, "icmpx": ICMPX_TYPES}[kind.text]
        if code.text not in valid:
            raise p.error(f"unsupported {kind.text} reject code {code.text!r}", code)
        if kind.text == "icmpx":
            return f"icmpx:{code.text}"
        self.fam_atom(Family.IPV4 if kind.text == "icmp" else Family.IPV6)
        return f"{kind.text} {code.text}"

    def nat(self, kind: str, tok: Tok) -> Nat:
        p = self.p
        fam: Family | None = {"ip": Family.IPV4, "ip6": Family.IPV6}.get(self.family)
        if p.at_word("ip", "ip6"):
            fam = Family.IPV4 if self.take().text == "ip" else Family.IPV6
        addrs = ports = None
        if p.at_word("to"):
            self.take()
            target = self.take()
            if target.kind != "word":
                raise p.error("expected a NAT target", target)
            text = _prefix_as_range(target.text)
            tfam, addrs, ports = parse_nat_target(text, p.loc(target), fam)
            if kind in ("masquerade", "redirect") and addrs is not None:
                raise p.error(f"{kind} takes only ports", target)
            if addrs is not None:
                fam = tfam
        elif kind in ("snat", "dnat"):
            raise p.error(f"{kind} without 'to'", tok)
        flags: set[str] = set()
        while (p.peek().kind == "word" and p.peek().text in NAT_FLAGS) or (
            flags and p.peek().kind == "," and p.peek(1).text in NAT_FLAGS
        ):
            ftok = self.take()
            if ftok.kind == ",":
                ftok = self.take()
            flags.add(ftok.text)
        if kind in ("snat", "dnat"):
            if fam is None:
                raise p.error(f"{kind} needs an address family in an inet table", tok)
            self.fam_atom(fam)
        else:
            fam = None
        return Nat(kind, fam, addrs, ports, tuple(sorted(flags)))

    # -- matches ------------------------------------------------------------------------------
    def match(self, tok: Tok) -> None:
        p = self.p
        w = tok.text
        if w == "meta":
            key = self.take()
            w = key.text
            if w not in ("iifname", "oifname", "iif", "oif", "l4proto", "nfproto", "protocol"):
                raise p.error(f"unsupported meta key {w!r}", key)
            if w == "protocol":
                w = "meta-protocol"
        field: Field
        kind: str
        afam: Family | None = None
        if w in ("iifname", "iif"):
            field, kind = Field.IIF, "iface"
        elif w in ("oifname", "oif"):
            field, kind = Field.OIF, "iface"
        elif w in ("l4proto",):
            field, kind = Field.L4PROTO, "proto"
        elif w == "nfproto":
            field, kind = Field.NFPROTO, "nfproto"
        elif w == "meta-protocol":
            field, kind = Field.NFPROTO, "ethertype"
        elif w in ("ip", "ip6"):
            afam = Family.IPV4 if w == "ip" else Family.IPV6
            key = self.take()
            if key.text in ("saddr", "daddr"):
                field, kind = (Field.SADDR if key.text == "saddr" else Field.DADDR), "addr"
            elif (w, key.text) in (("ip", "protocol"), ("ip6", "nexthdr")):
                field, kind = Field.L4PROTO, "proto"
            else:
                raise p.error(f"unsupported {w} header field {key.text!r}", key)
            self.fam_atom(afam)
        elif w in ("tcp", "udp", "sctp", "dccp", "udplite", "th"):
            key = self.take()
            if key.text not in ("sport", "dport"):
                raise p.error(f"unsupported {w} header field {key.text!r}", key)
            field, kind = (Field.SPORT if key.text == "sport" else Field.DPORT), "port"
            if w != "th":
                self.proto_atom(parse_protocol(w, p.loc(tok)))
        elif w == "ct":
            key = self.take()
            if key.text == "state":
                field, kind = Field.CT, "ctstate"
            elif key.text == "status":
                field, kind = Field.CT_DNAT, "ctstatus"
            else:
                raise p.error(f"unsupported ct key {key.text!r}", key)
        elif w == "fib":
            self.expect_words("daddr", "type")
            field, kind = Field.DADDR_LOCAL, "fib"
        else:
            raise p.error(f"unsupported expression {w!r}", tok)

        negate = False
        op = p.peek()
        if op.kind == "word" and op.text in ("==", "!=", "<", ">", "<=", ">="):
            self.take()
            negate = op.text == "!="
        if p.at_word("vmap"):
            if negate or op.text in ("<", ">", "<=", ">="):
                raise p.error("operator before vmap", op)
            self.take()
            self.vmap(field, kind, afam)
            return
        if op.text in ("<", ">", "<=", ">="):
            if kind != "port" and kind != "proto":
                raise p.error(f"operator {op.text} is only supported on ports", op)
            val = self.take()
            num = int(val.text) if val.text.isdigit() else -1
            if num < 0:
                raise p.error(f"number expected after {op.text}", val)
            top = 65535 if kind == "port" else 255
            span = {
                "<": (0, num - 1),
                "<=": (0, num),
                ">": (num + 1, top),
                ">=": (num, top),
            }[op.text]
            self.atoms.append(Atom(field, Intervals((span,)), missing=False))
            return
        items = self.value_list(kind)
        self.add_atom(field, kind, items, negate, afam)

    def value_list(self, kind: str) -> list[Tok]:
        """A single value, a comma list (flag types), or an anonymous set `{ a, b }`."""
        p = self.p
        if p.peek().kind == "{":
            self.take()
            items = []
            while True:
                p.skip_newlines()
                tok = self.take()
                if tok.kind == "}":
                    break
                if tok.kind not in ("word", "string"):
                    raise p.error(f"unexpected {tok.text!r} in set", tok)
                items.append(tok)
                p.skip_newlines()
                sep = self.take()
                if sep.kind == "}":
                    break
                if sep.kind != ",":
                    raise p.error(f"expected ',' or '}}' in set, got {sep.text!r}", sep)
            if not items:
                raise p.error("empty set")
            return items
        tok = self.take()
        if tok.kind not in ("word", "string"):
            raise p.error(f"value expected, got {tok.text or tok.kind!r}", tok)
        items = [tok]
        while p.peek().kind == ",":
            if kind not in ("ctstate", "ctstatus"):
                raise p.error("comma list outside a set", p.peek())
            self.take()
            items.append(self.take())
        return items

    def add_atom(
        self, field: Field, kind: str, items: list[Tok], negate: bool, afam: Family | None
    ) -> None:
        test, missing = self.test_for(field, kind, items, afam)
        if kind == "ctstatus":
            field = Field.CT_DNAT if test == "dnat" else Field.CT_SNAT
            test = Values(frozenset({True}))
        self.atoms.append(Atom(field, test, negate, missing, afam))

    def test_for(self, field: Field, kind: str, items: list[Tok], afam: Family | None):
        p = self.p
        if kind == "iface":
            pats = []
            for t in items:
                name = t.text
                if name.endswith("\\*"):
                    raise p.error("escaped '*' in interface names is not supported", t)
                if "*" in name[:-1]:
                    raise p.error(f"only a trailing '*' wildcard is supported: {name!r}", t)
                if len(name.encode()) > 15:  # IFNAMSIZ - 1: nft refuses a longer name
                    raise p.error(f"interface name {name!r} is longer than 15 bytes", t)
                pats.append(name)
            return Names(tuple(pats)), False
        if kind == "addr":
            spans = tuple(parse_address_span(t.text, p.loc(t), afam) for t in items)
            return Intervals(spans), False
        if kind == "port":
            return Intervals(tuple(parse_port_span(t.text, p.loc(t)) for t in items)), False
        if kind == "proto":
            protos: list[tuple[int, int]] = []
            for t in items:
                if "-" in t.text and t.text.split("-")[0].isdigit():
                    lo, hi = t.text.split("-", 1)
                    protos.append((int(lo), int(hi)))
                else:
                    proto = parse_protocol(t.text, p.loc(t))
                    protos.append((proto, proto))
            return Intervals(tuple(protos)), False
        if kind in ("nfproto", "ethertype"):
            names = {"ipv4": Family.IPV4, "ipv6": Family.IPV6}
            if kind == "ethertype":
                names = {"ip": Family.IPV4, "ip6": Family.IPV6}
            fams = set()
            for t in items:
                if t.text not in names:
                    raise p.error(f"unsupported {kind} value {t.text!r}", t)
                fams.add(names[t.text])
            return Values(frozenset(fams)), False
        if kind == "ctstate":
            states = set()
            for t in items:
                if t.text not in CT_STATES:
                    raise p.error(f"unknown ct state {t.text!r}", t)
                states.add(t.text)
            return Values(frozenset(states)), False
        if kind == "ctstatus":
            if len(items) != 1 or items[0].text not in ("dnat", "snat"):
                raise p.error("only 'ct status dnat' or 'ct status snat' is supported", items[0])
            return items[0].text, False
        if kind == "fib":
            if len(items) != 1 or items[0].text != "local":
                raise p.error("only 'fib daddr type local' is supported", items[0])
            return Values(frozenset({True})), False
        raise p.error(f"internal: unknown match kind {kind}")

    def vmap(self, field: Field, kind: str, afam: Family | None) -> None:
        p = self.p
        if kind in ("ctstatus", "fib"):
            raise p.error("vmap on this key is not supported")
        if p.peek().kind != "{":
            raise p.error("named maps are not supported; use an anonymous vmap")
        self.take()
        entries: list[tuple[Atom, Action]] = []
        while True:
            p.skip_newlines()
            key = self.take()
            if key.kind == "}":
                break
            if key.kind not in ("word", "string"):
                raise p.error(f"unexpected {key.text!r} in vmap", key)
            sep = self.take()
            if sep.kind != ":":
                raise p.error(f"expected ':' after vmap key, got {sep.text!r}", sep)
            verdict = self.take()
            if verdict.text in ("accept", "drop", "return", "continue"):
                action = Action(Kind(verdict.text))
            elif verdict.text in ("jump", "goto"):
                action = Action(Kind(verdict.text), target=p.word().text)
            else:
                raise p.error(f"unsupported vmap verdict {verdict.text!r}", verdict)
            test, missing = self.test_for(field, kind, [key], afam)
            entries.append((Atom(field, test, False, missing, afam), action))
            p.skip_newlines()
            nxt = self.take()
            if nxt.kind == "}":
                break
            if nxt.kind != ",":
                raise p.error(f"expected ',' or '}}' in vmap, got {nxt.text!r}", nxt)
        if self.action is not None:
            raise p.error("a second verdict in one rule")
        self.action = Action(Kind.VMAP, vmap=tuple(entries))


def parse_nft(text: str, filename: str = "<nft>") -> Ruleset:
    """Parse an `nft -f` script or `nft list ruleset` listing."""
    return NftParser(text, filename).parse()


_NAT_PREFIX = re.compile(
    r"^(?P<open>\[?)(?P<net>[0-9A-Fa-f.:]+/\d+)(?P<close>\]?)(?P<ports>(:.*)?)$"
)


def _prefix_as_range(target: str) -> str:
    """A NAT target nft lists as a prefix, as the address range it stands for.

    nft (1.0.6) prints an address range that is exactly a prefix as that prefix: libvirt's
    `<nat><address start='X' end='X'/>` is listed as `snat to X/32:1024-65535`, one address.
    """
    import ipaddress

    found = _NAT_PREFIX.match(target)
    if found is None or (found["open"] == "[") != (found["close"] == "]"):
        return target
    try:
        net = ipaddress.ip_network(found["net"])
    except ValueError:
        return target  # not a prefix after all: the usual parser says what is wrong
    span = f"{net.network_address}-{net.broadcast_address}"
    if net.version == 6 and (found["open"] or found["ports"]):
        return f"[{span}]{found['ports']}"
    return f"{span}{found['ports']}"
