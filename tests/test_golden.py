"""Compiler output equals the reviewed golden files, and every golden loads in a real kernel.

Regenerate with `NETC_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`, then read the diff
(`git diff golden/`) as you would read code: a golden proves only that nothing changed.
"""

from __future__ import annotations

import os

import pytest

from golden_cases import TARGETS, cases, golden_path
from kernel_support import nsrun
from netc.pipeline import compile_files, emit

UPDATE = os.environ.get("NETC_UPDATE_GOLDEN") == "1"


def _compiled(case: str):
    return compile_files([str(golden_path(case, "nft", False).with_name("input.net"))])


@pytest.mark.parametrize("remove", [False, True], ids=["setup", "remove"])
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", cases())
def test_output_matches_golden(case: str, target: str, remove: bool) -> None:
    text = emit(_compiled(case), target, remove=remove)
    path = golden_path(case, target, remove)
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with NETC_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text()


def test_output_is_deterministic() -> None:
    for case in cases():
        assert emit(_compiled(case), "nft") == emit(_compiled(case), "nft")


def _rules(listing: str) -> list[str]:
    return [line for line in listing.splitlines() if line.startswith("-A ")]


def _by_chain(rules: list[str]) -> dict[str, list[str]]:
    """Rules per chain, in order (iptables-save lists chains in its own order)."""
    chains: dict[str, list[str]] = {}
    for rule in rules:
        chains.setdefault(rule.split()[1], []).append(rule)
    return chains


@pytest.mark.kernel
@pytest.mark.parametrize("case", cases())
def test_nft_golden_loads_idempotently_and_removes(case: str, scratch_ns: str) -> None:
    setup = golden_path(case, "nft", False).read_text()
    nsrun(scratch_ns, "nft", "-f", "-", input=setup)
    once = nsrun(scratch_ns, "nft", "list", "ruleset")
    nsrun(scratch_ns, "nft", "-f", "-", input=setup)
    assert nsrun(scratch_ns, "nft", "list", "ruleset") == once
    nsrun(scratch_ns, "nft", "-f", "-", input=golden_path(case, "nft", True).read_text())
    assert nsrun(scratch_ns, "nft", "list", "ruleset") == ""


@pytest.mark.kernel
@pytest.mark.parametrize("flavour", ["nft", "legacy"])
@pytest.mark.parametrize("case", cases())
def test_iptables_golden_loads_and_removes(case: str, flavour: str, scratch_ns: str) -> None:
    for target in ("iptables", "ip6tables"):
        restore = f"{target}-restore" if flavour == "nft" else f"{target}-legacy-restore"
        save = f"{target}-save" if flavour == "nft" else f"{target}-legacy-save"
        setup = golden_path(case, target, False).read_text()
        if "*filter" not in setup:  # nothing to enforce (only `open` networks): nothing loaded
            assert _rules(setup) == [] and "NETC_" not in setup
            continue
        nsrun(scratch_ns, restore, "--noflush", input=setup)
        listed = nsrun(scratch_ns, save)
        # The kernel lists back exactly netc's rules, in the order and spelling emitted.
        netc_rules = [r for r in _rules(listed) if r.split()[1].startswith("NETC_")]
        assert _by_chain(netc_rules) == _by_chain(_rules(setup))
        jumps = [r for r in _rules(listed) if not r.split()[1].startswith("NETC_")]
        assert all(r.split()[-1].startswith("NETC_") for r in jumps)
        nsrun(scratch_ns, restore, "--noflush", input=golden_path(case, target, True).read_text())
        after = nsrun(scratch_ns, save)
        assert "NETC_" not in after, after
        assert _rules(after) == []
