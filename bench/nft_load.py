"""`nft` load timings, run *inside* a scratch network namespace by `run.py` (never the host's).

Usage (inside the namespace): python nft_load.py once FILE REPS [cpu|wall]
                              python nft_load.py rulebyrule FILE SAMPLE [cpu|wall]
`once` times `nft -f FILE` (netc's one transaction) REPS times, deleting the table in between.
`rulebyrule` applies the same ruleset the way libvirt does, one `nft` process per command
(add table, add chain ..., add rule ...): all of it when there are at most SAMPLE commands,
otherwise SAMPLE commands on an empty table and SAMPLE on a table already holding the whole
ruleset, extrapolating the total from the two per-command means (see `estimate`).
Prints one JSON object.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

TABLE = "inet netc"


CLOCK = ["cpu"]


def now() -> float:
    """CPU time of finished children (user + system), or wall time."""
    if CLOCK[0] == "wall":
        return time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def nft(*args: str, stdin: str | None = None, check: bool = True) -> None:
    proc = subprocess.run(["nft", *args], input=stdin, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"nft {' '.join(args)[:200]} failed: {proc.stderr.strip()[:500]}")


def commands(text: str) -> list[str]:
    """One nft command per object of netc's script: table, chains, then rules, in load order.

    Regular chains' rules come before the base chains' dispatch rules, which jump to them.
    """
    chains: list[tuple[str, str | None, list[str]]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("\tchain "):
            chains.append((stripped.split()[1], None, []))
        elif line.startswith("\t\t") and stripped.startswith("type "):
            name, _, rules = chains[-1]
            chains[-1] = (name, stripped, rules)
        elif line.startswith("\t\t"):
            chains[-1][2].append(stripped)
    out = [f"add table {TABLE}"]
    for name, hook, _ in chains:
        out.append(f"add chain {TABLE} {name}" + (f" {{ {hook} }}" if hook else ""))
    ordered = [c for c in chains if c[1] is None] + [c for c in chains if c[1] is not None]
    for name, _, rules in ordered:
        out += [f"add rule {TABLE} {name} {rule}" for rule in rules]
    return out


def run_each(cmds: list[str]) -> float:
    start = now()
    for cmd in cmds:
        nft(cmd)
    return now() - start


def once(path: str, reps: int) -> dict:
    times = []
    for _ in range(reps):
        nft("delete", "table", *TABLE.split(), check=False)
        start = now()
        nft("-f", path)
        times.append(now() - start)
    nft("delete", "table", *TABLE.split(), check=False)
    return {"median_s": statistics.median(times), "runs_s": times}


def rulebyrule(path: str, sample: int) -> dict:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    cmds = commands(text)
    nft("delete", "table", *TABLE.split(), check=False)
    if len(cmds) <= sample:
        total = run_each(cmds)
        nft("delete", "table", *TABLE.split(), check=False)
        return {"commands": len(cmds), "measured": "all", "total_s": total}
    empty = run_each(cmds[:sample]) / sample
    nft("delete", "table", *TABLE.split(), check=False)
    nft("-f", path)  # now the table is full: re-add rules at its end (duplicates are allowed)
    # The last rules of the per-network chains; the dispatch (vmap) rules are left out, as at
    # 10,000 networks one is longer than a single argv string may be (MAX_ARG_STRLEN).
    rules = [c for c in cmds if c.startswith("add rule ") and " vmap " not in c][-sample:]
    full = run_each(rules) / len(rules)
    nft("delete", "table", *TABLE.split(), check=False)
    return {
        "commands": len(cmds),
        "measured": f"{sample} on an empty table, {len(rules)} on the full table",
        "per_command_empty_s": empty,
        "per_command_full_s": full,
        "total_s": estimate(len(cmds), empty, full),
        "total_low_s": len(cmds) * empty,
        "total_high_s": len(cmds) * full,
    }


def estimate(count: int, empty: float, full: float) -> float:
    """Total for `count` commands if the per-command cost grows linearly from empty to full."""
    return count * (empty + full) / 2


if __name__ == "__main__":
    mode, file, number = sys.argv[1], sys.argv[2], int(sys.argv[3])
    CLOCK[0] = sys.argv[4] if len(sys.argv) > 4 else "cpu"
    json.dump(once(file, number) if mode == "once" else rulebyrule(file, number), sys.stdout)
