"""`netc apply` serves what a network declares: DHCP (ranges and reserved hosts), DNS for the
hosts' names, through one dnsmasq per network bound to its bridge, with a real DHCP client
(busybox udhcpc) in a guest namespace."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from dhcp_guest import lab_source
from host_support import snapshot
from kernel_support import nsrun
from netc.host import dnsmasq
from netc.pipeline import compile_sources

LAB = lab_source("host 192.168.77.10 mac 52:54:00:00:00:10 name web")


def _network(text: str = LAB):
    return compile_sources([("lab.net", text)]).program.networks[0]


def test_config_binds_to_the_bridge_only(tmp_path: Path) -> None:
    text = dnsmasq.config(_network(), dnsmasq.Server(str(tmp_path), "lab"))
    lines = text.splitlines()
    for line in ("bind-dynamic", "interface=brlab", "except-interface=lo", "dhcp-authoritative"):
        assert line in lines
    assert "dhcp-range=192.168.77.100,192.168.77.150,255.255.255.0" in lines
    assert "dhcp-host=52:54:00:00:00:10,192.168.77.10,web" in lines
    assert "host-record=web,192.168.77.10" in lines
    assert f"dhcp-leasefile={tmp_path}/lab.leases" in lines
    assert not any(line.startswith(("listen-address", "bind-interfaces")) for line in lines)


def test_dns_off_and_nothing_to_serve() -> None:
    quiet = LAB.replace("forward nat", "forward nat\n    dns off")
    assert "port=0" in dnsmasq.config(_network(quiet), dnsmasq.Server("/x", "lab")).splitlines()
    bare = "network b {\n bridge brb\n forward nat\n dns off\n ip 192.168.78.1/24\n}\n"
    assert not dnsmasq.serves(_network(bare))


def test_names_cannot_inject_config_lines() -> None:
    hostile = LAB.replace("name web", 'name "web\\nport=5353"')
    with pytest.raises(Exception) as refused:
        compile_sources([("lab.net", hostile)])
    assert "lab.net:" in str(refused.value)


def _servers(ns: str) -> list[str]:
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    out = []
    for pid in pids.split():
        try:
            out.append(Path(f"/proc/{pid}/comm").read_text().strip())
        except OSError:
            pass
    return [comm for comm in out if comm == "dnsmasq"]


def test_a_users_day_with_dhcp_and_dns(netc, guest, tmp_path):
    lab = tmp_path / "lab.net"
    lab.write_text(LAB)
    before = snapshot(netc.ns)

    result = netc("apply", str(lab))
    assert result.code == 0, result.err
    assert "dnsmasq: started" in result.out
    assert len(_servers(netc.ns)) == 1

    guest.attach(mac="52:54:00:00:00:99")  # any guest: an address from the range
    address = guest.lease()
    assert 100 <= int(address.rsplit(".", 1)[1]) <= 150
    guest.detach()
    guest.attach(mac="52:54:00:00:00:10")  # the reserved MAC: its fixed address
    assert guest.lease() == "192.168.77.10"
    answer = nsrun(guest.ns, "busybox", "nslookup", "-type=a", "web", "192.168.77.1", check=False)
    assert "Address: 192.168.77.10" in answer, answer  # the gateway answers for the name

    again = netc("apply", str(lab))  # unchanged: the same server keeps running
    assert again.code == 0 and "dnsmasq: running" in again.out
    assert len(_servers(netc.ns)) == 1

    state_dir = Path(os.environ["NETC_STATE_DIR"])
    server = dnsmasq.Server(dnsmasq.directory_for(str(state_dir / f"state@{netc.ns}.json")), "lab")
    os.kill(dnsmasq.running_pid(server), 15)  # the server dies
    for _ in range(50):
        if dnsmasq.running_pid(server) is None:
            break
        subprocess.run(["sleep", "0.05"])
    status = netc("status")
    assert status.code == 1 and "its dnsmasq is not running" in status.out
    assert "`netc restore --bridges` starts it again" in status.out
    repaired = netc("restore", "--bridges")  # what status says, from the state alone
    assert repaired.code == 0 and "dnsmasq: started" in repaired.out, repaired.out
    assert netc("status").code == 0
    assert guest.lease() == "192.168.77.10"  # the restarted server answers

    lab.write_text(LAB.replace("192.168.77.150", "192.168.77.160"))  # an edited file
    edited = netc("apply", str(lab))
    assert edited.code == 0 and "restarted (config changed)" in edited.out
    assert "192.168.77.160" in Path(server.conf).read_text()
    assert len(_servers(netc.ns)) == 1

    guest.detach()
    down = netc("down")
    assert down.code == 0 and "dnsmasq stopped" in down.out
    assert _servers(netc.ns) == []
    assert not any(Path(server.directory).parent.glob("dnsmasq*/*"))  # no file left
    assert snapshot(netc.ns) == before


def test_apply_without_dnsmasq_changes_nothing(netc, tmp_path, monkeypatch):
    lab = tmp_path / "lab.net"
    lab.write_text(LAB)
    monkeypatch.setattr(dnsmasq, "which", lambda binary: None)
    before = snapshot(netc.ns)
    result = netc("apply", str(lab))
    assert result.code == 2 and "dnsmasq-base" in result.err
    assert snapshot(netc.ns) == before
