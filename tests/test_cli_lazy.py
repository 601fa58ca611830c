"""The CLI imports only the command being run, and its summaries match what modules register."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from netc.cli import COMMANDS, module_name

ROOT = Path(__file__).resolve().parent.parent
PRESENT = [name for name in COMMANDS if importlib.util.find_spec(module_name(name)) is not None]


@pytest.mark.parametrize("name", PRESENT)
def test_summary_matches_registered_help(name: str) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(module_name(name)).register(sub)
    registered = {action.dest: action.help for action in sub._choices_actions}
    assert registered == {name: COMMANDS[name]}, "update COMMANDS in netc/cli.py"


def test_compile_imports_only_what_it_needs() -> None:
    probe = (
        "import sys\n"
        "from netc.cli import main\n"
        f"main(['compile', {str(ROOT / 'examples' / 'default.net')!r}])\n"
        "sys.stderr.write(' '.join(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(proc.stderr.split())
    unwanted = {"pyroute2", "netc.parity", "netc.host", "difflib"}
    unwanted |= {module_name(name) for name in COMMANDS if name != "compile"}
    assert not loaded & unwanted
