"""netc's scale and speed benchmark: one command, figures into bench/RESULTS.md.

    python bench/run.py            # full: 1 … 10,000 networks, 5 runs each (about 10 minutes)
    python bench/run.py --quick    # 1 … 1,000 networks, 3 runs, no 100-network rule-by-rule run

Run it as root for the `nft -f` figures (each uses a scratch network namespace `netc-bench-*`,
deleted afterwards; nothing is ever loaded into the host's namespace) and with `hyperfine`,
`ferm` (Debian) and `aerleon` (PyPI, any venv: `--aerleon PATH/aclgen`) installed for the
start-up and peer figures; whatever is missing is reported as such. `--parity-python` names an
interpreter whose `netc.parity` (the verifier) is used for rule-traversal counts and
verification times when this one has none. Every figure is a median of several fresh processes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import networks  # noqa: E402
from peers import ferm_input, netc_input, write_aerleon  # noqa: E402
from svgplot import loglog  # noqa: E402

TARGETS = ("nft", "iptables", "ip6tables")
DEFAULT_NET = ROOT / "examples" / "default.net"


# -- helpers ----------------------------------------------------------------------------------


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


CLOCK = ["cpu"]  # "cpu": user + system time of the process and its children; or "wall"


def timed(argv: list[str], env: dict | None = None, stdin: str | None = None) -> float:
    """Time of one process by CLOCK, output discarded; raises if it fails.

    CPU time is the default because the shared machine this ran on was busy (load 5-10 on two
    cores): wall times then measure the neighbours. For a single-threaded process on an idle
    machine the two agree.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        argv,
        input=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)[:200]} failed: {proc.stderr.strip()[:400]}")
    if CLOCK[0] == "wall":
        return elapsed
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_of(reps: int, argv: list[str], env: dict | None = None) -> float:
    return statistics.median(timed(argv, env) for _ in range(reps))


def netc_cli() -> list[str]:
    return [sys.executable, "-c", "import sys; from netc.cli import main; sys.exit(main())"]


def kernel_reason() -> str | None:
    if os.geteuid() != 0:
        return "not root: cannot create network namespaces"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"no '{tool}' binary"
    return None


_ns_counter = [0]


@contextmanager
def scratch_namespace():
    """A fresh network namespace, deleted afterwards whatever happens."""
    _ns_counter[0] += 1
    name = f"netc-bench-{os.getpid()}-{_ns_counter[0]}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def in_ns(ns: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def run_json(argv: list[str], timeout: float | None = None) -> dict:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)[:200]} failed: {proc.stderr.strip()[-600:]}")
    return json.loads(proc.stdout)


def has_parity(python: str) -> bool:
    probe = "import netc.parity.evaluate, netc.parity.equivalence"
    return subprocess.run([python, "-c", probe], capture_output=True).returncode == 0


# -- machine ----------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True).stdout.strip()
            return out.splitlines()[0] if out else "unavailable"
        except OSError:
            return "unavailable"

    import lark

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "lark": lark.__version__,
        "nft": version(["nft", "--version"]),
        "iptables": version(["iptables", "--version"]),
        "ferm": version(["ferm", "--version"]),
        "hyperfine": version(["hyperfine", "--version"]),
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
    }


# -- compile ----------------------------------------------------------------------------------


def compile_figures(work: Path, sizes: list[int], reps: int) -> dict:
    results = {}
    worker = [sys.executable, str(HERE / "compile_worker.py")]
    for n in sizes:
        source = work / f"n{n}.net"
        runs = [run_json([*worker, str(source), f"--clock={CLOCK[0]}"]) for _ in range(reps)]
        cli = {}
        for target in TARGETS:
            argv = [*netc_cli(), "compile", "-t", target, str(source)]
            cli[target] = median_of(reps, argv)
            out = work / f"n{n}.{target}"
            subprocess.run([*argv, "-o", str(out)], check=True)
        traced = run_json([*worker, str(source), "--tracemalloc"])
        entry = {
            "front_s": statistics.median(r["front_s"] for r in runs),
            "emit_s": {t: statistics.median(r["emit_s"][t] for r in runs) for t in TARGETS},
            "cli_s": cli,
            "rules": runs[0]["rules"],
            "maxrss_kib": statistics.median(r["maxrss_kib"] for r in runs),
            "tracemalloc_peak_b": traced["tracemalloc_peak_b"],
        }
        results[n] = entry
        log(
            f"compile n={n}: front {entry['front_s']:.3f}s, cli "
            + ", ".join(f"{t} {cli[t]:.3f}s" for t in TARGETS)
        )
    biggest = max(sizes)
    results["stages"] = run_json(
        [*worker, str(work / f"n{biggest}.net"), "--stages", f"--clock={CLOCK[0]}"]
    )
    results["stages"]["n"] = biggest
    return results


