"""The bad-input corpus: every file in tests/bad/ fails with exactly the diagnostics in its golden.

Each `tests/bad/NAME.net` has `tests/bad/NAME.expected`, the rendered stderr of `netc check`
(message, line, column, source excerpt, caret, hint). Review goldens as code: they are the
product's error messages. Regenerate them only on purpose:

    NETC_UPDATE_GOLDEN=1 python -m pytest tests/test_diagnostics.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_run import LOCATED, assert_clean_outcome, run_cli

BAD = Path(__file__).parent / "bad"
CASES = sorted(p.stem for p in BAD.glob("*.net"))
UPDATE = os.environ.get("NETC_UPDATE_GOLDEN") == "1"


def test_corpus_is_large_enough():
    assert len(CASES) >= 60


def test_every_golden_has_an_input():
    orphans = sorted(p.stem for p in BAD.glob("*.expected") if p.stem not in CASES)
    assert not orphans, f"goldens without a .net input: {orphans}"


@pytest.mark.parametrize("name", CASES)
def test_bad_input_gets_its_diagnostic(name, capsys, monkeypatch):
    monkeypatch.chdir(BAD)  # file names in messages stay relative, the goldens portable
    run = run_cli(["check", f"{name}.net"], capsys)
    assert run.code == 2, f"exit {run.code}: {run.err}"
    assert run.out == ""
    assert_clean_outcome(run)
    golden = BAD / f"{name}.expected"
    if UPDATE:
        golden.write_text(run.err, encoding="utf-8")
    assert golden.exists(), f"no golden {golden.name}; run with NETC_UPDATE_GOLDEN=1"
    assert run.err == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", CASES)
def test_compile_prints_nothing_on_bad_input(name, capsys, monkeypatch, tmp_path):
    """`compile` fails like `check`, writes nothing to stdout and leaves an -o file alone."""
    monkeypatch.chdir(BAD)
    out = tmp_path / "rules.nft"
    out.write_text("previous rules\n")
    for target in ("nft", "iptables", "ip6tables"):
        run = run_cli(["compile", f"{name}.net", "-t", target, "-o", str(out)], capsys)
        assert run.code == 2 and run.out == ""
        assert out.read_text() == "previous rules\n"
        assert sorted(os.listdir(tmp_path)) == ["rules.nft"], "a temporary file was left behind"
    missing = tmp_path / "never.nft"
    run = run_cli(["compile", f"{name}.net", "-o", str(missing)], capsys)
    assert run.code == 2 and not missing.exists()


def test_every_diagnostic_line_is_located(capsys, monkeypatch):
    """Not only the first: every `error:` line of every golden names its file (and position)."""
    monkeypatch.chdir(BAD)
    for name in CASES:
        run = run_cli(["check", f"{name}.net"], capsys)
        errors = [line for line in run.err.splitlines() if ": error: " in line]
        assert errors, name
        for line in errors:
            assert LOCATED.match(line) and line.startswith(f"{name}.net"), (name, line)


FILE_LEVEL = {"empty", "only_comments", "not_utf8", "latin1", "nul_bytes"}
HEAD = "network aa_before {\n    bridge aabr0\n    ip 203.0.113.0/24\n}\n"  # one value error
TAIL = "\nnetwork zz_after {\n    bridge zzbr0\n    forward nat { ports 9 - 1 }\n}\n"  # one too


def _errors(text: str, capsys, tmp_path) -> list[str]:
    path = tmp_path / "case.net"
    path.write_text(text, encoding="utf-8")
    run = run_cli(["check", str(path)], capsys)
    assert_clean_outcome(run)
    return [line for line in run.err.splitlines() if ": error: " in line]


@pytest.mark.parametrize("name", sorted(set(CASES) - FILE_LEVEL))
def test_errors_do_not_cascade(name, capsys, tmp_path):
    """Recovery costs a statement, never the networks around it, and adds no errors of its own:
    a bad case between two networks with one error each reports exactly one error more on each
    side than the case alone."""
    text = (BAD / f"{name}.net").read_text(encoding="utf-8")
    alone = len(_errors(text, capsys, tmp_path))
    combined = _errors(HEAD + text + TAIL, capsys, tmp_path)
    assert len(combined) == alone + 2, "\n".join(combined)
    assert "203.0.113.0 is the network address" in combined[0]
    assert "port range 9-1 is reversed" in combined[-1]
