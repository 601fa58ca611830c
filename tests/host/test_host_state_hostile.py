"""A damaged or hand-edited state file, a bridge name reused by someone else, a non-root user:
netc refuses with a message and a way out, and never acts on what it cannot trust."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from host_support import DEFAULT_NET, snapshot
from kernel_support import nsrun


def _state_file(isolated_config: Path, ns: str) -> Path:
    return isolated_config.parent / "state" / f"state@{ns}.json"


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


CORRUPTIONS = {
    "no backend": lambda d: d.pop("backend"),
    "backend pf": lambda d: d.update(backend="pf"),
    "foreign sysctl": lambda d: d.update(sysctls={"kernel.panic": "1"}),
    "bad sysctl value": lambda d: d.update(sysctls={"net.ipv4.ip_forward": "yes please"}),
    "unknown network key": lambda d: d["networks"][0].update(colour="blue"),
    "network name injection": lambda d: d["networks"][0].update(name="x; flush ruleset"),
    "bridge not text": lambda d: d["networks"][0].update(bridge=7),
    "address not an address": lambda d: d["networks"][0].update(addresses=["banana"]),
    "networks not a list": lambda d: d.update(networks={"a": 1}),
    "sources not an object": lambda d: d.update(sources=["x"]),
    "version 99": lambda d: d.update(version=99),
    "not an object": lambda d: d.clear() or d.update({"version": [1]}),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_damaged_state_is_refused_with_a_way_out(netc, isolated_config, name):
    assert netc("apply", DEFAULT_NET).code == 0
    path = _state_file(isolated_config, netc.ns)
    _edit(path, CORRUPTIONS[name])
    before = snapshot(netc.ns)
    for command in ("status", "down", "apply"):
        args = (command, DEFAULT_NET) if command == "apply" else (command,)
        result = netc(*args)
        assert result.code == 2, (command, result.err)
        assert "internal error" not in result.err and "Traceback" not in result.err
        assert str(path) in result.err and "mv " in result.err, result.err
    assert snapshot(netc.ns) == before  # nothing was changed on the strength of it


def test_down_leaves_a_foreign_bridge_with_the_same_name(netc):
    assert netc("apply", DEFAULT_NET).code == 0
    nsrun(netc.ns, "ip", "link", "del", "virbr0")
    nsrun(netc.ns, "ip", "link", "add", "virbr0", "type", "bridge")  # someone else's now
    nsrun(netc.ns, "ip", "addr", "add", "192.0.2.1/24", "dev", "virbr0")
    result = netc("down", DEFAULT_NET)
    assert result.code == 0, result.err
    assert "not the one netc set up" in result.out + result.err
    links = nsrun(netc.ns, "ip", "-br", "addr", "show", "virbr0")
    assert "192.0.2.1/24" in links  # still there, untouched


def test_host_commands_need_root(tmp_path):
    for command in ("doctor", "status", "apply"):
        argv = [sys.executable, "-m", "netc", command, "--state-dir", str(tmp_path)]
        if command == "apply":
            argv.append(DEFAULT_NET)
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv],
            capture_output=True,
            text=True,
            cwd="/",
        )
        assert done.returncode == 2, done.stderr
        assert "needs root" in done.stderr and "internal error" not in done.stderr


def test_a_kill_half_way_through_apply_leaves_nothing_down_cannot_find(
    scratch_ns, isolated_config, tmp_path
):
    """SIGKILL (here: os._exit) after the second of five bridges: `down` still removes them all."""
    nets = "".join(
        f"network n{i} {{\n bridge brk{i}\n forward nat\n ip 192.168.{60 + i}.1/24\n}}\n"
        for i in range(5)
    )
    path = tmp_path / "five.net"
    path.write_text(nets)
    script = f"""
import os, sys
from netc.host import links
real, made = links.bring_up, []
def dying(*args, **kwargs):
    if len(made) == 2:
        os._exit(9)  # no cleanup runs: like SIGKILL
    made.append(1)
    return real(*args, **kwargs)
links.bring_up = dying
from netc.cli import main
sys.exit(main(["apply", {str(path)!r}, "--netns", {scratch_ns!r}]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    assert "brk1" in nsrun(scratch_ns, "ip", "-br", "link")  # left behind by the killed run
    down = subprocess.run(
        [sys.executable, "-m", "netc", "down", "--netns", scratch_ns],
        capture_output=True,
        text=True,
    )
    assert down.returncode == 0, down.stderr
    assert "brk" not in nsrun(scratch_ns, "ip", "-br", "link")
    assert nsrun(scratch_ns, "nft", "list", "ruleset").strip() == ""
