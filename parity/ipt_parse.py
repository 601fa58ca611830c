"""Parse `iptables-restore` / `iptables-save` text (and the ip6tables forms) into the normal form.

The text is replayed as commands (`-A`, `-I`, `-D`, `-R`, `-N`, `-F`, `-X`, `-P`, chain lines) onto
an empty x_tables state of one family, which is what `iptables-restore --noflush` does on a host
without other rules. Long and short option spellings are both accepted.

Fail closed: an unknown option, match module or target is a located ParityError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
)
from .values import (
    DEFAULT_REJECT,
    IP6T_REJECT,
    IPT_REJECT,
    parse_address_span,
    parse_nat_target,
    parse_port_span,
    parse_protocol,
)

# Built-in chains per table, with the hook, chain type and the table's standard priority.
_H = Hook
BUILTIN: dict[str, dict[str, tuple[Hook, ChainType, int]]] = {
    "raw": {"PREROUTING": (_H.PREROUTING, ChainType.FILTER, -300)}
    | {"OUTPUT": (_H.OUTPUT, ChainType.FILTER, -300)},
    "mangle": {
        "PREROUTING": (_H.PREROUTING, ChainType.FILTER, -150),
        "INPUT": (_H.INPUT, ChainType.FILTER, -150),
        "FORWARD": (_H.FORWARD, ChainType.FILTER, -150),
        "OUTPUT": (_H.OUTPUT, ChainType.ROUTE, -150),
        "POSTROUTING": (_H.POSTROUTING, ChainType.FILTER, -150),
    },
    "nat": {
        "PREROUTING": (_H.PREROUTING, ChainType.NAT, -100),
        "INPUT": (_H.INPUT, ChainType.NAT, 100),
        "OUTPUT": (_H.OUTPUT, ChainType.NAT, -100),
        "POSTROUTING": (_H.POSTROUTING, ChainType.NAT, 100),
    },
    "filter": {
        "INPUT": (_H.INPUT, ChainType.FILTER, 0),
        "FORWARD": (_H.FORWARD, ChainType.FILTER, 0),
        "OUTPUT": (_H.OUTPUT, ChainType.FILTER, 0),
    },
    "security": {
        "INPUT": (_H.INPUT, ChainType.FILTER, 50),
        "FORWARD": (_H.FORWARD, ChainType.FILTER, 50),
        "OUTPUT": (_H.OUTPUT, ChainType.FILTER, 50),
    },
}

COMMANDS = {
    "-A": "append",
    "--append": "append",
    "-I": "insert",
    "--insert": "insert",
    "-D": "delete",
    "--delete": "delete",
    "-R": "replace",
    "--replace": "replace",
    "-N": "new",
    "--new-chain": "new",
    "--new": "new",
    "-X": "delete-chain",
    "--delete-chain": "delete-chain",
    "-F": "flush",
    "--flush": "flush",
    "-P": "policy",
    "--policy": "policy",
    "-Z": "zero",
    "--zero": "zero",
}
OPT_ALIASES = {
    "-s": "--source",
    "--src": "--source",
    "-d": "--destination",
    "--dst": "--destination",
    "-i": "--in-interface",
    "-o": "--out-interface",
    "-p": "--protocol",
    "-m": "--match",
    "-j": "--jump",
    "-g": "--goto",
    "-c": "--set-counters",
    "-f": "--fragment",
    "-w": "--wait",
    "-t": "--table",
    "--sport": "--source-port",
    "--dport": "--destination-port",
    "--dports": "--destination-ports",
    "--sports": "--source-ports",
}
CT_STATES = {
    "NEW": "new",
    "ESTABLISHED": "established",
    "RELATED": "related",
    "INVALID": "invalid",
    "UNTRACKED": "untracked",
}
SIMPLE_TARGETS = {"ACCEPT": Kind.ACCEPT, "DROP": Kind.DROP, "RETURN": Kind.RETURN}
UNSUPPORTED_TARGETS = {"LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "CT", "NOTRACK", "TCPMSS"}
UNSUPPORTED_TARGETS |= {"NFQUEUE", "QUEUE", "TRACE", "TEE", "SET", "AUDIT", "TOS", "DSCP", "TTL"}


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    col: int


_WORD_RE = re.compile(r"[^ \t\r]+")


def split_line(line: str, loc_line: int, filename: str) -> list[Word]:
    """Shell-like split with quotes, remembering each word's column."""
    if '"' not in line and "'" not in line:  # the common case, without a loop per character
        return [Word(m.group(), m.start() + 1) for m in _WORD_RE.finditer(line)]
    words: list[Word] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in " \t\r":
            i += 1
            continue
        start, buf = i, []
        while i < n and line[i] not in " \t\r":
            ch = line[i]
            if ch in "\"'":
                end = line.find(ch, i + 1)
                if end < 0:
                    raise ParityError("unterminated quote", Loc(filename, loc_line, i + 1))
                buf.append(line[i + 1 : end])
                i = end + 1
            else:
                buf.append(ch)
                i += 1
        words.append(Word("".join(buf), start + 1))
    return words


