"""A user's day with netc on a real libvirt host, on both of libvirt's firewall backends.

adopt → the guest works → net-destroy/net-start → daemon restart → release → network restart;
after each step exactly one party (libvirt or netc) holds rules for the network's bridge, and
the guest takes a lease, reaches the wan masqueraded, is unreachable from the wan, answers the
host's ssh port and gets DNS from libvirt's dnsmasq.
"""

from __future__ import annotations

import os
import re
import time

import pytest
from libvirt_lab import guest_works

from netc.cli import main

BRIDGE = "virbr7"
GATEWAY = "192.168.122.1"
NETWORK_XML = f"""<network>
  <name>default</name>
  <forward mode='nat'/>
  <bridge name='{BRIDGE}' stp='off' delay='0'/>
  <dns><host ip='{GATEWAY}'><hostname>gateway.lab</hostname></host></dns>
  <ip address='{GATEWAY}' netmask='255.255.255.0'>
    <dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp>
  </ip>
</network>
"""


@pytest.fixture
def netc_at(tmp_path, capsys):
    """Run netc in-process against a lab: its namespace, a private state dir and config."""
    config = tmp_path / "netc.conf"
    config.write_text("# empty: auto-detect\n")

    def run(lab, *args: str, libvirt: bool = True) -> tuple[int, str, str]:
        extra = ["--netns", lab.host, "--state-dir", str(tmp_path / "state")]
        extra += ["--config", str(config)]
        if libvirt:
            extra += ["--libvirt-hooks", lab.path("etc", "hooks")]
        code = main([*args, *extra])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _restore_rules(lab, net_file: str) -> None:
    """What the boot units do before libvirt starts: load netc's rules, never create bridges."""
    from kernel_support import nsrun

    rules = os.path.join(os.path.dirname(net_file), "boot.nft")
    assert main(["compile", net_file, "-o", rules]) == 0
    nsrun(lab.host, "nft", "-f", rules)


def _step(lab, who: str, what: str) -> None:
    deadline = time.monotonic() + 15  # after a daemon restart, the hook's netc needs a moment
    while lab.holders(BRIDGE) != {who} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lab.holders(BRIDGE) == {who}, f"after {what}: rules held by {lab.holders(BRIDGE)}"
    problems = guest_works(lab, GATEWAY, "gateway.lab")
    assert not problems, f"after {what}: " + "; ".join(problems)


@pytest.mark.kernel
@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_users_day(make_lab, netc_at, tmp_path, backend):
    lab = make_lab(backend)
    lab.define(NETWORK_XML)
    lab.plug("default")
    _step(lab, "libvirt", "libvirt started the network")
    nets = str(tmp_path / "networks")

    code, out, err = netc_at(lab, "adopt", "default", "--connect", lab.uri, "--dir", nets)
    assert code == 0, err
    assert os.path.exists(os.path.join(nets, "default.net"))
    assert "forward mode='open'" in lab.virsh("net-dumpxml", "--inactive", "default")[1]
    assert "mode='nat'" in lab.virsh("net-dumpxml", "default")[1]  # live: not restarted
    _step(lab, "netc", "adopt")

    code, out, err = netc_at(lab, "adopt", "default", "--connect", lab.uri, "--dir", nets)
    assert code == 0 and "already adopted" in out, err

    code, out, err = netc_at(lab, "status", libvirt=False)
    assert code == 0, out
    assert "network default: adopted from libvirt; libvirt: running, live mode 'nat', " in out
    assert "next start 'open', rules libvirt holds for virbr7: 0" in out
    assert netc_at(lab, "doctor", libvirt=False)[:2] == (0, "")

    lab.restart_daemon()  # the live definition is still nat: libvirt re-adds, the hook deletes
    _step(lab, "netc", "a daemon restart with the live definition still nat")

    # Without the hook, status and doctor show libvirt's re-added rules, and the fix works.
    hook = lab.path("etc", "hooks", "daemon.d", "netc")
    os.rename(hook, lab.path("hook.off"))
    lab.restart_daemon()
    assert lab.holders(BRIDGE) == {"libvirt", "netc"}
    code, out, err = netc_at(lab, "status", libvirt=False)
    assert code == 1 and re.search(r"drift: network default: libvirt holds \d+ rule", out), out
    code, out, err = netc_at(lab, "doctor", libvirt=False)
    assert code == 1 and "`netc adopt --reassert` deletes them" in out
    assert netc_at(lab, "adopt", "--reassert", libvirt=False)[0] == 0
    os.rename(lab.path("hook.off"), hook)
    _step(lab, "netc", "netc adopt --reassert")

    lab.restart_network("default")
    assert "mode='open'" in lab.virsh("net-dumpxml", "default")[1]
    _step(lab, "netc", "net-destroy + net-start")
    code, out, err = netc_at(lab, "status", libvirt=False)
    assert code == 0 and "live mode 'open', next start 'open'" in out, out

    lab.restart_daemon()
    _step(lab, "netc", "a daemon restart")

    net_file = os.path.join(nets, "default.net")
    assert netc_at(lab, "down", net_file, libvirt=False)[0] == 0  # a slip: nobody's rules
    code, out, err = netc_at(lab, "status", libvirt=False)
    assert code == 1 and "netc's rules for it are not loaded" in out, out
    assert f"`netc apply {net_file}` loads them" in out
    assert netc_at(lab, "apply", net_file, libvirt=False)[0] == 0
    _step(lab, "netc", "netc apply after netc down")

    lab.virsh("net-autostart", "default")
    lab.reboot(before_libvirt=lambda: _restore_rules(lab, net_file))
    lab.plug("default")
    _step(lab, "netc", "a reboot with autostart")

    code, out, err = netc_at(lab, "release", "default")
    assert code == 0, err
    lab.plug("default")  # release restarted the network: a new bridge
    assert not os.path.exists(os.path.join(nets, "default.net"))
    assert not os.path.exists(lab.path("etc", "hooks", "daemon.d", "netc"))
    _step(lab, "libvirt", "release")

    lab.restart_network("default")
    _step(lab, "libvirt", "a network restart after release")
