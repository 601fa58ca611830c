"""How many rules one packet is tested against, for the first and the last network.

The packet: a new TCP connection from a guest of network k (its IPv4 subnet's .2, in on bridge
`nb<k>`) to 198.51.100.1:443 out on `eth0` — the forward path, through prerouting, forward and
postrouting (where NAT networks masquerade it).

Two counters:
* `parity`: netc's verifier parses the emitted texts into its netfilter model and this module
  walks the packet through every base chain on the path exactly like the verifier's concrete
  evaluator (`netc.parity.evaluate.run_chain`), counting each rule whose matches are tested; a
  vmap rule counts as one rule (one hash lookup). Used when `netc.parity` is importable.
* `text`: a documented stand-in from the emitted text alone. nft: the dispatch rules of the
  forward base chain tried until the `iifname vmap` (2) plus the position of the `ip saddr`
  accept in the network's chain. iptables: the jumps tried in FORWARD (3) plus every rule of
  NETC_FWX and NETC_FWI (none matches a packet leaving on eth0) plus the position of the
  network's accept in NETC_FWO. It ignores postrouting.

Usage: python traverse.py NFT_FILE IPTABLES_FILE IP6TABLES_FILE FIRST LAST → JSON.
"""

from __future__ import annotations

import ipaddress
import json
import sys

OUT_DEV = "eth0"
DESTINATION = "198.51.100.1"


def guest(k: int) -> str:
    a, b = divmod(k, 256)
    return f"10.{a}.{b}.2"


def _subnet(k: int) -> str:
    a, b = divmod(k, 256)
    return f"10.{a}.{b}.0/24"


def text_counts(nft: str, iptables: str, k: int) -> dict[str, int]:
    lines = nft.splitlines()
    start = lines.index(f"\tchain fwd_out_net{k} {{")
    position = next(
        i for i, line in enumerate(lines[start + 1 :], 1) if f"ip saddr {_subnet(k)}" in line
    )
    nft_count = 2 + position
    rules = [line.split() for line in iptables.splitlines() if line.startswith("-A NETC_")]
    before = sum(1 for r in rules if r[1] in ("NETC_FWX", "NETC_FWI"))
    fwo = [r for r in rules if r[1] == "NETC_FWO"]
    own = next(i for i, r in enumerate(fwo, 1) if r[3] == _subnet(k) and r[5] == f"nb{k}")
    return {"nft": nft_count, "iptables": 3 + before + own}


def parity_counts(nft: str, iptables: str, ip6tables: str, k: int) -> dict[str, int]:
    from netc.parity import Family, Packet, Path, parse_iptables, parse_nft
    from netc.parity.evaluate import evaluate

    def walk(ruleset) -> int:
        pkt = Packet(
            path=Path.FORWARD,
            family=Family.IPV4,
            iif=f"nb{k}",
            oif=OUT_DEV,
            saddr=int(ipaddress.ip_address(guest(k))),
            daddr=int(ipaddress.ip_address(DESTINATION)),
            l4proto=6,
            sport=40000,
            dport=443,
        )
        tally = [0]
        evaluate(ruleset, pkt, rules_seen=tally)
        return tally[0]

    return {
        "nft": walk(parse_nft(nft, "nft")),
        "iptables": walk(parse_iptables(iptables, Family.IPV4, "iptables")),
    }


def main(argv: list[str]) -> int:
    texts = [open(path, encoding="utf-8").read() for path in argv[:3]]
    first, last = int(argv[3]), int(argv[4])
    try:
        import netc.parity.evaluate  # noqa: F401

        method, count = "parity", lambda k: parity_counts(*texts, k)
    except ImportError:
        method, count = "text", lambda k: text_counts(texts[0], texts[1], k)
    json.dump({"method": method, "first": count(first), "last": count(last)}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
