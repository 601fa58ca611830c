"""Inputs for the peer comparison: the same N forward accepts for ferm, Aerleon and netc.

Rule i accepts 10.0.0.0/16 → its own /32 in 172.16.0.0/12 in FORWARD (`generate.forward_accepts`).
netc writes the same ruleset as one routed network whose guests are 10.0.0.0/16, with one
`allow to DEST` per rule: its iptables output has those N accepts (each also matching the
network's bridge) plus the network's own few rules. ferm is run with
`--remote` (which implies `--noexec --lines`: it prints iptables-save text and executes nothing)
and, as a second guard, only inside a scratch network namespace. Aerleon renders the same terms
with its `speedway` (iptables-restore) and `nftables` generators, one renderer process.
"""

from __future__ import annotations

import os

from generate import PEER_GATEWAY, forward_accepts


def ferm_input(n: int) -> str:
    lines = ["domain ip table filter chain FORWARD {"]
    lines += [f"    saddr {src} daddr {dst} ACCEPT;" for src, dst in forward_accepts(n)]
    return "\n".join(lines + ["}"]) + "\n"


def netc_input(n: int) -> str:
    """The same N forward accepts in netc's language."""
    lines = ["network peers {", "    bridge pb0", "    forward route", f"    ip {PEER_GATEWAY}"]
    lines += [f"    allow to {dst}" for _, dst in forward_accepts(n)]
    return "\n".join(lines + ["}"]) + "\n"


AERLEON_HEADERS = {
    "speedway": "speedway FORWARD ACCEPT",
    "nftables": "nftables inet forward ACCEPT",
}


def write_aerleon(root: str, n: int) -> dict[str, list[str]]:
    """Write policies and definitions under `root`; returns the aclgen argv per generator."""
    pol, defs, out = (os.path.join(root, d) for d in ("pol", "def", "out"))
    for folder in (pol, defs, out):
        os.makedirs(folder, exist_ok=True)
    pairs = forward_accepts(n)
    with open(os.path.join(defs, "NETWORK.net"), "w", encoding="utf-8") as handle:
        for i, (src, dst) in enumerate(pairs):
            handle.write(f"S{i} = {src}\nD{i} = {dst}\n")
    with open(os.path.join(defs, "SERVICES.svc"), "w", encoding="utf-8") as handle:
        handle.write("HTTPS = 443/tcp\n")
    argv = {}
    for generator, header in AERLEON_HEADERS.items():
        path = os.path.join(pol, f"bench_{generator}.pol")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f"header {{\n  target:: {header}\n}}\n")
            for i in range(n):
                handle.write(
                    f"term t{i} {{\n  source-address:: S{i}\n  destination-address:: D{i}\n"
                    "  action:: accept\n}\n"
                )
        argv[generator] = [
            f"--base_directory={pol}",
            f"--definitions_directory={defs}",
            f"--output_directory={out}",
            "--max_renderers=1",
            f"--policy_file={path}",
        ]
    return argv
