"""Benchmark `netc verify`: class counts and times, recorded in bench/VERIFY.md.

Run: python bench/verify_bench.py [--networks 50] [--repeat 3]
Cases: the golden default network; N dual-stack NAT networks (v4 /24 + v6 /64 each, plus routed
and isolated ones mixed in); and, for scale, the naive product enumeration on the default network.
Times are wall-clock medians; parsing is reported separately from the decision.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from netc.pipeline import compile_sources, emit
from netc.parity import Family, parse_iptables, parse_nft, verify
from netc.parity.spec import check_spec

ROOT = Path(__file__).resolve().parents[1]


def many_networks(n: int) -> str:
    out = []
    for i in range(n):
        mode = "nat" if i % 5 else ("route" if i % 10 else "isolated")
        out.append(
            f"network n{i} {{\n  bridge virbr{i}\n  forward {mode}\n"
            f"  ip 10.{i // 200}.{i % 200}.1/24 {{ dhcp 10.{i // 200}.{i % 200}.10 - "
            f"10.{i // 200}.{i % 200}.200 }}\n"
            f"  ip 2001:db8:{i:x}::1/64\n}}\n"
        )
    return "".join(out)


def sides(source: str, name: str):
    from netc.verification import spec_from_networks

    compiled = compile_sources([(name, source)])
    texts = {t: emit(compiled, t) for t in ("nft", "iptables", "ip6tables")}
    t0 = time.perf_counter()
    a = parse_nft(texts["nft"], "nft")
    b = parse_iptables(texts["iptables"], Family.IPV4, "v4").merged(
        parse_iptables(texts["ip6tables"], Family.IPV6, "v6")
    )
    parse_s = time.perf_counter() - t0
    rules = sum(len(c.rules) for rs in (a, b) for t in rs.tables for c in t.chains.values())
    return a, b, parse_s, rules, spec_from_networks(compiled.program.networks)


def bench(label: str, source: str, repeat: int, method: str = "symbolic") -> dict:
    a, b, parse_s, rules, spec = sides(source, label)
    times, result = [], None
    for _ in range(repeat):
        result = verify(a, b, method=method)
        times.append(result.seconds)
        assert result.equivalent
    t0 = time.perf_counter()
    failures = check_spec(a, spec) + check_spec(b, spec)
    spec_s = time.perf_counter() - t0
    assert not failures, failures[:1]
    return {
        "case": label,
        "method": method,
        "rules": rules,
        "classes": result.classes,
        "regions": result.regions,
        "parse_s": parse_s,
        "verify_s": statistics.median(times),
        "spec_s": spec_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    default = (ROOT / "golden" / "default" / "input.net").read_text()
    rows = [
        bench("default", default, args.repeat),
        bench("default", default, 1, method="product"),
        bench("10 networks", many_networks(10), args.repeat),
        bench(f"{args.networks} networks", many_networks(args.networks), args.repeat),
    ]
    print(
        "| case | method | rules (both sides) | packet classes | regions | parse s | verify s | spec s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['case']} | {r['method']} | {r['rules']} | {r['classes']:,} | {r['regions']:,} |"
            f" {r['parse_s']:.3f} | {r['verify_s']:.3f} | {r['spec_s']:.3f} |"
        )


if __name__ == "__main__":
    main()
