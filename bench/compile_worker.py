"""One compile measurement, run in a fresh process by `run.py` so memory and time are clean.

Usage: python compile_worker.py FILE [--stages] [--tracemalloc]
Prints one JSON object: the front end's time (read, parse, build, check, lower), each target's
emit time and rule count, and the process's peak RSS; `--stages` splits the front end, and
`--tracemalloc` adds the peak of Python allocations (slower, so run separately).
"""

from __future__ import annotations

import json
import resource
import sys
import time
import tracemalloc

TARGETS = ("nft", "iptables", "ip6tables")


def rule_count(target: str, text: str) -> int:
    """Rules in emitted text: nft lines inside chains that are not declarations, `-A` lines."""
    if target != "nft":
        return sum(1 for line in text.splitlines() if line.startswith("-A "))
    return sum(
        1
        for line in text.splitlines()
        if line.startswith("\t\t") and not line.lstrip().startswith("type ")
    )


def main(argv: list[str]) -> int:
    path = argv[0]
    clock = time.process_time if "--clock=cpu" in argv else time.perf_counter
    if "--tracemalloc" in argv:
        tracemalloc.start()
    start = clock()
    from netc.pipeline import compile_files, emit

    imported = clock()
    result: dict = {"import_s": imported - start}
    if "--stages" in argv:
        from netc.compiler.build import build
        from netc.compiler.lower import lower
        from netc.compiler.parse import parse
        from netc.compiler.sources import read_source
        from netc.compiler.validate import cross_check

        marks = [clock()]
        text = read_source(path)
        marks.append(clock())
        tree = parse(text, path)
        marks.append(clock())
        networks, _ = build(tree, path)
        marks.append(clock())
        cross_check(networks)
        marks.append(clock())
        lower(networks)
        marks.append(clock())
        names = ("read", "parse", "build", "check", "lower")
        result["stages_s"] = {n: marks[i + 1] - marks[i] for i, n in enumerate(names)}
    front = clock()
    compiled = compile_files([path])
    result["front_s"] = clock() - front
    result["emit_s"], result["rules"] = {}, {}
    for target in TARGETS:
        begin = clock()
        text = emit(compiled, target)
        result["emit_s"][target] = clock() - begin
        result["rules"][target] = rule_count(target, text)
    result["networks"] = len(compiled.program.networks)
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if tracemalloc.is_tracing():
        result["tracemalloc_peak_b"] = tracemalloc.get_traced_memory()[1]
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
