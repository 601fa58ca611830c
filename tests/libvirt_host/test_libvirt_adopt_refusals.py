"""What `netc adopt` refuses, with nothing changed: libvirt's definitions, the rules, the files."""

from __future__ import annotations

import os

import pytest
from test_libvirt_adopt import NETWORK_XML

from netc.cli import main


def _xml(name: str, bridge: str, forward: str, subnet: int) -> str:
    return (
        NETWORK_XML.replace("<name>default</name>", f"<name>{name}</name>")
        .replace("<forward mode='nat'/>", forward)
        .replace("virbr7", bridge)
        .replace("192.168.122.", f"192.168.{subnet}.")
    )


@pytest.mark.kernel
def test_refusals_change_nothing(make_lab, tmp_path, capsys):
    lab = make_lab("nftables")
    lab.define(_xml("viaopen", "virbr8", "<forward mode='open'/>", 123))
    onhost = "<network><name>onhost</name><forward mode='bridge'/><bridge name='br0'/></network>"
    lab.define(onhost, start=False)
    lab.define(_xml("stopped", "virbr9", "<forward mode='nat'/>", 125), start=False)
    lab.define(_xml("fine", "virbr10", "<forward mode='nat'/>", 126))
    nets = tmp_path / "networks"
    nets.mkdir()
    (nets / "fine.net").write_text("# someone else's file\n")
    config = tmp_path / "netc.conf"
    config.write_text("")
    common = ["--netns", lab.host, "--state-dir", str(tmp_path / "state"), "--config", str(config)]
    common += ["--connect", lab.uri, "--dir", str(nets), "--libvirt-hooks", lab.path("hooks")]

    def snapshot() -> str:
        xml = [lab.virsh("net-dumpxml", "--inactive", n)[1] for n in ("viaopen", "onhost", "fine")]
        return lab.rules() + "".join(xml) + repr(sorted(os.listdir(nets)))

    before = snapshot()
    for name, says in (
        ("viaopen", "already forward mode 'open'"),
        ("onhost", "forward mode 'bridge'"),
        ("stopped", "is not running"),
        ("fine", "is not what netc would write"),
        ("no/such", "not a network name netc can adopt"),
        ("missing", "failed"),
    ):
        code = main(["adopt", name, *common])
        captured = capsys.readouterr()
        assert code == 2, (name, captured.err)
        assert says in captured.err and captured.out == "", (name, captured.err)
        assert "Traceback" not in captured.err
        assert snapshot() == before, name
        assert not os.path.exists(tmp_path / "state" / f"state@{lab.host}.json")
        assert not os.path.exists(lab.path("hooks", "daemon.d", "netc"))
    assert lab.holders("virbr10") == {"libvirt"}


def test_hook_holds_only_checked_values(tmp_path):
    from netc.diagnostics import NetcError
    from netc.host import libvirt_adopt
    from netc.host.lifecycle import Where

    bad = Where(state_dir=str(tmp_path / "a dir; rm -rf x"))
    with pytest.raises(NetcError, match="cannot go into libvirt's hook script"):
        libvirt_adopt._check_hook_args(bad)
    good = Where(netns="netc-lvh-1-0", state_dir=str(tmp_path / "state"))
    text = libvirt_adopt.hook_text(good)
    assert "--netns netc-lvh-1-0" in text and text.startswith("#!/bin/sh\n")
    assert "setsid -f" in text


@pytest.mark.kernel
def test_failed_adopt_rolls_back(make_lab, tmp_path, capsys):
    """libvirt refuses the new definition (a read-only connection): rules and file go again."""
    lab = make_lab("iptables")
    lab.define(_xml("fine", "virbr10", "<forward mode='nat'/>", 126))
    config = tmp_path / "netc.conf"
    config.write_text("")
    nets = tmp_path / "networks"
    read_only = lab.uri.replace("libvirt-sock", "libvirt-sock-ro")
    before = lab.rules()
    code = main(
        ["adopt", "fine", "--connect", read_only, "--dir", str(nets)]
        + ["--netns", lab.host, "--state-dir", str(tmp_path / "state"), "--config", str(config)]
        + ["--libvirt-hooks", lab.path("hooks")]
    )
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "adopting was undone" in captured.err and "netc's rules removed" in captured.err
    assert lab.rules() == before
    assert not (nets / "fine.net").exists()
    assert "mode='nat'" in lab.virsh("net-dumpxml", "--inactive", "fine")[1]
    assert lab.holders("virbr10") == {"libvirt"}