# -- kernel: nft -f against rule by rule ------------------------------------------------------


def load_figures(work: Path, sizes: list[int], reps: int, full_limit: int, sample: int) -> dict:
    reason = kernel_reason()
    if reason:
        return {"skipped": reason}
    results = {}
    loader = [sys.executable, str(HERE / "nft_load.py")]
    for n in sizes:
        path = str(work / f"n{n}.nft")
        with scratch_namespace() as ns:
            once = run_json(in_ns(ns, [*loader, "once", path, str(reps), CLOCK[0]]))
            limit = 10**9 if n <= full_limit else sample
            each = run_json(in_ns(ns, [*loader, "rulebyrule", path, str(limit), CLOCK[0]]))
        results[n] = {"nft_f_s": once["median_s"], "rule_by_rule": each}
        log(
            f"load n={n}: nft -f {once['median_s']:.3f}s, rule by rule {each['total_s']:.1f}s "
            f"({each['measured']})"
        )
    return results


# -- per-packet cost, verification ------------------------------------------------------------


def traversal_figures(work: Path, sizes: list[int], python: str) -> dict:
    results = {}
    for n in sizes:
        files = [str(work / f"n{n}.{t}") for t in TARGETS]
        last = n - 1 if (n - 1) % 2 == 0 else n - 2  # the last NAT network, like network 0
        found = run_json([python, str(HERE / "traverse.py"), *files, "0", str(max(last, 0))])
        found["last_index"] = max(last, 0)
        results[n] = found
    log(f"traversal: {json.dumps(results)}")
    return results


VERIFY = """
import gc, json, sys, time
from netc.parity import load_ruleset, verify
gc.disable()  # as `netc verify` does (netc/collector.py)
start = time.perf_counter()
a = load_ruleset(sys.argv[1]); b = load_ruleset([sys.argv[2], sys.argv[3]])
parsed = time.perf_counter()
result = verify(a, b)
print(json.dumps({"parse_s": parsed - start, "verify_s": time.perf_counter() - parsed,
                  "equivalent": result.equivalent, "regions": result.regions}))
"""


def verify_figures(work: Path, sizes: list[int], python: str, limit: int, timeout: float) -> dict:
    results = {}
    for n in sizes:
        if n > limit:
            results[n] = {"skipped": f"above --verify-max {limit}"}
            continue
        files = [str(work / f"n{n}.{t}") for t in TARGETS]
        try:
            results[n] = run_json([python, "-c", VERIFY, *files], timeout=timeout)
        except subprocess.TimeoutExpired:
            results[n] = {"skipped": f"took over {timeout:.0f} s"}
        log(f"verify n={n}: {results[n]}")
    return results


# -- start-up ---------------------------------------------------------------------------------

STANDALONE_PROBE = """
import {module} as parser_module
with open({source!r}, encoding="utf-8") as handle:
    text = handle.read()
parser_module.Lark_StandAlone(propagate_positions=True).parse(text)
"""
CACHE_PROBE = """
from lark import Lark
with open({grammar!r}, encoding="utf-8") as handle:
    grammar = handle.read()
with open({source!r}, encoding="utf-8") as handle:
    text = handle.read()
Lark(grammar, parser="lalr", lexer="basic", propagate_positions=True,
     maybe_placeholders=False, cache=True).parse(text)
"""


