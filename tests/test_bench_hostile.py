"""bench/hostile.py runs every hostile-size case and tells a wrong answer from a slow one.

Its quick mode (sizes ÷ 100) runs here: every case must print with netc's expected exit status
and number of errors. Times are not checked (no timed tests): the figures are in RESULTS.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import hostile  # noqa: E402

CASES = [
    "MB of bad input reported",
    "MB, one syntax error at the end",
    "MB, unreadable characters at both ends",
    "MB of identical subnets",
    "600 forwards checked",
    "300 range forwards, then a wide one",
    "a wide forward, then 600 inside it",
    "verify of ",
]


def test_quick_run_prints_every_case_as_expected() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "hostile.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = done.stdout.splitlines()[1:]
    assert len(rows) == len(CASES), done.stdout
    for row, case in zip(rows, CASES):
        assert case in row and row.endswith("  -"), row  # quick: no verdict on speed


def test_a_wrong_exit_status_fails_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def cases(d: Path, quick: bool) -> list[hostile.Case]:
        good = d / "good.net"
        good.write_text(hostile.forwards(3))
        return [hostile.Case("valid input expected to fail", ["check", str(good)], 2.0, None, 2, 1)]

    monkeypatch.setattr(hostile, "cases", cases)
    assert hostile.main(["--quick"]) == 1
    assert "WRONG (expected exit 2, 1 errors)" in capsys.readouterr().out
