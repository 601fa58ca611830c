"""Hostile-size budgets: errors and checks must stay linear in the input's size.

Runs netc as a user would (one subprocess per case) and prints, for each case, its wall and CPU
time and the peak memory of that process alone (from `wait4`), next to the budget and a verdict.
Not a timed test: the figures go to bench/RESULTS.md by hand.

    .venv/bin/python bench/hostile.py            # the issue's sizes (a few minutes)
    .venv/bin/python bench/hostile.py --quick    # small sizes: checks the cases run as expected

Budgets are judged on CPU time (user + system): the machine this runs on is shared, so wall
time measures the neighbours too. The exit status is 1 when netc exited otherwise than expected
or reported another number of errors than expected (a wrong answer, not a slow one); budgets
are only reported.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import networks  # noqa: E402

NETC = [sys.executable, "-m", "netc"]
MB = 1 << 20
ERRORS_PER_MB_S = 2.0  # the issue's rate: 1 MB of bad input reported in 2 s


@dataclass
class Case:
    name: str
    args: list[str]
    seconds: float  # budget, CPU seconds
    megabytes: float | None  # budget, peak RSS
    exit: int  # expected exit status
    errors: int | None  # expected number of reported errors (None: any)


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mb: float
    exit: int
    errors: int


def _repeat(size: int, network) -> tuple[str, int]:
    """`network(i)` for i = 0, 1, ... until about `size` bytes: the text and the count."""
    out, total, i = [], 0, 0
    while total < size:
        out.append(network(i))
        total += len(out[-1])
        i += 1
    return "".join(out), i


def _valid(size: int) -> str:
    """About `size` bytes of generated valid networks."""
    return networks(max(1, size * 1000 // len(networks(1000))))


def bad_gateways(size: int) -> tuple[str, int]:
    """About `size` bytes of networks whose address is their subnet's broadcast address: one
    located error each (value errors are all reported, syntax errors stop at 20)."""
    return _repeat(
        size, lambda i: f"network n{i} {{\n  bridge b{i}\n  ip 10.{i // 250}.{i % 250}.255/24\n}}\n"
    )


def syntax_error_at_end(size: int) -> str:
    """About `size` bytes of valid networks, then one network with a syntax error."""
    return _valid(size) + "network broken {\n  bridge zz\n  ip 10.255.255.1/24 garbage\n}\n"


def unreadable_at_both_ends(size: int) -> str:
    """About `size` bytes of valid networks between two with a character no token starts with
    (each restarts Lark's lexer, which only lexes from a text's start)."""
    bad = "network bad{0} {{ bridge bad{0}; ip 10.255.{0}.1/24 }}\n"
    return bad.format(0) + _valid(size) + bad.format(1)


def identical_subnets(size: int) -> tuple[str, int]:
    """About `size` bytes of networks that all have the same subnet: each overlaps the first."""
    return _repeat(size, lambda i: f"network n{i} {{ bridge b{i} ip 192.168.1.1/24 }}\n")


def _exposes(lines: list[str]) -> str:
    head = ["network big {", "  bridge br0", "  ip 192.168.1.1/24", "  forward nat"]
    return "\n".join(head + [f"  {line}" for line in lines] + ["}", ""])


def forwards(count: int) -> str:
    """One network exposing `count` distinct host ports (no clash: the check runs to the end)."""
    return _exposes([f"expose tcp {1 + i} to 192.168.1.10 port 80" for i in range(count)])


def wide_after_ranges(count: int) -> str:
    """`count` two-port forwards, none clashing, then one wide range that meets them all
    (compared with each earlier range, that is quadratic over a file)."""
    narrow = [f"expose tcp {1 + 2 * i}-{2 + 2 * i} to 192.168.1.10" for i in range(count)]
    return _exposes(narrow + [f"expose tcp 1-{2 * count} to 192.168.1.11"])


def wide_before_ports(count: int) -> str:
    """One wide range, then `count` single ports inside it: each reported against the range."""
    narrow = [f"expose udp {2 + i} to 192.168.1.10 port 80" for i in range(count)]
    return _exposes([f"expose udp 1-{count + 1} to 192.168.1.11"] + narrow)


def networks_for_rules(rules: int) -> str:
    """Networks with `expose` lines whose iptables text has about `rules` `-A` rules; the
    rules per network and per expose are measured on a small sample first."""
    from netc.pipeline import compile_text

    def count(text: str) -> int:
        out = compile_text(text, "sample.net", "iptables")
        return sum(1 for line in out.splitlines() if line.startswith("-A "))

    per = 100
    one, two = count(_rule_networks(1, 0)), count(_rule_networks(1, 1))
    per_expose = two - one
    per_network = one + per * per_expose
    return _rule_networks(max(1, round(rules / per_network)), per)


def _rule_networks(count: int, per: int) -> str:
    out = []
    for n in range(count):
        net = f"10.{n // 250}.{n % 250}"
        lines = [f"network n{n} {{", f"  bridge br{n}", f"  ip {net}.1/24", "  forward nat"]
        lines += [
            f"  expose tcp {1000 + n * per + i} to {net}.10 port 80"
            for i in range(per)
            if 1000 + n * per + i <= 65535
        ]
        out.append("\n".join(lines + ["}", ""]))
    return "\n".join(out)


def run(args: list[str], scratch: Path) -> Run:
    """One netc process: wall and CPU seconds, its own peak RSS, exit status, errors reported."""
    out, err = scratch / "stdout", scratch / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(NETC + args, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait
    errors = err.read_text(errors="replace").count(": error: ")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_maxrss / 1024, proc.returncode, errors)


def _check(
    d: Path, file: str, text: str, name: str, seconds: float, exit: int, errors: int
) -> Case:
    """A `netc check` case on `text`, written to `file` in the scratch folder `d`."""
    (d / file).write_text(text)
    return Case(name, ["check", str(d / file)], seconds, None, exit, errors)


def _per_mb(text: str) -> float:
    """The budget of an input that is mostly errors: proportional to its size."""
    return ERRORS_PER_MB_S * len(text) / MB


def cases(d: Path, quick: bool) -> list[Case]:
    scale = 100 if quick else 1
    bad, count = bad_gateways(MB // scale)
    syntax = syntax_error_at_end(47 * MB // 10 // scale)
    unreadable = unreadable_at_both_ends(MB // scale)
    same, copies = identical_subnets(MB // scale)
    n = 60_000 // scale
    wide_first = wide_before_ports(n)
    out = [
        _check(
            d,
            "bad.net",
            bad,
            f"{len(bad) / MB:.2f} MB of bad input reported",
            _per_mb(bad),
            2,
            count,
        ),
        _check(
            d,
            "syntax.net",
            syntax,
            f"{len(syntax) / MB:.2f} MB, one syntax error at the end",
            _per_mb(syntax),
            2,
            1,
        ),
        _check(
            d,
            "unreadable.net",
            unreadable,
            f"{len(unreadable) / MB:.2f} MB, unreadable characters at both ends",
            _per_mb(unreadable),
            2,
            2,
        ),
        _check(
            d,
            "same.net",
            same,
            f"{len(same) / MB:.2f} MB of identical subnets ({copies:,})",
            _per_mb(same),
            2,
            copies - 1,
        ),
        _check(d, "forwards.net", forwards(n), f"{n:,} forwards checked", 2.0, 0, 0),
        _check(
            d,
            "wide_last.net",
            wide_after_ranges(n // 2),
            f"{n // 2:,} range forwards, then a wide one",
            2.0,
            2,
            1,
        ),
        _check(
            d,
            "wide_first.net",
            wide_first,
            f"a wide forward, then {n:,} inside it ({len(wide_first) / MB:.1f} MB)",
            max(2.0, _per_mb(wide_first)),
            2,
            n,
        ),
    ]

    many = d / "many.net"
    many.write_text(networks_for_rules(40_000 // scale))
    ipt, nft = d / "rules.ipt", d / "rules.nft"
    for target, path in (("iptables", ipt), ("nft", nft)):
        subprocess.run(
            NETC + ["compile", "-t", target, str(many), "-o", str(path)],
            check=True,
            capture_output=True,
        )
    rules = sum(1 for line in ipt.read_text().splitlines() if line.startswith("-A "))
    out.append(
        Case(
            f"verify of {rules:,} iptables rules", ["verify", str(nft), str(ipt)], 20.0, 500.0, 0, 0
        )
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes ÷ 100: checks the cases, not speed")
    quick = ap.parse_args(argv).quick
    wrong = 0
    with tempfile.TemporaryDirectory(prefix="netc-hostile-") as tmp:
        d = Path(tmp)
        print(
            f"{'case':52} {'wall s':>7} {'CPU s':>7} {'budget':>7} {'peak MB':>8} "
            f"{'budget':>7} {'exit':>4} {'errors':>7}  verdict"
        )
        for case in cases(d, quick):
            r = run(case.args, d)
            as_expected = r.exit == case.exit and case.errors in (None, r.errors)
            within = r.cpu <= case.seconds and (
                case.megabytes is None or r.peak_mb <= case.megabytes
            )
            verdict = "-" if quick else "met" if within else "NOT met"  # quick: not speed
            if not as_expected:
                wrong += 1
                verdict = (
                    f"WRONG (expected exit {case.exit}, "
                    f"{'any' if case.errors is None else case.errors} errors)"
                )
            mb_budget = "-" if case.megabytes is None else f"{case.megabytes:.0f}"
            print(
                f"{case.name:52} {r.wall:7.2f} {r.cpu:7.2f} {case.seconds:7.1f} "
                f"{r.peak_mb:8.0f} {mb_budget:>7} {r.exit:4} {r.errors:7,}  {verdict}",
                flush=True,
            )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
