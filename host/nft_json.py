"""`nft -j` listings as (kind, body) pairs: the one reader of nft's JSON for host code."""

from __future__ import annotations

import json
from typing import Any

from .run import Host


def nft_items(host: Host, argv: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """`nft -j ARGV...` as (kind, body) pairs ("table", "chain", "rule", ...); [] on failure."""
    result = host.run(["nft", "-j", *argv])
    if result.returncode != 0 or not result.stdout.strip():
        return []
    return [next(iter(obj.items())) for obj in json.loads(result.stdout)["nftables"]]
