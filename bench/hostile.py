"""Hostile-size budgets: errors and checks must stay linear in the input's size.

Runs netc as a user would (a subprocess per case) and prints wall time and the child's peak
memory for each case next to its budget. Not a timed test: the figures go to bench/RESULTS.md.

    .venv/bin/python bench/hostile.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NETC = [sys.executable, "-m", "netc"]


def _bad_input(size: int) -> str:
    """About `size` bytes of networks that all overlap the first: one located error each,
    every one rendered with its source line (syntax errors stop at 20, value errors do not)."""
    out, total, i = [], 0, 0
    while total < size:
        out.append(f"network n{i} {{\n  bridge b{i}\n  ip 192.168.1.{1 + i % 250}/24\n}}\n")
        total += len(out[-1])
        i += 1
    return "".join(out)


def _forwards(count: int) -> str:
    """One network exposing `count` distinct host ports (no clash: the check runs to the end)."""
    lines = ["network big {", "  bridge br0", "  ip 192.168.1.1/24", "  forward nat"]
    lines += [f"  expose tcp {1 + i} to 192.168.1.10 port 80" for i in range(count)]
    return "\n".join(lines + ["}", ""])


def _networks_for_rules(rules: int) -> str:
    """Networks with enough exposes that the iptables text has about `rules` rules."""
    out = []
    per = 100
    for n in range((rules // (per * 2)) + 1):
        lines = [
            f"network n{n} {{",
            f"  bridge br{n}",
            f"  ip 10.{n // 250}.{n % 250}.1/24",
            "  forward nat",
        ]
        lines += [
            f"  expose tcp {1000 + n * per + i} to 10.{n // 250}.{n % 250}.10 port 80"
            for i in range(per)
        ]
        out.append("\n".join(lines + ["}", ""]))
    return "\n".join(out)


def _run(args: list[str]) -> tuple[float, float, int]:
    """Wall seconds, child peak memory in MB, exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(NETC + args, capture_output=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far: meaningful when it grew
    return seconds, max(peak, before) / 1024, done.returncode


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        bad = d / "bad.net"
        bad.write_text(_bad_input(1 << 20))
        fwd = d / "forwards.net"
        fwd.write_text(_forwards(60_000))
        many = d / "many.net"
        many.write_text(_networks_for_rules(40_000))
        ipt = d / "rules.ipt"
        nft = d / "rules.nft"
        subprocess.run(
            NETC + ["compile", "-t", "iptables", str(many), "-o", str(ipt)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            NETC + ["compile", "-t", "nft", str(many), "-o", str(nft)],
            check=True,
            capture_output=True,
        )
        rules = sum(1 for line in ipt.read_text().splitlines() if line.startswith("-A "))
        cases = [
            ("1 MB of bad input reported", ["check", str(bad)], 2.0, None),
            ("60,000 forwards checked", ["check", str(fwd)], 2.0, None),
            (f"verify of {rules:,} iptables rules", ["verify", str(nft), str(ipt)], 20.0, 500),
        ]
        print(f"{'case':40} {'seconds':>8} {'budget':>7} {'peak MB':>8} {'budget':>7} exit")
        for name, args, budget_s, budget_mb in cases:
            seconds, mb, rc = _run(args)
            print(
                f"{name:40} {seconds:8.2f} {budget_s:7.1f} {mb:8.0f} "
                f"{budget_mb if budget_mb else '-':>7} {rc}"
            )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
