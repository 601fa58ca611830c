"""Regenerate `compiler/parser_tables.json`, the LALR(1) tables of netc's parser, from the grammar.

    python -m netc.compiler.regenerate_parser          # rewrite it
    python -m netc.compiler.regenerate_parser --check  # exit 1 if it is stale

Lark analyses `grammar/netc.lark` here, at build time; netc's own small runtime (`lalr.py`) runs
the tables it exports. Why not Lark at run time: importing lark is the largest start-up cost after
the interpreter itself, Lark's token and tree machinery costs several times what netc's grammar
needs per token (bench/NOTES.md), and Lark's `cache=True` is a pickle at a predictable path in the
shared temporary directory that any local user could plant for a root `netc apply` to load
(lark-parser/lark#1628). The tables are JSON (read faster than Python literals compile when
there is no .pyc), one parser state per line, with states numbered canonically (breadth first from the start state, symbols in sorted order), so the
output is byte-for-byte reproducible and a grammar change shows as a readable diff.

What the runtime must reproduce of Lark is exported as data, not re-implemented from the grammar:
the basic lexer's terminal order and its keyword re-typing (a WORD equal to a keyword becomes that
keyword), which tokens are ignored, and for every rule which children the tree keeps, which it
splices in (`_rule`, `x*`) and whether a one-child `?rule` is inlined. Grammar shapes the runtime
does not reproduce (a `?rule` inlining a child from between filtered tokens, whose positions Lark
tracks as a "container") are refused here. `tests/test_generated_parser.py` checks that the
committed tables are what this writes and that they parse like Lark itself, positions included.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import deque

_HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(_HERE, "parser_tables.json")

# LALR with the basic lexer (keywords re-typed from WORD), positions on every tree node, no None
# placeholders for missing optionals: what `lalr.py` implements.
OPTIONS = dict(parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=False)


def grammar_path() -> str:
    import netc.grammar

    return os.path.join(os.path.dirname(netc.grammar.__file__), "netc.lark")


def grammar_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _lark_parser(grammar: str):
    import lark

    return lark.Lark(grammar, **OPTIONS)


def _lexer_data(parser) -> dict:
    lexer = parser.parser.lexer
    scanner = lexer.scanner  # builds the terminal order and the re-typing callbacks
    if parser.lexer_conf.g_regex_flags:
        raise RuntimeError("global regex flags are not supported by lalr.py")
    retype: dict[str, dict[str, str]] = {}
    for name, callback in lexer.callback.items():
        if type(callback).__name__ != "UnlessCallback":
            raise RuntimeError(f"lexer callback on {name} is not keyword re-typing")
        words = {}
        for term in callback.scanner.terminals:
            if term.pattern.type != "str" or term.pattern.flags:
                raise RuntimeError(f"re-typing to {term.name} is not by exact text")
            words[term.pattern.value] = term.name
        retype[name] = dict(sorted(words.items()))
    for term in scanner.terminals:
        if term.pattern.flags:
            raise RuntimeError(f"terminal {term.name} has regex flags")
    return {
        "terminals": [(t.name, t.pattern.to_regexp()) for t in scanner.terminals],
        "ignore": sorted(lexer.ignore_types),
        "newline": sorted(lexer.newline_types),
        "retype": retype,
        "literals": dict(
            sorted((t.name, t.pattern.value) for t in parser.terminals if t.pattern.type == "str")
        ),
    }


def _rule_builders(parser) -> tuple[list, dict]:
    """Per rule: the symbol it reduces to, its tree's name, expansion length, kept children `(index, splice)` or None for all,
    and whether a single kept child replaces the node (`?rule`). Mirrors lark's
    `ParseTreeBuilder` for LALR without placeholders."""
    rules = sorted(parser.rules, key=lambda r: (r.origin.name, [s.name for s in r.expansion]))
    index = {id(rule): i for i, rule in enumerate(rules)}
    out = []
    for rule in rules:
        options = rule.options
        keep_all = options.keep_all_tokens
        kept = [
            (i, not sym.is_term and sym.name.startswith("_"))
            for i, sym in enumerate(rule.expansion)
            if keep_all or not (sym.is_term and sym.filter_out)
        ]
        if options.expand1 and len(kept) == 1 and len(rule.expansion) > 1:
            raise RuntimeError(f"{rule}: a ?rule inlining one child among filtered tokens")
        if options.template_source is not None:
            raise RuntimeError(f"{rule}: templates are not supported")
        plain = len(kept) == len(rule.expansion) and not any(s for _, s in kept)
        name = str(rule.alias or rule.origin.name)
        out.append(
            (
                str(rule.origin.name),
                name,
                len(rule.expansion),
                None if plain else tuple(kept),
                options.expand1,
            )
        )
    return out, index


def _tables(parser, rule_index: dict) -> dict:
    """Actions per state, renumbered breadth first from the start state in sorted symbol order."""
    table = parser.parser.parser.parser.parse_table
    start, end = table.start_states["start"], table.end_states["start"]
    order, seen, queue = [], {start}, deque([start])
    while queue:
        state = queue.popleft()
        order.append(state)
        for symbol in sorted(table.states[state]):
            action, arg = table.states[state][symbol]
            if action.name == "Shift" and arg not in seen:
                seen.add(arg)
                queue.append(arg)
    number = {state: i for i, state in enumerate(order)}
    actions, gotos = [], []
    for state in order:
        acts, goto = {}, {}
        for symbol, (action, arg) in sorted(table.states[state].items()):
            symbol = str(symbol)
            terminal = symbol == "$END" or symbol.isupper()
            if action.name == "Shift":
                (acts if terminal else goto)[symbol] = number[arg]
            else:
                acts[symbol] = -1 - rule_index[id(arg)]
        actions.append(acts)
        gotos.append(goto)
    return {"actions": actions, "gotos": gotos, "start": number[start], "end": number[end]}


def generate() -> str:
    """The tables' full text (JSON, one parser state per line), from the current grammar and the
    installed lark."""
    import lark

    with open(grammar_path(), encoding="utf-8") as handle:
        grammar = handle.read()
    parser = _lark_parser(grammar)
    lexer = _lexer_data(parser)
    rules, rule_index = _rule_builders(parser)
    tables = _tables(parser, rule_index)
    fields = {
        "generated_by": "python -m netc.compiler.regenerate_parser (do not edit)",
        "grammar_sha256": grammar_digest(grammar),
        "lark": lark.__version__,
        "actions_encoding": "shift to state s: s; reduce by rule r: -1 - r",
        "terminals": lexer["terminals"],
        "ignore": lexer["ignore"],
        "newline": lexer["newline"],
        "retype": lexer["retype"],
        "literals": lexer["literals"],
        "start": tables["start"],
        "end": tables["end"],
    }
    lines = [f"{json.dumps(key)}: {json.dumps(value)}," for key, value in fields.items()]
    for key, rows in (("rules", rules), ("actions", tables["actions"]), ("goto", tables["gotos"])):
        body = ",\n".join(json.dumps(row, separators=(",", ":")) for row in rows)
        lines.append(f"{json.dumps(key)}: [\n{body}\n],")
    lines[-1] = lines[-1].rstrip(",")
    return "{\n" + "\n".join(lines) + "\n}\n"


def recorded_digest(path: str = TARGET) -> str | None:
    """The grammar digest the tables were built from."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle).get("grammar_sha256")
    except (FileNotFoundError, ValueError):
        return None


def main(argv: list[str]) -> int:
    if "--check" in argv:
        with open(grammar_path(), encoding="utf-8") as handle:
            current = grammar_digest(handle.read())
        if recorded_digest() != current:
            sys.stderr.write(f"{TARGET} is stale: run python -m netc.compiler.regenerate_parser\n")
            return 1
        return 0
    text = generate()
    tmp = TARGET + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, TARGET)
    sys.stderr.write(f"wrote {TARGET} ({len(text):,} bytes)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
