"""Names that reach emitted text cannot change what the emitted script does.

Hostile names (quotes, spaces, semicolons, braces, '#', shell syntax, wildcards, option-like
names, non-ASCII, control characters, kernel-reserved names) are rejected with a diagnostic that
points at the name. Accepted edge cases (nft and iptables keywords as network, bridge and uplink
names) are loaded into a kernel and listed back: after renaming them to plain names, the listing
is identical to that of the same network with plain names, so the keywords added, removed or
changed no rule and no chain.
"""

from __future__ import annotations

import contextlib
import re
import subprocess

import pytest

from cli_run import assert_clean_outcome, run_cli
from kernel_support import nsrun, require_kernel, unique_name

HOSTILE_INTERFACES = [
    "vir br0",
    "vir'br0",
    "virbr0;flush",
    "vir{br0",
    "vir}br0",
    "vir#br0",
    "$(reboot)",
    "`id`",
    "virbr*",
    "virbr+",
    "-j",
    "!",
    "v\u00edrbr0",
    "vir\tbr0",
    "\x1b[2Jvirbr0",
    "vir\u202ebr0",
    "lo",
    "all",
    "default",
    "",
    "abcdefghijklmnop",
    "..",
    ".hidden",
    "a/b",
    "a:b",
    "a\\b",
    "a,b",
    "a=b",
]
HOSTILE_NETWORKS = [
    "my net",
    "a;b",
    "a{b",
    "1abc",
    "a.b",
    "a/b",
    "\u00e4",
    "a#b",
    "-a",
    "_a",
    "a*",
    "",
    "n" * 65,
    "a\x1bb",
    "a'b",
]
HOSTILE_PATHS = ["/srv/tftp boot", "$(reboot)", "a;b", "a'b", "\u00e9t\u00e9", "a#b", "a\tb"]
HOSTILE_HOSTNAMES = ["evil host", "a;reboot", "-a", "a..b", "a_b", "x" * 64, "\u00e9"]


def _file(tmp_path, text: str):
    path = tmp_path / "hostile.net"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _rejected_at(tmp_path, capsys, text: str, line: int, column: int) -> str:
    path = _file(tmp_path, text)
    for argv in (["check", path], ["compile", path], ["compile", path, "-t", "iptables"]):
        run = run_cli(argv, capsys)
        assert run.code == 2 and run.out == "", run.err
        assert_clean_outcome(run)
        first = run.err.splitlines()[0]
        assert first.startswith(f"{path}:{line}:{column}: error: "), run.err
        assert "\x1b" not in run.err and "\u202e" not in run.err, "raw control text echoed"
    return run.err


@pytest.mark.parametrize("name", HOSTILE_INTERFACES, ids=repr)
def test_hostile_bridge_is_rejected(name, tmp_path, capsys):
    _rejected_at(tmp_path, capsys, f'network n {{\n    bridge "{name}"\n}}\n', 2, 12)


@pytest.mark.parametrize("name", HOSTILE_INTERFACES, ids=repr)
def test_hostile_uplink_is_rejected(name, tmp_path, capsys):
    text = f'network n {{\n    bridge virbr0\n    forward nat {{ dev "{name}" }}\n}}\n'
    _rejected_at(tmp_path, capsys, text, 3, 23)


@pytest.mark.parametrize("name", HOSTILE_NETWORKS, ids=repr)
def test_hostile_network_name_is_rejected(name, tmp_path, capsys):
    _rejected_at(tmp_path, capsys, f'network "{name}" {{\n    bridge virbr0\n}}\n', 1, 9)


@pytest.mark.parametrize("path", HOSTILE_PATHS, ids=repr)
def test_hostile_tftp_path_is_rejected(path, tmp_path, capsys):
    text = f'network n {{\n    bridge virbr0\n    ip 10.0.0.1/24 {{ tftp "{path}" }}\n}}\n'
    _rejected_at(tmp_path, capsys, text, 3, 27)


@pytest.mark.parametrize("name", HOSTILE_HOSTNAMES, ids=repr)
def test_hostile_dhcp_host_name_is_rejected(name, tmp_path, capsys):
    text = (
        f"network n {{\n    bridge virbr0\n    ip 10.0.0.1/24 {{\n"
        f'        host 10.0.0.5 name "{name}"\n    }}\n}}\n'
    )
    _rejected_at(tmp_path, capsys, text, 4, 28)


def test_a_name_cannot_span_lines(tmp_path, capsys):
    """A newline can never be part of a name: a quoted string ends at its line."""
    err = _rejected_at(tmp_path, capsys, 'network n {\n    bridge "vir\nbr0"\n}\n', 2, 12)
    assert "unterminated quoted string" in err