@dataclass
class _Chain:
    name: str
    rules: list[Rule] = field(default_factory=list)
    policy: Kind = Kind.ACCEPT
    loc: Loc | None = None


class IptablesParser:
    def __init__(self, text: str, family: Family, filename: str) -> None:
        self.text = text
        self.family = family
        self.filename = filename
        self.tables: dict[str, dict[str, _Chain]] = {}
        self.table_locs: dict[str, Loc] = {}
        self.declared: list[Declared] = []
        self.reject = IPT_REJECT if family is Family.IPV4 else IP6T_REJECT

    def parse(self) -> Ruleset:
        current: str | None = None
        start_loc: Loc | None = None
        for lineno, raw in enumerate(self.text.splitlines(), start=1):
            line = raw.strip()
            loc = Loc(self.filename, lineno, 1)
            if not line or line.startswith("#"):
                continue
            indent = len(raw) - len(raw.lstrip())
            if line.startswith("*"):
                if current is not None:
                    raise ParityError(f"'*{line[1:]}' before COMMIT of table {current}", loc)
                name = line[1:].strip()
                if name not in BUILTIN:
                    raise ParityError(f"unknown table {name!r}", loc)
                current, start_loc = name, loc
                self.table(name, loc)
                continue
            if current is None:
                raise ParityError("rule outside a '*table' ... COMMIT block", loc)
            if line == "COMMIT":
                self.check_targets(current)
                current = None
                continue
            if line.startswith(":"):
                self.chain_line(current, line, loc)
                continue
            words = split_line(raw, lineno, self.filename)
            if words and re.fullmatch(r"\[\d+:\d+\]", words[0].text):
                words = words[1:]  # iptables-save -c counters
            if not words:
                continue
            self.command(current, words, lineno, indent)
        if current is not None:
            raise ParityError(f"table {current} is missing COMMIT", start_loc)
        tables = []
        for name, chains in self.tables.items():
            built = {}
            for cname, c in chains.items():
                base = None
                if cname in BUILTIN[name]:
                    hook, ctype, prio = BUILTIN[name][cname]
                    base = BaseHook(ctype, hook, prio, c.policy)
                built[cname] = Chain(cname, tuple(c.rules), base, c.loc)
            prefix = "iptables" if self.family is Family.IPV4 else "ip6tables"
            tables.append(
                Table(
                    f"{prefix} {name}",
                    frozenset({self.family}),
                    built,
                    "iptables",
                    self.table_locs[name],
                )
            )
        return Ruleset(tuple(tables), (self.filename,), tuple(self.declared))

    def table(self, name: str, loc: Loc) -> dict[str, _Chain]:
        if name not in self.tables:
            self.tables[name] = {c: _Chain(c, loc=loc) for c in BUILTIN[name]}
            self.table_locs[name] = loc
        return self.tables[name]

    def chain_line(self, table: str, line: str, loc: Loc) -> None:
        m = re.fullmatch(r":(\S+)\s+(\S+)(\s+\[\d+:\d+\])?", line)
        if m is None:
            raise ParityError(f"bad chain line {line!r}", loc)
        name, policy = m.group(1), m.group(2)
        chains = self.tables[table]
        if name in BUILTIN[table]:
            if policy not in ("ACCEPT", "DROP"):
                raise ParityError(f"bad policy {policy!r} for built-in chain {name}", loc)
            chains[name].policy = Kind.ACCEPT if policy == "ACCEPT" else Kind.DROP
            return
        if policy != "-":
            raise ParityError(f"user chain {name} cannot have policy {policy}", loc)
        # --noflush semantics: declaring an existing user chain flushes it.
        chains[name] = _Chain(name, loc=loc)

    def check_targets(self, table: str) -> None:
        chains = self.tables[table]
        for chain in chains.values():
            for rule in chain.rules:
                target = rule.action.target
                if target is not None and target not in chains:
                    raise ParityError(f"jump to undeclared chain {target!r}", rule.loc)

    # -- one command line ---------------------------------------------------------------------
    def command(self, table: str, words: list[Word], lineno: int, indent: int) -> None:
        def loc_of(w: Word) -> Loc:
            return Loc(self.filename, lineno, w.col)

        chains = self.tables[table]
        first = words[0]
        cmd = COMMANDS.get(first.text)
        if cmd is None:
            raise ParityError(
                f"expected a command (-A, -I, ...), got {first.text!r}", loc_of(first)
            )
        rest = words[1:]
        if not rest and cmd not in ("flush", "delete-chain", "zero"):
            raise ParityError(f"{first.text} needs a chain name", loc_of(first))
        chain_name = rest[0].text if rest else ""  # only flush, delete-chain, zero allow none
        if chain_name and chain_name not in chains and cmd != "new":
            raise ParityError(f"no chain {chain_name!r} in table {table}", loc_of(rest[0]))
        rest = rest[1:]
        if cmd == "new":
            if chain_name in chains:
                raise ParityError(f"chain {chain_name!r} already exists", loc_of(words[1]))
            chains[chain_name] = _Chain(chain_name, loc=loc_of(words[1]))
            return
        if cmd == "flush":
            for c in [chains[chain_name]] if chain_name else chains.values():
                c.rules.clear()
            return
        if cmd == "zero":
            return
        if cmd == "delete-chain":
            if not chain_name:
                for name in [n for n in chains if n not in BUILTIN[table]]:
                    del chains[name]
                return
            if chain_name in BUILTIN[table]:
                raise ParityError(f"cannot delete built-in chain {chain_name}", loc_of(words[1]))
            del chains[chain_name]
            return
        if cmd == "policy":
            if chain_name not in BUILTIN[table] or len(rest) != 1:
                raise ParityError("-P needs a built-in chain and ACCEPT or DROP", loc_of(first))
            if rest[0].text not in ("ACCEPT", "DROP"):
                raise ParityError(f"bad policy {rest[0].text!r}", loc_of(rest[0]))
            chains[chain_name].policy = Kind.ACCEPT if rest[0].text == "ACCEPT" else Kind.DROP
            return
        chain = chains[chain_name]
        index = None
        if cmd in ("insert", "replace", "delete") and rest and rest[0].text.isdigit():
            index = int(rest[0].text)
            rest = rest[1:]
        if cmd == "delete" and index is not None:
            if rest:
                raise ParityError("-D with a number takes no rule", loc_of(rest[0]))
            if not 1 <= index <= len(chain.rules):
                raise ParityError(f"no rule {index} in {chain_name}", loc_of(first))
            del chain.rules[index - 1]
            return
        rule = _RuleParser(self, table, loc_of, Loc(self.filename, lineno, first.col)).parse(
            rest, " ".join(w.text for w in words)
        )
        _check_direction(chain_name, rule, loc_of(first))
        if cmd == "append":
            chain.rules.append(rule)
        elif cmd == "insert":
            pos = (index or 1) - 1
            if pos > len(chain.rules):
                raise ParityError(f"index of insertion too big ({index})", loc_of(first))
            chain.rules.insert(pos, rule)
        elif cmd == "replace":
            if index is None or not 1 <= index <= len(chain.rules):
                raise ParityError("-R needs an existing rule number", loc_of(first))
            chain.rules[index - 1] = rule
        elif cmd == "delete":
            for i, old in enumerate(chain.rules):
                if old.atoms == rule.atoms and old.action == rule.action:
                    del chain.rules[i]
                    break
            else:
                raise ParityError("-D: no such rule", loc_of(first))


