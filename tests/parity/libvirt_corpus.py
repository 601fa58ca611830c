"""Turn libvirt's argv-list test data into an nft script and iptables-restore texts.

Just enough to exercise parity's parsers on every construct the corpus contains; the real
converter for conformance tests lives elsewhere.
"""

from __future__ import annotations

import shlex
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "libvirt" / "corpus"  # vendored copy


def commands(path: Path) -> list[list[str]]:
    out, current = [], []
    for line in path.read_text().splitlines():
        cont = line.endswith("\\")
        current += shlex.split(line[:-1] if cont else line)
        if not cont:
            if current:
                out.append(current)
            current = []
    return out


def nft_script(*paths: Path) -> str:
    lines = []
    for path in paths:
        for argv in commands(path):
            assert argv[0] == "nft"
            words = [w for w in argv[1:] if not w.startswith("-")]
            if words[0] == "list":
                continue
            lines.append(" ".join(words))
    return "\n".join(lines) + "\n"


def iptables_texts(*paths: Path) -> dict[str, str]:
    """{'iptables': text, 'ip6tables': text} in restore format."""
    tables: dict[str, dict[str, list[str]]] = {"iptables": {}, "ip6tables": {}}
    for path in paths:
        for argv in commands(path):
            tool, rest = argv[0], [w for w in argv[1:] if w != "-w"]
            assert rest[0] == "--table"
            table, rest = rest[1], rest[2:]
            if rest[0] == "--list-rules":
                continue
            lines = tables[tool].setdefault(table, [])
            lines.append(shlex.join(rest))
    return {
        tool: "".join(f"*{t}\n" + "\n".join(ls) + "\nCOMMIT\n" for t, ls in by_table.items())
        for tool, by_table in tables.items()
    }


def cases() -> list[tuple[str, Path, Path]]:
    out = []
    for nft in sorted(CORPUS.glob("*-linux.nftables")):
        name = nft.name[: -len("-linux.nftables")]
        for cand in (
            CORPUS / f"{name}-linux.iptables",
            CORPUS / f"{name}-linux.args",
            CORPUS / "inferred" / f"{name}-linux.iptables",
        ):
            if cand.exists():
                out.append((name, nft, cand))
                break
    return out