# -- accepted edge cases, checked in a kernel -------------------------------------------------

PLAIN = ("plainnet", "plainbr", "plainup")
EDGE = [
    ("accept", "drop", "reject"),
    ("table", "chain", "flush"),
    ("ip", "ip6", "inet"),
    ("jump", "goto", "return"),
    ("counter", "map", "vmap"),
    ("delete", "add", "insert"),
    ("masquerade", "snat", "dnat"),
    ("iifname", "oifname", "meta"),
    ("policy", "hook", "priority"),
    ("a-b", "0abc.1", "x_y-z"),
    ("n" * 64, "abcdefghijklmno", "eth0.100"),
    ("ACCEPT", "DROP", "RETURN"),
    ("NETC_FWX", "INPUT", "FORWARD"),
]


def _network(name: str, bridge: str, uplink: str, mode: str) -> str:
    options = f"dev {uplink} ports 2000 - 3000 ipv6 nat" if mode == "nat" else f"dev {uplink}"
    return (
        f'network "{name}" {{\n    bridge "{bridge}"\n    forward {mode} {{ {options} }}\n'
        "    ip 10.0.0.1/24 { dhcp 10.0.0.2 - 10.0.0.9 }\n"
        "    ip 2001:db8::1/64 { dhcp 2001:db8::2 - 2001:db8::9 }\n}\n"
    )


@contextlib.contextmanager
def _namespace():
    name = unique_name("inj")
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


_LISTERS = {
    "nft": (["nft", "-f", "-"], ["nft", "list", "ruleset"]),
    "iptables": (["iptables-restore", "--noflush"], ["iptables-save"]),
    "ip6tables": (["ip6tables-restore", "--noflush"], ["ip6tables-save"]),
}


def _loaded(text: str, target: str) -> str:
    load, listing = _LISTERS[target]
    with _namespace() as ns:
        nsrun(ns, *load, input=text)
        out = nsrun(ns, *listing)
    return "\n".join(line for line in out.splitlines() if not line.startswith("#"))


def _renamed(listing: str, names: tuple[str, str, str]) -> str:
    """Edge names back to plain ones, only where names stand: chain-name suffixes, quoted
    interface names (nft) and interface arguments (iptables)."""
    net, bridge, uplink = names
    pnet, pbridge, pup = PLAIN
    out = re.sub(
        rf"\b(fwd_in_|fwd_out_|host_in_|host_out_|nat_){re.escape(net)}(?=[_\s]|$)",
        rf"\g<1>{pnet}",
        listing,
        flags=re.M,
    )
    for old, new in ((bridge, pbridge), (uplink, pup)):
        out = out.replace(f'"{old}"', f'"{new}"')
        out = re.sub(rf"(?<=-[io] ){re.escape(old)}(?=\s|$)", new, out, flags=re.M)
    return out


@pytest.mark.kernel
@pytest.mark.parametrize("names", EDGE, ids=lambda n: n[0][:12])
@pytest.mark.parametrize("mode", ["nat", "route"])
def test_keyword_names_change_no_rule(names, mode, tmp_path, capsys):
    require_kernel()
    for target in ("nft", "iptables", "ip6tables"):
        listings = []
        for variant in (PLAIN, names):
            path = tmp_path / f"{variant[0][:20]}.net"
            path.write_text(_network(*variant, mode), encoding="utf-8")
            run = run_cli(["compile", str(path), "-t", target], capsys)
            assert run.code == 0, run.err
            listings.append(_loaded(run.out, target))
        plain, edge = listings
        assert plain.strip(), "nothing was loaded"
        assert _renamed(edge, names) == plain


@pytest.mark.kernel
def test_file_name_cannot_inject_commands(tmp_path, capsys):
    """The source file's name is printed in the header comment; a newline in it must not end
    the comment and turn the rest of the name into commands."""
    require_kernel()
    path = tmp_path / "x\nflush ruleset\n#.net"
    path.write_text(_network(*PLAIN, "nat"), encoding="utf-8")
    run = run_cli(["compile", str(path)], capsys)
    assert run.code == 0
    header, *rest = run.out.splitlines()
    assert header.startswith("# ") and "flush ruleset" not in "\n".join(rest)
    with _namespace() as ns:
        nsrun(ns, "nft", "add", "table", "inet", "keepme")
        nsrun(ns, "nft", "-f", "-", input=run.out)
        tables = nsrun(ns, "nft", "list", "tables")
    assert "table inet keepme" in tables and "table inet netc" in tables
