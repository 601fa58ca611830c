"""Run the `netc` CLI in-process (fast enough for fuzzing) and capture what it did."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from netc.cli import EXIT_BAD_INPUT, EXIT_OK, main

# `file:line:col: error: message` or, for a problem with the whole file, `file: error: message`.
LOCATED = re.compile(r"^(?P<file>.+?)(?::(?P<line>\d+):(?P<col>\d+))?: error: \S", re.M)


@dataclass(frozen=True, slots=True)
class Run:
    code: int
    out: str
    err: str


def run_cli(argv: Sequence[str], capsys) -> Run:
    """Call `netc.cli.main(argv)`; an escaping exception fails the calling test by design."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as done:  # argparse usage errors and --help
        code = done.code if isinstance(done.code, int) else EXIT_BAD_INPUT
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def assert_clean_outcome(run: Run) -> None:
    """What every input must lead to: success, or exit 2 with located diagnostics and nothing
    on stdout. Exit 3 (an internal error) or anything else is a bug."""
    if run.code == EXIT_OK:
        assert run.out or True
        return
    assert run.code == EXIT_BAD_INPUT, f"exit {run.code}; stderr:\n{run.err}"
    assert run.out == "", f"bad input but stdout has:\n{run.out[:500]}"
    assert "Traceback" not in run.err
    first = run.err.splitlines()[0] if run.err else ""
    assert LOCATED.match(first), f"diagnostic without a location:\n{run.err[:500]}"
