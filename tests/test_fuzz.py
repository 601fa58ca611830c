"""Fuzzing the CLI: whatever the input, `netc` succeeds or exits 2 with a located diagnostic.

Inputs come from the grammar (`hypothesis.extra.lark.from_lark`), from mutations of good
networks (tokens deleted, duplicated, swapped, the text truncated, random bytes inserted), from a
generator of plausible networks with random options, and from arbitrary text and bytes. The CLI
runs in-process. Exit 3 (internal error) or an exception is a failure. Successful nft and
iptables output from the network generator is loaded into a kernel (check mode, in a scratch
namespace) so "succeeds" also means "the kernel accepts what was printed".

Runs are deterministic (`derandomize=True`) and small enough for the whole module to take
seconds; raise NETC_FUZZ_EXAMPLES for a longer local hunt.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

from cli_run import assert_clean_outcome, run_cli
from kernel_support import nsrun

EXAMPLES = int(os.environ.get("NETC_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)

ROOT = Path(__file__).resolve().parent.parent
GOOD = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.net"))] + [
    # a few more shapes than examples/ ships, so mutations reach every statement
    "network lab {\n  bridge virbr5\n  forward route { dev eth0 inbound stateful }\n"
    "  ip 10.5.0.1/24 { dhcp 10.5.0.10 - 10.5.0.20 host 10.5.0.7 mac 52:54:00:aa:bb:cc }\n"
    "  ip 2001:db8:5::1/64 { dhcp 2001:db8:5::10 - 2001:db8:5::20 }\n}\n",
    "network dual {\n  bridge virbr6\n  forward nat { address 198.51.100.1 - 198.51.100.9 "
    "ports 2000 - 3000 ipv6 nat }\n  dns off\n  ip 10.6.0.1/24 { tftp /srv/tftp bootp pxe.0 "
    "server 10.6.0.1 }\n  ip 2001:db8:6::1/64\n}\nnetwork iso {\n  bridge virbr7\n"
    "  forward isolated\n  ipv6 on\n  ip 10.7.0.1/24\n}\n",
]


def _check(text: str | bytes, capsys, tmp_path, *extra: str):
    path = tmp_path / "fuzz.net"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    runs = [run_cli(["check", "-q", str(path)], capsys)]
    runs.append(run_cli(["compile", str(path), *extra], capsys))
    for run in runs:
        assert_clean_outcome(run)
    assert runs[0].code == runs[1].code, "check and compile disagree"
    return runs[1]


# -- strings from the grammar ------------------------------------------------------------------

_VALUES = st.sampled_from(
    [
        "virbr0",
        "eth0",
        "default",
        "10.0.0.1/24",
        "192.168.122.1/24",
        "2001:db8::1/64",
        "10.0.0.2",
        "10.0.0.9",
        "10.0.0.2-10.0.0.9",
        "1024",
        "65535",
        "1024-65535",
        "52:54:00:12:34:56",
        "/srv/tftp",
        "pxe.0",
        "0",
        "-",
        "x",
    ]
)
_GRAMMAR_TEXT = resources.files("netc.grammar").joinpath("netc.lark").read_text(encoding="utf-8")
_HYPOTHESIS_LARK = Lark(_GRAMMAR_TEXT, parser="lalr", lexer="basic")
GRAMMAR_STRINGS = from_lark(
    _HYPOTHESIS_LARK,
    explicit={
        "WORD": _VALUES | st.text(st.characters(blacklist_characters=' \t\n\r{}#;"'), min_size=1),
        "STRING": _VALUES.map(lambda v: f'"{v}"'),
        # from_lark inserts %ignore tokens, so give it plain ones
        "WS": st.sampled_from([" ", "\n", "\t"]),
        "COMMENT": st.just("# c\n"),
    },
)


@FUZZ
@given(text=GRAMMAR_STRINGS)
def test_grammar_strings(text, capsys, tmp_path):
    _check(text, capsys, tmp_path)


# -- mutations of good networks ----------------------------------------------------------------

_TOKEN = re.compile(r'\s+|[{}]|"[^"\n]*"|[^\s{}]+')


@st.composite
def mutated(draw) -> str | bytes:
    text = draw(st.sampled_from(GOOD))
    tokens = _TOKEN.findall(text)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "truncate", "replace"]))
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        j = draw(st.integers(0, len(tokens) - 1))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "truncate":
            tokens = tokens[:i]
        else:
            tokens[i] = draw(_VALUES | st.sampled_from(["{", "}", "nat", "ip", "network", ";"]))
    out = "".join(tokens)
    if draw(st.booleans()):
        raw = bytearray(out.encode())
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(raw)))
            raw[at:at] = draw(st.binary(min_size=1, max_size=4))
        return bytes(raw)
    return out


@FUZZ
@given(text=mutated())
def test_mutated_examples(text, capsys, tmp_path):
    _check(text, capsys, tmp_path)


@pytest.mark.parametrize("index", range(len(GOOD)))
def test_unmutated_examples_compile(index, capsys, tmp_path):
    """The seeds themselves are good, so mutations start from valid input."""
    assert _check(GOOD[index], capsys, tmp_path).code == 0


# -- arbitrary text ----------------------------------------------------------------------------


@FUZZ
@given(text=st.text(max_size=300) | st.binary(max_size=300))
def test_arbitrary_input(text, capsys, tmp_path):
    _check(text, capsys, tmp_path)


@FUZZ
@given(
    head=st.sampled_from(GOOD),
    junk=st.text(
        st.sampled_from('{}"#;-/\\\n \tnetworkbridgeip0123456789.:\u202e\x0b'), max_size=40
    ),
)
def test_junk_inside_good_input(head, junk, capsys, tmp_path):
    at = len(head) // 2
    _check(head[:at] + junk + head[at:], capsys, tmp_path)


# -- plausible networks, loaded into a kernel when accepted --------------------------------------

_NAMES = st.sampled_from(
    [
        "default",
        "lab",
        "accept",
        "drop",
        "table",
        "chain",
        "ip",
        "ip6",
        "inet",
        "jump",
        "a-b",
        "x_1",
    ]
)


@st.composite
def plausible(draw) -> str:
    """Networks that are often valid: each one has its own bridge and /24 unless the draw says
    otherwise, so accepted outputs cover many option combinations."""
    nets = []
    for n in range(draw(st.integers(1, 3))):
        name = draw(_NAMES) + ("" if n == 0 else str(n))
        mode = draw(st.sampled_from(["nat", "route", "open", "isolated", None]))
        lines = [f"network {name} {{", f"  bridge br{n}"]
        if mode:
            opts = []
            if mode in ("nat", "route") and draw(st.booleans()):
                opts.append(f"dev {draw(st.sampled_from(['eth0', 'wan0', f'br{n}']))}")
            if mode == "nat" and draw(st.booleans()):
                lo, hi = sorted(draw(st.lists(st.integers(0, 70000), min_size=2, max_size=2)))
                opts.append(f"ports {lo} - {hi}")
            if mode == "nat" and draw(st.booleans()):
                opts.append("address 198.51.100.1 - 198.51.100.20")
            if mode == "nat" and draw(st.booleans()):
                opts.append("ipv6 nat")
            if mode == "route" and draw(st.booleans()):
                opts.append(f"inbound {draw(st.sampled_from(['stateful', 'stateless']))}")
            lines.append(f"  forward {mode}" + (f" {{ {' '.join(opts)} }}" if opts else ""))
        if draw(st.booleans()):
            lines.append(f"  dns {draw(st.sampled_from(['on', 'off']))}")
        third = draw(st.integers(0, 3)) + 10 * n
        if draw(st.integers(0, 4)):
            body = ""
            if draw(st.booleans()):
                body = f"{{ dhcp 10.{third}.0.2 - 10.{third}.0.{draw(st.integers(1, 255))} }}"
            lines.append(
                f"  ip 10.{third}.0.1/{draw(st.sampled_from([24, 24, 16, 30, 31]))} {body}"
            )
        if draw(st.booleans()):
            lines.append(f"  ip 2001:db8:{third}::1/64")
        lines.append("}")
        nets.append("\n".join(lines))
    return "\n".join(nets) + "\n"


_ACCEPTED: dict[str, list[str]] = {"nft": [], "iptables": [], "ip6tables": []}


@FUZZ
@given(text=plausible(), target=st.sampled_from(["nft", "iptables", "ip6tables"]))
def test_plausible_networks(text, target, capsys, tmp_path):
    run = _check(text, capsys, tmp_path, "-t", target)
    if run.code == 0 and len(_ACCEPTED[target]) < 60:
        _ACCEPTED[target].append(run.out)


_LOADERS = {
    "nft": ["nft", "-c", "-f", "-"],
    "iptables": ["iptables-restore", "--test", "--noflush"],
    "ip6tables": ["ip6tables-restore", "--test", "--noflush"],
}


@pytest.mark.kernel
def test_accepted_outputs_load_in_a_kernel(scratch_ns):
    """Every output the plausible-network fuzzer saw accepted (up to 60 per target) is accepted
    by the kernel too. Runs after test_plausible_networks in the same session."""
    if not any(_ACCEPTED.values()):
        pytest.skip("run together with test_plausible_networks")
    assert len(_ACCEPTED["nft"]) >= 5, "the generator hardly ever produces valid networks"
    for target, outputs in _ACCEPTED.items():
        for text in outputs:
            nsrun(scratch_ns, *_LOADERS[target], input=text)


@pytest.mark.kernel
def test_accepted_grammar_outputs_load(scratch_ns, capsys, tmp_path):
    """Inputs drawn from the grammar that compile at all are loaded too (a bounded sample)."""
    loaded = []

    @settings(FUZZ, max_examples=min(EXAMPLES, 80))
    @given(text=GRAMMAR_STRINGS)
    def collect(text):
        run = _check(text, capsys, tmp_path)
        if run.code == 0:
            loaded.append(run.out)

    collect()
    for text in loaded:
        nsrun(scratch_ns, "nft", "-c", "-f", "-", input=text)


# -- the overlap sweep agrees with comparing every pair ----------------------------------------


@settings(FUZZ, max_examples=min(EXAMPLES, 50))
@given(
    blocks=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 255), st.sampled_from([16, 20, 24, 26])),
        min_size=1,
        max_size=12,
    )
)
def test_overlap_sweep_matches_all_pairs(blocks):
    import ipaddress

    from netc.pipeline import compile_sources

    lines = []
    for i, (a, b, prefix) in enumerate(blocks):
        net = ipaddress.ip_network(f"10.{a}.{b}.0/{prefix}", strict=False)
        lines.append(f"network n{i} {{ bridge br{i} ip {net.network_address + 1}/{prefix} }}")
    text = "\n".join(lines) + "\n"
    nets = [ipaddress.ip_network(f"10.{a}.{b}.0/{p}", strict=False) for a, b, p in blocks]
    # each subnet overlapping an earlier one: reported once, against the first it overlaps
    expected = [
        f"subnet {nets[i]} overlaps {next(n for n in nets[:i] if nets[i].overlaps(n))}"
        for i in range(len(nets))
        if any(nets[i].overlaps(n) for n in nets[:i])
    ]
    try:
        compile_sources([("o.net", text)])
        found = []
    except Exception as err:  # NetcError
        found = [d.message.split(" (")[0] for d in err.diagnostics if "overlaps" in d.message]
    assert found == expected
