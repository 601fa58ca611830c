"""The benchmark's generator makes valid input and its helpers read netc's output (no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402
import nft_load  # noqa: E402
import peers  # noqa: E402
import traverse  # noqa: E402

from netc.pipeline import compile_text  # noqa: E402


def test_three_networks_compile_to_every_target(tmp_path: Path) -> None:
    source = generate.networks(3)
    texts = {t: compile_text(source, "n3.net", t) for t in ("nft", "iptables", "ip6tables")}
    assert texts["nft"].count("jump fwd_in_net") == 3
    assert "-A NETC_FWO -s 10.0.2.0/24 -i nb2 -j ACCEPT" in texts["iptables"]
    assert "2001:db8:0:2::/64" in texts["ip6tables"]
    counts = traverse.text_counts(texts["nft"], texts["iptables"], 2)
    assert counts["nft"] == traverse.text_counts(texts["nft"], texts["iptables"], 0)["nft"]
    assert counts["iptables"] > traverse.text_counts(texts["nft"], texts["iptables"], 0)["iptables"]
    commands = nft_load.commands(texts["nft"])
    assert commands[0] == "add table inet netc"
    rules = [line for line in texts["nft"].splitlines() if line.startswith("\t\t")]
    assert sum(c.startswith("add rule ") for c in commands) == len(rules) - 4  # 4 base chains


def test_worker_reports_rules_and_memory(tmp_path: Path) -> None:
    path = tmp_path / "n3.net"
    path.write_text(generate.networks(3))
    out = subprocess.run(
        [sys.executable, str(BENCH / "compile_worker.py"), str(path), "--stages"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result = json.loads(out.stdout)
    assert result["networks"] == 3 and result["rules"]["iptables"] > 0
    assert result["maxrss_kib"] > 0 and set(result["stages_s"]) >= {"parse", "lower"}


def test_peer_inputs_have_n_rules(tmp_path: Path) -> None:
    assert peers.ferm_input(4).count("ACCEPT;") == 4
    ours = compile_text(peers.netc_input(4), "peers.net", "iptables")
    accepts = [line for line in ours.splitlines() if " -d 172." in line]
    assert accepts == [
        f"-A NETC_FWO -s 10.0.0.0/16 -d 172.16.0.{i}/32 -i pb0 -j ACCEPT" for i in range(4)
    ]
    argv = peers.write_aerleon(str(tmp_path), 4)
    policy = Path(argv["speedway"][-1].split("=", 1)[1]).read_text()
    assert policy.count("term t") == 4
