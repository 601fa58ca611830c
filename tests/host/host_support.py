"""Helpers and fixtures for host tests: run the CLI in-process against a scratch namespace.

Every kernel test acts inside namespaces created here and deleted afterwards; the state file
lives in a temporary directory and the config file is an empty temporary file, so nothing on the
machine (its namespace, /var/lib/netc, /etc/netc) is read or written.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from kernel_support import nsrun
from netc.cli import main

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
DEFAULT_NET = os.path.abspath(os.path.join(EXAMPLES, "default.net"))


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def isolated_config(tmp_path, monkeypatch):
    """An empty config file and a private state dir, for every host test."""
    config = tmp_path / "netc.conf"
    config.write_text("# empty: auto-detect\n")
    monkeypatch.setenv("NETC_CONFIG", str(config))
    monkeypatch.setenv("NETC_STATE_DIR", str(tmp_path / "state"))
    return config


@pytest.fixture
def netc(scratch_ns, isolated_config, capsys):
    """Run `netc ARGS... --netns <scratch>` in-process; returns code, stdout, stderr."""

    def run(*args: str) -> Outcome:
        code = main([*args, "--netns", scratch_ns])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    run.ns = scratch_ns  # type: ignore[attr-defined]
    return run


IPTABLES_TOOLS = ("iptables", "ip6tables")


def iptables_first_in_path(which: str, bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `iptables`, `iptables-save`, `iptables-restore` (and ip6tables') the `which` flavour
    (`nft` or `legacy`) by PATH, as on a host whose alternatives point there."""
    bin_dir.mkdir()
    for tool in IPTABLES_TOOLS:
        for verb in ("", "-save", "-restore"):
            (bin_dir / f"{tool}{verb}").symlink_to(f"/usr/sbin/{tool}-{which}{verb}")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


@pytest.fixture(params=["nft", "iptables-nft", "iptables-legacy"])
def flavour(request, tmp_path, monkeypatch) -> str:
    """nft, or netc's `iptables*` binaries pointed (PATH) at iptables-nft or iptables-legacy."""
    if request.param != "nft":
        iptables_first_in_path(
            request.param.removeprefix("iptables-"), tmp_path / "flavour-bin", monkeypatch
        )
    return request.param


def snapshot(ns: str) -> str:
    """Everything apply/down may touch, as text: rulesets, links, addresses, forwarding."""
    parts = [
        "## nft\n" + nsrun(ns, "nft", "-s", "list", "ruleset"),
        "## iptables\n" + _strip(nsrun(ns, "iptables-save")),
        "## ip6tables\n" + _strip(nsrun(ns, "ip6tables-save")),
        "## links\n" + nsrun(ns, "ip", "link"),
        "## addresses\n" + nsrun(ns, "ip", "addr"),
        "## forwarding\n"
        + nsrun(ns, "sysctl", "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"),
        "## bridge ports\n" + bridge_ports(ns),
    ]
    return "\n".join(parts)


def bridge_ports(ns: str) -> str:
    """One line per bridge port with its `isolated` flag (`ip link` does not show it)."""
    from pyroute2 import IPRoute

    lines = []
    with IPRoute(netns=ns) as ipr:
        links = ipr.get_links()
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in links}
        for link in links:
            master = link.get_attr("IFLA_MASTER")
            if master is None:
                continue
            data = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_SLAVE_DATA")
            flag = data.get_attr("IFLA_BRPORT_ISOLATED") if data is not None else None
            state = "on" if flag else "off"
            lines.append(f"{link.get_attr('IFLA_IFNAME')} master {names[master]} isolated {state}")
    return "".join(f"{line}\n" for line in sorted(lines))


def _strip(text: str) -> str:
    """iptables-save without its comment lines and counters."""
    import re

    return "".join(
        re.sub(r" \[\d+:\d+\]$", "", line) + "\n"
        for line in text.splitlines()
        if not line.startswith("#")
    )


def write(path, text: str) -> str:
    path.write_text(text)
    return str(path)


def load_iptables(ns: str, v4: str = "", v6: str = "") -> None:
    if v4:
        nsrun(ns, "iptables-restore", "--noflush", input=v4)
    if v6:
        nsrun(ns, "ip6tables-restore", "--noflush", input=v6)


def ip(ns: str, *args: str) -> None:
    subprocess.run(["ip", "-n", ns, *args], check=True, capture_output=True)


DOCKER_LIKE = """*filter
:FORWARD DROP [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
*nat
:DOCKER - [0:0]
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
COMMIT
"""

FOREIGN_NFT = """table inet foreign {
	set blocked {
		type ipv4_addr
		elements = { 203.0.113.9 }
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "eth9" accept
	}
	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr @blocked drop
	}
}
"""


CORPUS = os.environ.get(
    "NETC_LIBVIRT_CORPUS", os.path.join(os.path.dirname(__file__), "..", "libvirt", "corpus")
)


def corpus_commands(name: str) -> list[list[str]]:
    """A corpus file's commands: lines continued with a trailing backslash."""
    with open(os.path.join(CORPUS, name), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    commands, current = [], []
    for line in lines:
        current += shlex.split(line.removesuffix("\\"))
        if not line.endswith("\\"):
            if current:
                commands.append(current)
            current = []
    return [c for c in commands if "--list-rules" not in c]


def kill_dnsmasq(ns: str) -> None:
    """What a reboot does to the daemons netc started in the namespace: gone, files left."""
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    for pid in pids.split():
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm == "dnsmasq":
            os.kill(int(pid), signal.SIGKILL)
            while os.path.exists(f"/proc/{pid}"):
                time.sleep(0.02)