def startup_figures(work: Path, runs: int) -> dict:
    grammar = str(ROOT / "grammar" / "netc.lark")
    sa = work / "standalone"
    sa.mkdir(exist_ok=True)
    gen = [sys.executable, "-m", "lark.tools.standalone", "-l", "basic", "--propagate_positions"]
    subprocess.run([*gen, grammar, "-o", str(sa / "plain_parser.py")], check=True)
    subprocess.run([*gen, "-c", grammar, "-o", str(sa / "compressed_parser.py")], check=True)
    probes = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import lark'": [sys.executable, "-c", "import lark"],
        "netc compile default.net": [*netc_cli(), "compile", str(DEFAULT_NET)],
        "Lark(cache=True) + parse": [
            sys.executable,
            "-c",
            CACHE_PROBE.format(grammar=grammar, source=str(DEFAULT_NET)),
        ],
    }
    for kind in ("plain", "compressed"):
        probes[f"standalone ({kind}) + parse"] = [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(sa)!r})\n"
            + STANDALONE_PROBE.format(module=f"{kind}_parser", source=str(DEFAULT_NET)),
        ]
    sizes = {kind: (sa / f"{kind}_parser.py").stat().st_size for kind in ("plain", "compressed")}
    results: dict = {
        "standalone_bytes": sizes,
        "tool": "hyperfine" if shutil.which("hyperfine") and CLOCK[0] == "wall" else "own timer",
    }
    for mode, value in (("no .pyc (PYTHONDONTWRITEBYTECODE=1)", "1"), ("with .pyc", None)):
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if value:
            env["PYTHONDONTWRITEBYTECODE"] = value
            drop_bytecode(ROOT)  # .pyc files left by earlier runs would still be read
        else:  # write the .pyc files once (netc's own, the standalone modules)
            for argv in probes.values():
                subprocess.run(argv, env=env, capture_output=True)
        results[mode] = _time_probes(probes, env, runs, work)
        log(
            f"start-up {mode}: "
            + ", ".join(f"{k} {v * 1000:.0f}ms" for k, v in results[mode].items())
        )
    return results