# iptables refuses an input interface where packets have none yet or only an output one, and
# the reverse ("Can't use -i with OUTPUT"): a ruleset that does so never loads.
_NO_IN_INTERFACE = {"OUTPUT", "POSTROUTING"}
_NO_OUT_INTERFACE = {"INPUT", "PREROUTING"}
IFNAMSIZ = 16  # an interface name is at most 15 bytes; the loaders refuse longer ones


def _check_direction(chain: str, rule: Rule, loc: Loc) -> None:
    for atom in rule.atoms:
        if atom.field is Field.IIF and chain in _NO_IN_INTERFACE:
            raise ParityError(f"-i (input interface) cannot be used in {chain}", loc)
        if atom.field is Field.OIF and chain in _NO_OUT_INTERFACE:
            raise ParityError(f"-o (output interface) cannot be used in {chain}", loc)


class _RuleParser:
    def __init__(self, p: IptablesParser, table: str, loc_of, loc: Loc) -> None:
        self.p = p
        self.table = table
        self.loc_of = loc_of
        self.loc = loc
        self.atoms: list[Atom] = []
        self.action: Action | None = None
        self.proto: int | None = None
        self.modules: list[str] = []
        self.target: str | None = None
        self.target_opts: dict[str, Word | None] = {}

    def parse(self, words: list[Word], text: str) -> Rule:
        i = 0
        negate_next = False
        while i < len(words):
            w = words[i]
            opt = OPT_ALIASES.get(w.text, w.text)
            if opt == "!":
                negate_next = True
                i += 1
                continue
            if not opt.startswith("-"):
                raise ParityError(f"unexpected {w.text!r}", self.loc_of(w))
            takes = self.arity(opt, w)
            args = words[i + 1 : i + 1 + takes]
            if len(args) < takes:
                raise ParityError(f"{w.text} needs an argument", self.loc_of(w))
            if args and args[0].text == "!" and opt in _NEGATABLE:
                # old-style `-s ! 10.0.0.0/8`
                negate_next = True
                args = words[i + 2 : i + 2 + takes]
                i += 1
            self.option(opt, w, args, negate_next)
            negate_next = False
            i += 1 + takes
        if negate_next:
            raise ParityError("'!' at the end of the rule", self.loc)
        self.finish_target()
        if self.action is None:
            self.action = Action(Kind.CONTINUE)
        return Rule(tuple(self.atoms), self.action, self.loc, text)

    def arity(self, opt: str, w: Word) -> int:
        if opt in ("--random", "--random-fully", "--persistent", "--checksum-fill", "--wait"):
            return 0
        if opt == "--set-counters":
            return 2
        if opt == "--fragment":
            raise ParityError("fragment matches are not supported", self.loc_of(w))
        return 1

    def option(self, opt: str, w: Word, args: list[Word], negate: bool) -> None:
        loc = self.loc_of(w)
        arg = args[0] if args else Word("", w.col)  # options without an argument never read it
        if self.target is not None and opt not in _TARGET_OPTS:
            raise ParityError(f"option {w.text} after the target", loc)
        if negate and opt not in _NEGATABLE:
            raise ParityError(f"{w.text} cannot be negated", loc)
        if opt in ("--wait", "--set-counters"):
            return
        if opt == "--table":
            raise ParityError("-t inside restore text; use a '*table' line", loc)
        fam = self.p.family
        if opt in ("--source", "--destination"):
            if "," in arg.text:
                raise ParityError("address lists expand to several rules; not supported", loc)
            span = parse_address_span(arg.text, self.loc_of(arg), fam)
            fld = Field.SADDR if opt == "--source" else Field.DADDR
            self.atoms.append(Atom(fld, Intervals((span,)), negate, False, fam))
        elif opt in ("--in-interface", "--out-interface"):
            name = arg.text
            if len(name.encode()) >= IFNAMSIZ:
                raise ParityError(
                    f"interface name {name!r} is longer than {IFNAMSIZ - 1} bytes; "
                    "iptables refuses it",
                    self.loc_of(arg),
                )
            pattern = name[:-1] + "*" if name.endswith("+") else name
            names = Names((pattern,))
            fld = Field.IIF if opt == "--in-interface" else Field.OIF
            # x_tables compares an absent device as the empty name.
            self.atoms.append(Atom(fld, names, negate, names.contains("") != negate))
        elif opt == "--protocol":
            if arg.text.lower() in ("all", "0"):
                if negate:
                    raise ParityError("'! -p all' matches nothing", loc)
                return
            proto = parse_protocol(arg.text, self.loc_of(arg))
            if not negate:
                self.proto = proto
            self.atoms.append(Atom(Field.L4PROTO, Intervals(((proto, proto),)), negate))
        elif opt == "--match":
            mod = arg.text
            if mod not in _MODULES:
                raise ParityError(f"unsupported match module {mod!r}", self.loc_of(arg))
            if mod in ("tcp", "udp") and self.proto != parse_protocol(mod, loc):
                raise ParityError(f"-m {mod} needs -p {mod}", self.loc_of(arg))
            self.modules.append(mod)
        elif opt in ("--source-port", "--destination-port"):
            if not ({"tcp", "udp"} & set(self.modules) or self.proto in (6, 17, 132, 33, 136)):
                raise ParityError(f"{w.text} needs -p tcp or -p udp", loc)
            span = _open_port_span(arg, self.loc_of(arg))
            fld = Field.SPORT if opt == "--source-port" else Field.DPORT
            self.atoms.append(Atom(fld, Intervals((span,)), negate))
        elif opt in ("--destination-ports", "--source-ports"):
            if "multiport" not in self.modules:
                raise ParityError(f"{w.text} needs -m multiport", loc)
            if self.proto not in (6, 17, 132, 33, 136):
                raise ParityError("multiport needs -p tcp or -p udp", loc)
            spans = tuple(
                _open_port_span(Word(part, arg.col), self.loc_of(arg))
                for part in arg.text.split(",")
            )
            fld = Field.SPORT if opt == "--source-ports" else Field.DPORT
            self.atoms.append(Atom(fld, Intervals(spans), negate))
        elif opt in ("--ctstate", "--state"):
            mod = "conntrack" if opt == "--ctstate" else "state"
            if mod not in self.modules:
                raise ParityError(f"{w.text} needs -m {mod}", loc)
            self.ct_state(arg, negate, allow_virtual=(mod == "conntrack"))
        elif opt == "--ctstatus":
            raise ParityError("--ctstatus is not supported (use --ctstate DNAT)", loc)
        elif opt == "--dst-type":
            if "addrtype" not in self.modules:
                raise ParityError("--dst-type needs -m addrtype", loc)
            if arg.text != "LOCAL":
                raise ParityError("only --dst-type LOCAL is supported", self.loc_of(arg))
            self.atoms.append(Atom(Field.DADDR_LOCAL, Values(frozenset({True})), negate))
        elif opt == "--comment":
            if "comment" not in self.modules:
                raise ParityError("--comment needs -m comment", loc)
            self.p.declared.append(Declared("comment", loc))
        elif opt in ("--jump", "--goto"):
            if self.target is not None:
                raise ParityError("a second target", loc)
            if arg.text in UNSUPPORTED_TARGETS:
                raise ParityError(f"unsupported target {arg.text}", self.loc_of(arg))
            self.target = arg.text
            self.target_word = arg
            self.is_goto = opt == "--goto"
        elif opt in _TARGET_OPTS:
            if self.target is None:
                raise ParityError(f"{w.text} before -j", loc)
            self.target_opts[opt] = arg if arg is not None else w
        else:
            raise ParityError(f"unsupported option {w.text!r}", loc)

    def ct_state(self, arg: Word, negate: bool, allow_virtual: bool) -> None:
        states, virtual = set(), set()
        for part in arg.text.split(","):
            if part in CT_STATES:
                states.add(CT_STATES[part])
            elif allow_virtual and part in ("DNAT", "SNAT"):
                virtual.add(part)
            else:
                raise ParityError(f"unsupported conntrack state {part!r}", self.loc_of(arg))
        if states and virtual:
            raise ParityError(
                "mixing DNAT/SNAT with real ct states is not supported", self.loc_of(arg)
            )
        if virtual:
            if len(virtual) != 1:
                raise ParityError("--ctstate DNAT,SNAT is not supported", self.loc_of(arg))
            fld = Field.CT_DNAT if "DNAT" in virtual else Field.CT_SNAT
            self.atoms.append(Atom(fld, Values(frozenset({True})), negate))
        else:
            self.atoms.append(Atom(Field.CT, Values(frozenset(states)), negate))

    def finish_target(self) -> None:
        if self.target is None:
            if self.target_opts:
                raise ParityError("target options without -j", self.loc)
            return
        name = self.target
        tw = self.target_word
        loc = self.loc_of(tw)
        opts = dict(self.target_opts)

        def take(opt: str) -> Word | None:
            return opts.pop(opt, None)

        if self.is_goto:
            if name in SIMPLE_TARGETS or name.isupper() and name in _KNOWN_TARGETS:
                raise ParityError(f"-g needs a user chain, got {name}", loc)
            self.action = Action(Kind.GOTO, target=name)
        elif name in SIMPLE_TARGETS:
            self.action = Action(SIMPLE_TARGETS[name])
        elif name == "REJECT":
            rw = take("--reject-with")
            kind = DEFAULT_REJECT
            if rw is not None:
                if rw.text not in self.p.reject:
                    raise ParityError(f"unsupported --reject-with {rw.text!r}", self.loc_of(rw))
                kind = self.p.reject[rw.text]
                if kind == "tcp reset" and self.proto != 6:
                    raise ParityError("tcp-reset needs -p tcp", self.loc_of(rw))
            self.action = Action(Kind.REJECT, reject=kind)
        elif name in ("MASQUERADE", "SNAT", "DNAT", "REDIRECT"):
            self.action = Action(Kind.NAT, nat=self.nat(name, loc, take))
        elif name == "CHECKSUM":
            if take("--checksum-fill") is None:
                raise ParityError("CHECKSUM needs --checksum-fill", loc)
            self.p.declared.append(Declared("CHECKSUM --checksum-fill", self.loc))
            self.action = Action(Kind.CONTINUE)
        elif name in UNSUPPORTED_TARGETS:
            raise ParityError(f"unsupported target {name}", loc)
        else:
            self.action = Action(Kind.JUMP, target=name)
        if opts:
            opt, w = next(iter(opts.items()))
            raise ParityError(f"option {opt} does not apply to -j {name}", self.loc_of(w))

    def nat(self, name: str, loc: Loc, take) -> Nat:
        if self.table != "nat":
            raise ParityError(f"{name} is only valid in the nat table", loc)
        flags = []
        for opt, flag in (
            ("--random", "random"),
            ("--random-fully", "fully-random"),
            ("--persistent", "persistent"),
        ):
            if take(opt) is not None:
                flags.append(flag)
        fam = self.p.family
        if name in ("MASQUERADE", "REDIRECT"):
            tp = take("--to-ports")
            ports = None
            if tp is not None:
                ports = parse_port_span(tp.text, self.loc_of(tp))
                if self.proto not in (6, 17, 132, 33, 136):
                    raise ParityError("--to-ports needs -p tcp or -p udp", self.loc_of(tp))
            return Nat(name.lower(), None, None, ports, tuple(sorted(flags)))
        opt = "--to-source" if name == "SNAT" else "--to-destination"
        to = take(opt)
        if to is None:
            raise ParityError(f"{name} needs {opt}", loc)
        _, addrs, ports = parse_nat_target(to.text, self.loc_of(to), fam)
        return Nat(name.lower(), fam, addrs, ports, tuple(sorted(flags)))


