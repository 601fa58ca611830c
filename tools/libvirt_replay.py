"""libvirt's firewall test corpus → the rulesets libvirt would leave in the kernel.

libvirt's `tests/networkxml2firewalldata/` (vendored in tests/libvirt/corpus/) records, per
network XML, the exact commands libvirt runs: `base.<backend>` once (global tables, chains and
jumps), then the case's file. Each command is one argv token per line, lines joined with ` \\`
+ newline; a line may hold several shell-quoted tokens ('!' and '!=' are quoted).

This module replays those commands on a tiny model of tables and chains, honouring head
insertion (`nft insert rule`, `iptables --insert CHAIN` without a position put the rule first,
so the kernel order is the reverse of the file order) and prints the result as text the kernel
loads and `netc verify` reads: one `nft -f` script, or one iptables-restore text per family.

Interface matches: libvirt's nft rules use `iif`/`oif`, which nft resolves to an interface
*index* when the rule is inserted, so they load only while the bridge exists. libvirt inserts
them right after creating the bridge, so for as long as the rules live `iif virbr0` and
`iifname "virbr0"` match the same packets. `by_name=True` (the default) writes the by-name form,
which loads anywhere; `by_name=False` keeps libvirt's text (load it next to a bridge `virbr0`).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from netc.ir.model import Family


@dataclass(frozen=True, slots=True)
class Case:
    """One corpus case: its XML and the expectation file chosen for each backend, with why."""

    name: str
    xml: str
    nftables: str
    iptables: str
    why: str = ""


# File choice per case (paths relative to the corpus directory). Where the corpus's top-level
# file is of a generation whose chains base.* does not create, or exists only under a sibling
# name, the identical-content copy in inferred/ is used (see inferred/INFERRED.tsv).
CASES: tuple[Case, ...] = (
    Case(
        "nat-default",
        "inferred/nat-default.xml",
        "nat-default-linux.nftables",
        "inferred/nat-default-linux.iptables",
        "XML and iptables file stored only under sibling names (inferred/)",
    ),
    Case("nat-tftp", "nat-tftp.xml", "nat-tftp-linux.nftables", "nat-tftp-linux.iptables"),
    Case(
        "nat-many-ips",
        "nat-many-ips.xml",
        "nat-many-ips-linux.nftables",
        "nat-many-ips-linux.iptables",
    ),
    Case(
        "nat-no-dhcp",
        "nat-no-dhcp.xml",
        "inferred/nat-no-dhcp-linux.nftables",
        "nat-no-dhcp-linux.iptables",
        "the top-level nft file is an older generation that inserts into guest_to_host/"
        "host_to_guest chains base.nftables does not create; inferred/ has the same-era output",
    ),
    Case(
        "nat-ipv6",
        "nat-ipv6.xml",
        "nat-ipv6-linux.nftables",
        "inferred/nat-ipv6-linux.iptables",
        "iptables file stored only as .args (inferred/)",
    ),
    Case(
        "nat-ipv6-masquerade",
        "nat-ipv6-masquerade.xml",
        "nat-ipv6-masquerade-linux.nftables",
        "inferred/nat-ipv6-masquerade-linux.iptables",
        "iptables file stored only as .args (inferred/)",
    ),
    Case(
        "route-default",
        "route-default.xml",
        "route-default-linux.nftables",
        "inferred/route-default-linux.iptables",
        "iptables file stored only as .args (inferred/)",
    ),
    Case(
        "forward-dev", "forward-dev.xml", "forward-dev-linux.nftables", "forward-dev-linux.iptables"
    ),
    Case("isolated", "isolated.xml", "isolated-linux.nftables", "isolated-linux.iptables"),
    Case(
        "nat-port-range",
        "nat-port-range.xml",
        "nat-port-range-linux.nftables",
        "nat-port-range-linux.iptables",
    ),
    Case(
        "nat-port-range-ipv6",
        "nat-port-range-ipv6.xml",
        "nat-port-range-ipv6-linux.nftables",
        "nat-port-range-ipv6-linux.iptables",
    ),
)


class CorpusError(ValueError):
    """A command the replay does not understand; names the file and command number."""


def commands(text: str) -> list[list[str]]:
    """Split a corpus file into argv lists (continuation lines end with a backslash)."""
    result: list[list[str]] = []
    pending: list[str] = []
    for line in text.splitlines():
        if not line.strip() and not pending:
            continue
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        result.append(shlex.split(" ".join(pending)))
        pending = []
    if pending:
        result.append(shlex.split(" ".join(pending)))
    return result


# -- nftables --------------------------------------------------------------------------------


@dataclass(slots=True)
class _NftChain:
    spec: str | None
    rules: list[str]


def nft_script(cmds: list[list[str]], by_name: bool = True, title: str = "") -> str:
    """Replay `nft` commands; return an `nft -f` script holding the resulting tables."""
    tables: dict[tuple[str, str], dict[str, _NftChain]] = {}
    for number, argv in enumerate(cmds, 1):
        if not argv or argv[0] != "nft":
            raise CorpusError(f"command {number}: not an nft command: {' '.join(argv)}")
        words = [w for w in argv[1:] if not w.startswith("-")]  # -a, -e, -ae: echo/handle
        verb, obj, rest = words[0], words[1], words[2:]
        if verb == "list":
            continue
        if verb in ("add", "create") and obj == "table":
            tables.setdefault((rest[0], rest[1]), {})
        elif verb in ("add", "create") and obj == "chain":
            family, table, chain = rest[:3]
            spec = " ".join(rest[3:]).strip().removeprefix("{").removesuffix("}").strip()
            tables[(family, table)].setdefault(chain, _NftChain(spec or None, []))
        elif verb in ("insert", "add") and obj == "rule":
            family, table, chain = rest[:3]
            rule = _nft_rule(rest[3:], by_name)
            rules = tables[(family, table)][chain].rules
            rules.insert(0, rule) if verb == "insert" else rules.append(rule)
        else:
            raise CorpusError(f"command {number}: cannot replay: {' '.join(argv)}")
    out = [f"# {title}"] if title else []
    for (family, table), chains in tables.items():
        out.append(f"table {family} {table} {{")
        for name, body in chains.items():
            out.append(f"\tchain {name} {{")
            if body.spec:
                out.append(f"\t\t{body.spec}")
            out.extend(f"\t\t{rule}" for rule in body.rules)
            out.append("\t}")
        out.append("}")
    return "\n".join(out) + "\n"


def _nft_rule(tokens: list[str], by_name: bool) -> str:
    words: list[str] = []
    rename = {"iif": "iifname", "oif": "oifname"} if by_name else {}
    quote_next = False
    for token in tokens:
        if quote_next:
            words.append(f'"{token}"')
            quote_next = False
        elif token in rename:
            words.append(rename[token])
            quote_next = True
        else:
            words.append(token)
    return " ".join(words)


# -- iptables --------------------------------------------------------------------------------

_BUILTIN = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
}
_SHORT = {
    "--in-interface": "-i",
    "--out-interface": "-o",
    "--source": "-s",
    "--destination": "-d",
    "--protocol": "-p",
    "--jump": "-j",
    "--match": "-m",
    "--destination-port": "--dport",
    "--source-port": "--sport",
}


@dataclass(slots=True)
class _IptTable:
    chains: dict[str, list[str]]


def iptables_texts(cmds: list[list[str]], title: str = "") -> dict[Family, str]:
    """Replay iptables/ip6tables commands; return iptables-restore text for each family."""
    state: dict[Family, dict[str, _IptTable]] = {Family.IPV4: {}, Family.IPV6: {}}
    for number, argv in enumerate(cmds, 1):
        family = {"iptables": Family.IPV4, "ip6tables": Family.IPV6}.get(argv[0] if argv else "")
        if family is None:
            raise CorpusError(f"command {number}: not an iptables command: {' '.join(argv)}")
        args = [a for a in argv[1:] if a not in ("-w", "--wait")]
        table_name = "filter"
        if args[:1] in (["--table"], ["-t"]):
            table_name, args = args[1], args[2:]
        table = state[family].setdefault(
            table_name, _IptTable({c: [] for c in _BUILTIN[table_name]})
        )
        op, args = args[0], args[1:]
        if op in ("--list-rules", "-S"):
            continue
        if op in ("--new-chain", "-N"):
            table.chains.setdefault(args[0], [])
        elif op in ("--insert", "-I", "--append", "-A"):
            chain, spec = args[0], args[1:]
            position = 0
            if spec and spec[0].isdigit():
                position, spec = int(spec[0]) - 1, spec[1:]
            rule = _ipt_rule(spec)
            if op in ("--insert", "-I"):
                table.chains[chain].insert(position, rule)
            else:
                table.chains[chain].append(rule)
        else:
            raise CorpusError(f"command {number}: cannot replay: {' '.join(argv)}")
    texts = {}
    for family, tables in state.items():
        tool = "iptables" if family is Family.IPV4 else "ip6tables"
        out = [f"# {title} ({tool})"] if title else []
        for name, table in tables.items():
            out.append(f"*{name}")
            for chain in table.chains:
                policy = "ACCEPT" if chain in _BUILTIN[name] else "-"
                out.append(f":{chain} {policy} [0:0]")
            for chain, rules in table.chains.items():
                out.extend(f"-A {chain} {rule}" for rule in rules)
            out.append("COMMIT")
        texts[family] = "\n".join(out) + "\n"
    return texts


def _ipt_rule(spec: list[str]) -> str:
    """Long options → the short spelling iptables-save prints; explicit `-m tcp` for ports."""
    words: list[str] = []
    proto = None
    matches: set[str] = set()
    for index, token in enumerate(spec):
        word = _SHORT.get(token, token)
        previous = words[-1] if words else ""
        if previous == "-p":
            proto = token
        if previous == "-m":
            matches.add(token)
        if word in ("--dport", "--sport") and proto and proto not in matches:
            words += ["-m", proto]
            matches.add(proto)
        words.append(word)
    return " ".join(words)


# -- the corpus ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    """libvirt's ruleset for one case: an nft script and an iptables-restore text per family."""

    nft: str
    iptables: str
    ip6tables: str