def write_bytecode(work: Path) -> None:
    """Bring netc's .pyc files up to date: one compile with bytecode writing on."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    drop_bytecode(ROOT)
    source = work / "n1.net"
    source.write_text(networks(1), encoding="utf-8")
    for target in TARGETS:
        subprocess.run([*netc_cli(), "compile", "-t", target, str(source)], env=env, check=True,
                       capture_output=True)  # fmt: skip


def drop_bytecode(root: Path) -> None:
    """Remove the `__pycache__` folders of a source tree (an editable install's .pyc files)."""
    for cache in sorted(root.rglob("__pycache__"), reverse=True):
        if ".git" not in cache.parts:
            shutil.rmtree(cache, ignore_errors=True)


def _time_probes(probes: dict[str, list[str]], env: dict, runs: int, work: Path) -> dict:
    if shutil.which("hyperfine") and CLOCK[0] == "wall":
        export = work / "hyperfine.json"
        cmd = [
            "hyperfine",
            "-N",
            "--warmup",
            "3",
            "--runs",
            str(runs),
            "--export-json",
            str(export),
        ]
        names = list(probes)
        for name in names:
            cmd += ["--command-name", name, _shell_join(probes[name])]
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        data = json.loads(export.read_text())
        return {r["command"]: r["median"] for r in data["results"]}
    out = {}
    for name, argv in probes.items():
        for _ in range(3):
            timed(argv, env)
        out[name] = median_of(runs, argv, env)
    return out


def _shell_join(argv: list[str]) -> str:
    import shlex

    return shlex.join(argv)


# -- peers ------------------------------------------------------------------------------------


def count_rules(text: str, target: str) -> int:
    if target == "nft":
        return sum(1 for line in text.splitlines() if line.startswith("\t\t"))
    return sum(1 for line in text.splitlines() if line.startswith(("-A ", "-I ")))


def interleaved(commands: dict[str, list[str]], reps: int) -> dict[str, float]:
    """Median time of each command, the commands run in turn within every round, so that a
    change in the machine's load between rounds weighs on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(reps):
        for name, argv in commands.items():
            times[name].append(timed(argv))
    return {name: statistics.median(values) for name, values in times.items()}


def peer_figures(work: Path, counts: list[int], reps: int, aclgen: str | None) -> dict:
    """ferm, Aerleon and netc on the same ruleset, timed in turn (`interleaved`)."""
    results: dict = {"ferm": {}, "aerleon": {}, "netc_ruleset": {}}
    ferm = shutil.which("ferm")
    reason = kernel_reason()
    if ferm is None:
        results["ferm"] = {"skipped": "ferm is not installed (apt-get install ferm)"}
    elif reason:
        results["ferm"] = {"skipped": f"ferm only runs here inside a scratch namespace: {reason}"}
    if aclgen is None:
        results["aerleon"] = {"skipped": "aerleon is not installed (pip install aerleon)"}
    with scratch_namespace() if not results["ferm"] else nullcontext() as ns:
        for n in counts:
            commands: dict[str, list[str]] = {}
            path = work / f"peers{n}.net"
            path.write_text(netc_input(n), encoding="utf-8")
            rules = {}
            for target in ("iptables", "nft"):
                argv = [*netc_cli(), "compile", "-t", target, str(path)]
                commands[f"netc {target}"] = argv
                text = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
                rules[target] = count_rules(text, target)
            if ns is not None:
                ferm_path = work / f"ferm{n}.ferm"
                ferm_path.write_text(ferm_input(n))
                commands["ferm"] = in_ns(
                    ns, [ferm, "--remote", "--noexec", "--lines", "--fast", str(ferm_path)]
                )
            if aclgen is not None:
                for generator, args in write_aerleon(str(work / f"aerleon{n}"), n).items():
                    commands[f"aerleon {generator}"] = [aclgen, *args]
            times = interleaved(commands, reps)
            results["netc_ruleset"][n] = {
                "cli_s": {t: times[f"netc {t}"] for t in ("iptables", "nft")},
                "rules": rules,
            }
            if ns is not None:
                results["ferm"][n] = times["ferm"]
            if aclgen is not None:
                results["aerleon"][n] = {g: times[f"aerleon {g}"] for g in ("speedway", "nftables")}
            log(f"peers, {n} rules: " + ", ".join(f"{k} {v:.3f}s" for k, v in times.items()))
    return results


# -- report -----------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def write_report(out: Path, data: dict) -> None:
    m, comp, sizes = data["machine"], data["compile"], data["sizes"]
    lines = [
        "# netc benchmark results",
        "",
        f"Generated by `python bench/run.py{' --quick' if data['quick'] else ''}` on "
        f"{data['date']}. Medians of {data['reps']} fresh processes unless noted, by "
        + CLOCK_WORDS[data["clock"]]
        + f" (load average when it started: {data['load_average'][0]:.1f} on "
        f"{data['machine']['cores']} cores). "
        "Regenerate with the same command; notes on method and findings are in "
        "[NOTES.md](NOTES.md).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m['cpu']} ({m['cores']} cores) |",
        f"| kernel | {m['kernel']} |",
        f"| Python | {m['python']}, lark {m['lark']} |",
        f"| nft | {m['nft']} |",
        f"| iptables | {m['iptables']} |",
        f"| ferm | {m['ferm']} |",
        f"| hyperfine | {m['hyperfine']} |",
        f"| PYTHONDONTWRITEBYTECODE | {m['PYTHONDONTWRITEBYTECODE'] or '(unset)'} |",
        "",
        "## Goals (issue #7)",
        "",
        "| goal | measured | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {g} | {v} | {'met' if ok else 'NOT met'} |" for g, v, ok in goals(data)]
    lines += [
        "",
        "## Compile time against network count",
        "",
        "Dual-stack networks from `bench/generate.py` (half NAT, half routed). *CLI* is the time",
        "of `netc compile -t TARGET FILE` in a fresh process (start-up included, netc's .pyc "
        "files up to date, as installed); *front* is",
        "read + parse + build + check + lower inside one process, *emit* the target's printer.",
        "",
        "| networks | nft rules | iptables rules | ip6tables rules | CLI nft | CLI iptables | "
        "CLI ip6tables | front | emit nft | µs per network (CLI nft) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        c = comp[str(n)]
        lines.append(
            f"| {n:,} | {c['rules']['nft']:,} | {c['rules']['iptables']:,} | "
            f"{c['rules']['ip6tables']:,} | {ms(c['cli_s']['nft'])} | "
            f"{ms(c['cli_s']['iptables'])} | {ms(c['cli_s']['ip6tables'])} | "
            f"{ms(c['front_s'])} | {ms(c['emit_s']['nft'])} | "
            f"{c['cli_s']['nft'] / n * 1e6:,.0f} |"
        )
    st = comp["stages"]
    lines += [
        "",
        f"Where the time goes at {st['n']:,} networks (one process): "
        + ", ".join(f"{k} {ms(v)}" for k, v in st["stages_s"].items())
        + ", emit "
        + ", ".join(f"{t} {ms(v)}" for t, v in st["emit_s"].items())
        + f"; importing the compiler {ms(st['import_s'])}.",
        "",
        f"Growth: {growth_sentence(data)}",
        "",
        "![compile time against network count](compile.svg)",
        "",
        "## Peak memory",
        "",
        "| networks | peak RSS (compile + emit all three targets) | tracemalloc peak |",
        "|---:|---:|---:|",
    ]
    for n in sizes:
        c = comp[str(n)]
        lines.append(
            f"| {n:,} | {c['maxrss_kib'] / 1024:,.1f} MiB | "
            f"{c['tracemalloc_peak_b'] / 2**20:,.1f} MiB |"
        )
    lines += ["", "## Loading: one `nft -f` against rule by rule", ""]
    load = data["load"]
    if "skipped" in load:
        lines.append(f"Not measured: {load['skipped']}.")
    else:
        lines += [
            "In a scratch network namespace. *Rule by rule* runs one `nft` process per table, "
            "chain and rule, as libvirt does (`nft add rule …`); where it says *estimated*, a "
            "sample was timed on an empty and on a full table and the total extrapolated "
            "assuming the per-process cost grows linearly between the two.",
            "",
            "| networks | nft commands | one `nft -f` | rule by rule | how | speed-up |",
            "|---:|---:|---:|---:|---|---:|",
        ]
        for n in sizes:
            r = load[str(n)]
            each = r["rule_by_rule"]
            how = "measured" if each["measured"] == "all" else f"estimated ({each['measured']})"
            if "total_low_s" in each:
                how += f", bounds {ms(each['total_low_s'])} – {ms(each['total_high_s'])}"
            lines.append(
                f"| {n:,} | {each['commands']:,} | {ms(r['nft_f_s'])} | {ms(each['total_s'])} | "
                f"{how} | {each['total_s'] / r['nft_f_s']:,.0f}× |"
            )
    lines += ["", "## Rules a packet traverses", ""]
    trav = data["traversal"]
    method = next(iter(trav.values()))["method"]
    lines += [
        f"Counted with the `{method}` counter (see `bench/traverse.py`): a new TCP connection "
        "from a guest of network 0 and of the last NAT network, forwarded out on eth0.",
        "",
        "| networks | nft: first | nft: last | iptables: first | iptables: last |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        t = trav[str(n)]
        lines.append(
            f"| {n:,} | {t['first']['nft']} | {t['last']['nft']} | {t['first']['iptables']} | "
            f"{t['last']['iptables']} |"
        )
    lines += ["", "## Verification (netc.parity)", ""]
    ver = data["verify"]
    if "skipped" in ver:
        lines.append(f"Not measured: {ver['skipped']}.")
    else:
        lines += [
            "| networks | parse both sides | prove equivalent | equivalent | regions |",
            "|---:|---:|---:|---|---:|",
        ]
        for n in sizes:
            v = ver[str(n)]
            if "skipped" in v:
                lines.append(f"| {n:,} | – | – | not run: {v['skipped']} | – |")
            else:
                lines.append(
                    f"| {n:,} | {ms(v['parse_s'])} | {ms(v['verify_s'])} | {v['equivalent']} | "
                    f"{v['regions']:,} |"
                )
    lines += ["", "## Start-up", ""]
    su = data["startup"]
    lines += [
        f"Medians of {data['startup_runs']} runs ({su['tool']}). Parser options are measured "
        "as a probe that builds the parser and parses `examples/default.net`. Standalone "
        f"modules: {su['standalone_bytes']['plain']:,} bytes plain, "
        f"{su['standalone_bytes']['compressed']:,} bytes with `-c`.",
        "",
    ]
    modes = [k for k in su if k not in ("standalone_bytes", "tool")]
    lines += ["| | " + " | ".join(modes) + " |", "|---|" + "---:|" * len(modes)]
    for probe in su[modes[0]]:
        lines.append(f"| {probe} | " + " | ".join(ms(su[mode][probe]) for mode in modes) + " |")
    lines.append(
        "| **netc compile ÷ import lark** | "
        + " | ".join(
            f"**{su[mode]['netc compile default.net'] / su[mode][IMPORT_LARK]:.2f}×**"
            for mode in modes
        )
        + " |"
    )
    lines += ["", "## Peers: compile time for the same number of rules", ""]
    lines += peer_tables(data)
    peers = data["peers"]
    for peer in ("ferm", "aerleon"):
        if "skipped" in peers[peer]:
            lines += ["", f"{peer}: not measured: {peers[peer]['skipped']}."]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def per_rule_ratio(theirs: float, n: int, mine: float, my_rules: int) -> float:
    """A peer's time per rule over netc's: above 1, netc is faster per rule."""
    return (theirs / n) / (mine / my_rules)


def peer_tables(data: dict) -> list[str]:
    peers, counts = data["peers"], data["peer_counts"]
    ferm, aerleon, ours = peers["ferm"], peers["aerleon"], peers["netc_ruleset"]

    def row(label: str, n: int, theirs: dict, mine: dict, show) -> str:
        """One line of the table: `theirs` maps ferm/speedway/nftables to a time (None: not
        measured) for `n` rules, `mine` maps iptables/nft to netc's (time, rules)."""

        def peer(name: str) -> str:
            return "–" if theirs[name] is None else show(theirs[name], n)

        def versus(name: str, target: str) -> str:
            if theirs[name] is None:
                return "–"
            return f"{per_rule_ratio(theirs[name], n, *mine[target]):.2f}"

        cells = [label, peer("ferm"), show(*mine["iptables"], True), versus("ferm", "iptables")]
        cells += [peer("speedway"), versus("speedway", "iptables"), peer("nftables")]
        cells += [show(*mine["nft"], True), versus("nftables", "nft")]
        return "| " + " | ".join(cells) + " |"

    def measured(n: str) -> tuple[dict, dict]:
        theirs = {"ferm": None if "skipped" in ferm else ferm[n]}
        for generator in ("speedway", "nftables"):
            theirs[generator] = None if "skipped" in aerleon else aerleon[n][generator]
        mine = {t: (ours[n]["cli_s"][t], ours[n]["rules"][t]) for t in ("iptables", "nft")}
        return theirs, mine

    def total(seconds: float, rules: int, netc: bool = False) -> str:
        return ms(seconds) + (f" ({rules:,} rules)" if netc else "")

    def per_rule(seconds: float, rules: int, netc: bool = False) -> str:
        return f"{seconds / rules * 1e6:.1f} µs"

    lines = [
        "Every tool gets the same ruleset: N IPv4 forward accepts, each from the guests' "
        "10.0.0.0/16 to its own /32 (`bench/peers.py`); netc writes it as one routed network "
        "with N `allow to` statements, and its output adds the network's own few rules (counted). "
        f"Every command ran {data.get('peer_reps', data['reps'])} times, all of them in turn "
        "within each round (so a change in the machine's load weighs on all alike), and the "
        "figure is the median. "
        "Times are whole processes, start-up included; a ratio is the peer's time per rule over "
        "netc's, so above 1 means netc is faster per rule. *Per extra rule* is the growth "
        "between the two sizes, (t(N₂) − t(N₁)) ÷ (N₂ − N₁), which leaves start-up out.",
        "",
        "| N rules | ferm | netc (iptables) | ferm ÷ netc | Aerleon speedway | ÷ netc | "
        "Aerleon nftables | netc (nft) | ÷ netc |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in counts:
        lines.append(row(f"{n:,}", n, *measured(str(n)), total))
    if len(counts) >= 2:  # the growth between the smallest and the largest size
        lo_theirs, lo_mine = measured(str(counts[0]))
        hi_theirs, hi_mine = measured(str(counts[-1]))
        theirs = {
            k: None if hi_theirs[k] is None else hi_theirs[k] - lo_theirs[k] for k in hi_theirs
        }
        mine = {t: (hi_mine[t][0] - lo_mine[t][0], hi_mine[t][1] - lo_mine[t][1]) for t in hi_mine}
        lines.append(row("per extra rule", counts[-1] - counts[0], theirs, mine, per_rule))
    lines += [
        "",
        "The same rule counts from netc's generated networks (about 11.5 iptables rules per "
        "dual-stack network: host services, forwarding, NAT), against ferm's N accepts:",
        "",
        "| N rules | networks | netc (iptables) | ferm ÷ netc per rule |",
        "|---:|---:|---:|---:|",
    ]
    for n in counts:
        nets = peers["netc"][str(n)]
        t, rules = nets["cli_s"]["iptables"], nets["rules"]["iptables"]
        theirs = "–" if "skipped" in ferm else f"{per_rule_ratio(ferm[str(n)], n, t, rules):.2f}"
        lines.append(f"| {n:,} | {nets['networks']:,} | {ms(t)} ({rules:,} rules) | {theirs} |")
    return lines


IMPORT_LARK = "python -c 'import lark'"
PEER_REPS = 7  # the ratio to ferm is close to 1 on this machine: more runs, taken in turn
CLOCK_WORDS = {
    "cpu": "CPU time (user + system, of the process and its children): the machine was shared, "
    "so wall time would measure the neighbours",
    "wall": "wall-clock time",
}


def goals(data: dict) -> list[tuple[str, str, bool]]:
    comp, su, out = data["compile"], data["startup"], []
    for mode in (k for k in su if k not in ("standalone_bytes", "tool")):
        ratio = su[mode]["netc compile default.net"] / su[mode][IMPORT_LARK]
        out.append((f"start-up ≤ 1.5 × `import lark`, {mode}", f"{ratio:.2f}×", ratio <= 1.5))
    for n, limit in ((1000, 1.0), (10000, 10.0)):
        if str(n) in comp:
            t = comp[str(n)]["cli_s"]["nft"]
            out.append((f"{n:,} networks → nft ≤ {limit:g} s", ms(t), t <= limit))
    lin = linearity(data)
    if lin is not None:
        out.append(("linear growth (time per network, largest ÷ 1,000)", f"{lin:.2f}", lin <= 1.5))
    load = data["load"]
    if "skipped" not in load and "1000" in load:
        r = load["1000"]
        speedup = r["rule_by_rule"]["total_s"] / r["nft_f_s"]
        out.append(
            (
                "1,000 networks: one `nft -f` ≥ 100 × rule by rule",
                f"{speedup:,.0f}×",
                speedup >= 100,
            )
        )
    peers = data["peers"]
    if "skipped" not in peers["ferm"] and data["peer_counts"]:
        n = max(data["peer_counts"])
        ours = peers["netc_ruleset"][str(n)]
        ratio = per_rule_ratio(
            peers["ferm"][str(n)], n, ours["cli_s"]["iptables"], ours["rules"]["iptables"]
        )
        out.append(
            (
                f"compile time per rule ≤ ferm's ({n:,} forward accepts, whole process)",
                f"ferm ÷ netc = {ratio:.2f}",
                ratio >= 1,
            )
        )
    return out


def linearity(data: dict) -> float | None:
    """Time per network at the largest size over time per network at 1,000 (1.0 = linear)."""
    comp, biggest = data["compile"], max(data["sizes"])
    if biggest <= 1000 or "1000" not in comp:
        return None
    per = {n: comp[str(n)]["front_s"] + comp[str(n)]["emit_s"]["nft"] for n in (1000, biggest)}
    return (per[biggest] / biggest) / (per[1000] / 1000)


def growth_sentence(data: dict) -> str:
    comp, sizes = data["compile"], data["sizes"]
    steps = []
    for a, b in zip(sizes, sizes[1:]):
        ta = comp[str(a)]["front_s"] + comp[str(a)]["emit_s"]["nft"]
        tb = comp[str(b)]["front_s"] + comp[str(b)]["emit_s"]["nft"]
        steps.append(f"{a:,}→{b:,}: ×{tb / ta:.1f}")
    return (
        "in-process compile time to nft (front + emit) grows "
        + ", ".join(steps)
        + f" for each ×10 in networks (×10 is linear); {linearity_text(data)}"
    )


def linearity_text(data: dict) -> str:
    lin = linearity(data)
    if lin is None:
        return "the largest size was not run"
    return f"time per network at {max(data['sizes']):,} is {lin:.2f}× that at 1,000"


def write_plot(out: Path, data: dict) -> None:
    comp, sizes = data["compile"], data["sizes"]
    series = [(f"CLI {t}", [(n, comp[str(n)]["cli_s"][t]) for n in sizes], False) for t in TARGETS]
    series.append(
        ("front end", [(n, comp[str(n)]["front_s"]) for n in sizes], False),
    )
    ref = comp[str(sizes[-1])]["front_s"] + comp[str(sizes[-1])]["emit_s"]["nft"]
    series.append(("linear", [(n, ref * n / sizes[-1]) for n in sizes], True))
    out.write_text(
        loglog("netc compile time", "networks", "seconds (median)", series), encoding="utf-8"
    )


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="up to 1,000 networks, 3 runs")
    ap.add_argument("--sizes", type=int, nargs="+", help="network counts (default 1 … 10,000)")
    ap.add_argument("--reps", type=int, help="runs per figure (default 5, quick 3)")
    ap.add_argument("--out", default=str(HERE), help="where RESULTS.md etc. go (default bench/)")
    ap.add_argument("--parity-python", help="interpreter with netc.parity, if this one lacks it")
    ap.add_argument("--aerleon", default=shutil.which("aclgen"), help="aerleon's aclgen")
    ap.add_argument("--verify-max", type=int, help="largest network count to verify")
    ap.add_argument("--verify-timeout", type=float, default=600.0)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="default: cpu")
    ap.add_argument("--report-only", metavar="JSON", help="re-render RESULTS.md from results.json")
    args = ap.parse_args(argv)
    if args.report_only:
        data = json.loads(Path(args.report_only).read_text(encoding="utf-8"))
        out = Path(args.out)
        write_plot(out / "compile.svg", data)
        write_report(out / "RESULTS.md", data)
        return 0
    CLOCK[0] = args.clock
    quick = args.quick
    sizes = args.sizes or ([1, 10, 100, 1000] if quick else [1, 10, 100, 1000, 10000])
    reps = args.reps or (3 if quick else 5)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parity = sys.executable
    if not has_parity(parity) and args.parity_python and has_parity(args.parity_python):
        parity = args.parity_python
    data: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "quick": quick,
        "sizes": sizes,
        "reps": reps,
        "clock": args.clock,
        "load_average": os.getloadavg(),
        "machine": machine(),
    }
    with tempfile.TemporaryDirectory(prefix="netc-bench-") as tmp:
        work = Path(tmp)
        for n in sizes:
            (work / f"n{n}.net").write_text(networks(n), encoding="utf-8")
        # Every CLI figure (compile, peers) runs with netc's .pyc files up to date, as an
        # installed netc has them; the start-up table measures both states itself.
        write_bytecode(work)
        data["compile"] = compile_figures(work, sizes, reps)
        data["load"] = load_figures(
            work, sizes, reps, full_limit=10 if quick else 100, sample=100 if quick else 200
        )
        data["traversal"] = traversal_figures(work, sizes, parity)
        if has_parity(parity):
            limit = args.verify_max if args.verify_max is not None else 1000
            data["verify"] = verify_figures(work, sizes, parity, limit, args.verify_timeout)
        else:
            data["verify"] = {"skipped": "netc.parity is not available (see --parity-python)"}
        data["startup_runs"] = 20 if quick else 40
        data["startup"] = startup_figures(work, data["startup_runs"])
        # peers get as many rules as netc emits for iptables at 100 and 1,000 networks
        peer_sizes = [n for n in sizes if 100 <= n <= 1000] or sizes[-1:]
        counts = sorted({data["compile"][n]["rules"]["iptables"] for n in peer_sizes})
        data["peer_counts"] = counts
        data["peer_reps"] = max(reps, PEER_REPS)
        data["peers"] = peer_figures(work, counts, data["peer_reps"], args.aerleon)
        data["peers"]["netc"] = {}
        for n in sizes:
            c = data["compile"][n]
            if c["rules"]["iptables"] in counts:
                data["peers"]["netc"][c["rules"]["iptables"]] = {
                    "networks": n,
                    "rules": c["rules"],
                    "cli_s": c["cli_s"],
                }
    data = json.loads(json.dumps(data))  # int keys → str, as read back from results.json
    (out / "results.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    write_plot(out / "compile.svg", data)
    write_report(out / "RESULTS.md", data)
    log(f"wrote {out / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
