"""`netc doctor` names another DNS/DHCP server beside the dnsmasq netc runs for a network: one
bound to all addresses or to the network's bridge (its answers race netc's)."""

from __future__ import annotations

import subprocess
import sys

from dhcp_guest import LAB

ROGUE = """
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"brlab")
s.bind(("0.0.0.0", 53))
print("READY", flush=True)
time.sleep(30)
"""


def test_doctor_names_a_second_server_on_the_bridge(netc, tmp_path):
    lab = tmp_path / "lab.net"
    lab.write_text(LAB)
    assert netc("apply", str(lab)).code == 0
    rogue = None
    try:
        quiet = netc("doctor")
        assert "listens on UDP" not in quiet.out + quiet.err  # netc's own dnsmasq is no conflict
        rogue = subprocess.Popen(
            ["ip", "netns", "exec", netc.ns, sys.executable, "-c", ROGUE],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert rogue.stdout.readline().strip() == "READY"
        found = netc("doctor")
        text = found.out + found.err
        assert "python" in text and "listens on UDP 0.0.0.0%brlab:53 (DNS)" in text, text
        assert "network lab" in text
    finally:
        if rogue:
            rogue.kill()
            rogue.wait()
        assert netc("down").code == 0
