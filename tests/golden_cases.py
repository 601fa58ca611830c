"""The golden cases: `golden/<case>/input.net` and the reviewed output for every target."""

from __future__ import annotations

from pathlib import Path

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
TARGETS = ("nft", "iptables", "ip6tables")


def cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "input.net").is_file())


def golden_path(case: str, target: str, remove: bool) -> Path:
    return GOLDEN / case / f"{'remove' if remove else 'setup'}.{target}"
