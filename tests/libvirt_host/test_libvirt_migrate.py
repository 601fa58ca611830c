"""`netc migrate` next to a running libvirt: libvirt can still start and stop every network.

libvirt creates its shared nft tables / LIBVIRT_* chains once per daemon run; had migrate deleted
them with the last network's rules, `virsh net-start` would fail until the daemon restarts.
"""

from __future__ import annotations

import pytest
from libvirt_lab import guest_works
from test_libvirt_adopt import BRIDGE, GATEWAY, NETWORK_XML
from test_libvirt_adopt_refusals import _xml

from netc.cli import main


@pytest.mark.kernel
@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_libvirt_starts_networks_after_migrate(make_lab, tmp_path, capsys, backend):
    lab = make_lab(backend)
    lab.define(NETWORK_XML)
    lab.define(_xml("other", "virbr10", "<forward mode='nat'/>", 126), start=False)
    lab.plug("default")
    xml = tmp_path / "default.xml"
    xml.write_text(lab.virsh("net-dumpxml", "default")[1])
    config = tmp_path / "netc.conf"
    config.write_text("")
    net = tmp_path / "default.net"
    assert main(["import", str(xml), "-o", str(net)]) == 0
    common = ["--netns", lab.host, "--state-dir", str(tmp_path / "state"), "--config", str(config)]
    code = main(["migrate", "--to", "nftables", str(net), *common])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "libvirt's network daemon runs and needs them to start any network" in out
    assert lab.holders(BRIDGE) == {"netc"}
    assert not guest_works(lab, GATEWAY, "gateway.lab")

    lab.virsh("net-start", "other")  # failed when migrate had deleted libvirt's tables
    assert lab.holders("virbr10") == {"libvirt"}
    lab.restart_network("default")  # works too; libvirt's rules come back (use `netc adopt`)
    assert lab.holders(BRIDGE) == {"libvirt", "netc"}