def _open_port_span(w: Word, loc: Loc) -> tuple[int, int]:
    """iptables port spans: `a`, `a:b`, `a:` (to 65535) and `:b` (from 0)."""
    text = w.text
    if ":" in text:
        lo, hi = text.split(":", 1)
        return parse_port_span(f"{lo or 0}-{hi or 65535}", loc)
    return parse_port_span(text, loc)


_NEGATABLE = {
    "--source",
    "--destination",
    "--in-interface",
    "--out-interface",
    "--protocol",
    "--source-port",
    "--destination-port",
    "--destination-ports",
    "--source-ports",
    "--ctstate",
    "--state",
    "--dst-type",
}
_TARGET_OPTS = {
    "--reject-with",
    "--to-ports",
    "--to-source",
    "--to-destination",
    "--random",
    "--random-fully",
    "--persistent",
    "--checksum-fill",
}
_MODULES = {"tcp", "udp", "multiport", "conntrack", "state", "addrtype", "comment"}
_KNOWN_TARGETS = {"REJECT", "MASQUERADE", "SNAT", "DNAT", "REDIRECT", "CHECKSUM"}


def parse_iptables(text: str, family: Family, filename: str = "<iptables>") -> Ruleset:
    """Parse iptables-restore/-save text of one family (IPv4 or IPv6)."""
    return IptablesParser(text, family, filename).parse()