def expected(directory: str | Path, case: Case, by_name: bool = True) -> Expected:
    """Build libvirt's rulesets for `case` from the corpus in `directory`."""
    root = Path(directory)
    nft_cmds = commands((root / "base.nftables").read_text()) + commands(
        (root / case.nftables).read_text()
    )
    ipt_cmds = commands((root / "base.iptables").read_text()) + commands(
        (root / case.iptables).read_text()
    )
    nft = nft_script(
        nft_cmds, by_name, f"libvirt {case.name} (nftables): base.nftables + {case.nftables}"
    )
    ipt = iptables_texts(ipt_cmds, f"libvirt {case.name}: base.iptables + {case.iptables}")
    return Expected(nft, ipt[Family.IPV4], ipt[Family.IPV6])


def case_named(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def main(argv: list[str] | None = None) -> int:
    """Write libvirt's rulesets for corpus cases as files `netc verify` reads."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("corpus", type=Path, help="corpus directory (tests/libvirt/corpus)")
    parser.add_argument("out", type=Path, help="directory for <case>.nft, .v4.rules, .v6.rules")
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--keep-iif", action="store_true", help="keep libvirt's iif/oif")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        if args.cases and case.name not in args.cases:
            continue
        rules = expected(args.corpus, case, by_name=not args.keep_iif)
        (args.out / f"{case.name}.nft").write_text(rules.nft)
        (args.out / f"{case.name}.v4.rules").write_text(rules.iptables)
        (args.out / f"{case.name}.v6.rules").write_text(rules.ip6tables)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
