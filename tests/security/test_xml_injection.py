"""Hostile libvirt XML cannot add statements to the `.net` text netc generates from it.

The import prints `.net` source and compiles that, so anything from the XML that reached the
text unchecked could add a port forward or a network. Two ways in were found: an IPv6 zone id
(`ipaddress` takes any characters after `%`, newlines and braces included) and the XML file's
name in the `# Imported by netc from ...` comment.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ZONE_PAYLOAD = (
    "2001:db8:ca2:2::20%x&#10;}&#10;expose tcp 2222 to 192.168.122.10 port 22&#10;services { ssh"
)

XML = """<network>
  <name>default</name>
  <bridge name='virbr0'/>
  <forward mode='nat'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'/>
  <ip family='ipv6' address='2001:db8:ca2:2::1' prefix='64'>
    <dhcp>
      <range start='2001:db8:ca2:2::10' end='{end}'/>
    </dhcp>
  </ip>
</network>
"""


def netc(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netc", *argv], capture_output=True, text=True)


def test_zone_id_in_xml_is_refused_and_located(tmp_path: Path) -> None:
    path = tmp_path / "default.xml"
    path.write_text(XML.format(end=ZONE_PAYLOAD))
    for command in (["compile", str(path)], ["import", str(path)], ["check", str(path)]):
        done = netc(*command)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert done.stdout == ""
        assert f"{path}:8:" in done.stderr and "zone id" in done.stderr
        assert "Traceback" not in done.stderr


def test_plain_xml_still_imports(tmp_path: Path) -> None:
    path = tmp_path / "default.xml"
    path.write_text(XML.format(end="2001:db8:ca2:2::20"))
    done = netc("compile", str(path))
    assert done.returncode == 0, done.stderr
    assert "dnat" not in done.stdout


def test_file_name_cannot_add_a_network(tmp_path: Path) -> None:
    name = "x.xml\nnetwork evil {\n bridge eth0\n forward open\n}\n#"
    path = tmp_path / name
    path.write_text(XML.format(end="2001:db8:ca2:2::20"))
    imported = netc("import", str(path))
    assert imported.returncode == 0, imported.stderr
    assert [line for line in imported.stdout.splitlines() if line.startswith("network ")] == [
        "network default {"
    ]
    compiled = netc("compile", "--target", "nft", str(path))
    assert compiled.returncode == 0, compiled.stderr
    rules = compiled.stdout.split("\n", 1)[1]  # past the header comment naming the file
    assert "eth0" not in rules and "evil" not in rules
