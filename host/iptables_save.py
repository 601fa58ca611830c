"""Reading `iptables-save` text, and writing restore text that removes chains found in it.

netc removes iptables rules from what the kernel holds, not from what it remembers loading: every
rule that jumps to one of the chains being removed is deleted (by its exact spec, in
`iptables-restore --noflush` text), then the chains are flushed and deleted. So removal also
cleans a partial or an old state (a crash half-way, an older netc, libvirt's LIBVIRT_* chains),
and nothing else is touched.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_COUNTERS = re.compile(r" \[\d+:\d+\]$")


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    policy: str  # "ACCEPT"/"DROP" for a built-in chain, "-" for a user chain

    @property
    def builtin(self) -> bool:
        return self.policy != "-"


@dataclass(frozen=True, slots=True)
class Rule:
    chain: str
    spec: str  # everything after `-A CHAIN `, in iptables-save's spelling

    @property
    def target(self) -> str | None:
        """The chain or verdict the rule jumps (`-j`) or goes (`-g`) to."""
        tokens = shlex.split(self.spec)
        for flag, value in zip(tokens, tokens[1:]):
            if flag in ("-j", "--jump", "-g", "--goto"):
                return value
        return None

    def mentions_interface(self, names: Iterable[str]) -> bool:
        return bool(set(names) & set(self.interfaces()))

    def interfaces(self) -> list[str]:
        """The interfaces an `-i`/`-o` match accepts (a negated `! -i X` is left out)."""
        return self._values(("-i", "-o", "--in-interface", "--out-interface"))

    def sources(self) -> list[str]:
        """The `-s` values (a negated `! -s NET` is left out)."""
        return self._values(("-s", "--source"))

    def destinations(self) -> list[str]:
        """The `-d` values (a negated `! -d NET` is left out)."""
        return self._values(("-d", "--destination"))

    def _values(self, flags: tuple[str, ...]) -> list[str]:
        tokens = shlex.split(self.spec)
        return [
            value
            for before, flag, value in zip(["", *tokens], tokens, tokens[1:])
            if flag in flags and before != "!"
        ]


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    chains: tuple[Chain, ...]
    rules: tuple[Rule, ...]

    def chain(self, name: str) -> Chain | None:
        return next((c for c in self.chains if c.name == name), None)

    def rules_in(self, chain: str) -> list[Rule]:
        return [r for r in self.rules if r.chain == chain]


def parse(text: str) -> dict[str, Table]:
    """Tables in the order iptables-save prints them (a table missing here does not exist)."""
    tables: dict[str, Table] = {}
    name: str | None = None
    chains: list[Chain] = []
    rules: list[Rule] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            name, chains, rules = line[1:], [], []
        elif line.startswith(":") and name:
            chain, policy = line[1:].split()[:2]
            chains.append(Chain(chain, policy))
        elif line.startswith("-A ") and name:
            _, chain, *rest = line.split(" ", 2)
            rules.append(Rule(chain, rest[0] if rest else ""))
        elif line == "COMMIT" and name:
            tables[name] = Table(name, tuple(chains), tuple(rules))
            name = None
    return tables


def normalize(text: str) -> str:
    """iptables-save text without comment lines and packet counters, for byte comparisons."""
    lines = [_COUNTERS.sub("", line) for line in text.splitlines() if not line.startswith("#")]
    return "\n".join(lines) + ("\n" if lines else "")


def removal(
    tables: dict[str, Table],
    owned: Callable[[str], bool],
    drop_rule: Callable[[Rule], bool] | None = None,
    keep_chains: bool = False,
) -> tuple[str, list[str]]:
    """Restore text (for `--noflush`) that removes owned chains and every jump into them.

    With `drop_rule`, only the rules it selects are deleted from owned chains, and an owned chain
    is removed (with the jumps into it) only when no rule is left in it, and never with
    `keep_chains`: that is how libvirt's shared LIBVIRT_* chains lose one network's rules and
    stay, jumps and all, for the others (libvirt_chains.py). Returns the text (empty when there
    is nothing to do) and one line per thing removed, for the report.
    """
    out: list[str] = []
    report: list[str] = []
    for table in tables.values():
        lines: list[str] = []
        mine = [c.name for c in table.chains if not c.builtin and owned(c.name)]
        doomed: list[str] = []
        for chain in mine:
            rules = table.rules_in(chain)
            if drop_rule is None:
                doomed.append(chain)
                continue
            gone = [r for r in rules if drop_rule(r)]
            for rule in gone:
                lines.append(f"-D {chain} {rule.spec}")
                report.append(f"{table.name} rule: -A {chain} {rule.spec}")
            if len(gone) == len(rules) and not keep_chains:
                doomed.append(chain)
        for rule in table.rules:
            if rule.chain not in doomed and rule.target in doomed:
                lines.append(f"-D {rule.chain} {rule.spec}")
                report.append(f"{table.name} jump: -A {rule.chain} {rule.spec}")
        for chain in doomed:
            lines.append(f"-F {chain}")
        for chain in doomed:
            lines.append(f"-X {chain}")
            report.append(f"{table.name} chain: {chain}")
        if lines:
            out += [f"*{table.name}", *lines, "COMMIT"]
    return ("\n".join(out) + "\n" if out else ""), report
