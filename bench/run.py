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
from report import write_plot, write_report  # noqa: E402

TARGETS = ("nft", "iptables", "ip6tables")
DEFAULT_NET = ROOT / "examples" / "default.net"
PEER_REPS = 7  # the ratio to ferm is close to 1 on this machine: more runs, taken in turn


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
