"""The committed stand-alone parser matches the grammar (regenerate it when this fails:
`python -m netc.compiler.regenerate_parser`), and netc's runtime never imports lark."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import lark
import pytest

from netc.compiler import generated_parser, regenerate_parser

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = (
    "run `python -m netc.compiler.regenerate_parser` and commit compiler/generated_parser.py"
)


def _grammar() -> str:
    with open(regenerate_parser.grammar_path(), encoding="utf-8") as handle:
        return handle.read()


def test_generated_parser_is_from_the_current_grammar() -> None:
    digest = regenerate_parser.grammar_digest(_grammar())
    assert regenerate_parser.recorded_digest() == digest, f"grammar/netc.lark changed: {REGENERATE}"


def test_generated_parser_has_the_grammars_rules_and_terminals() -> None:
    committed = generated_parser.Lark_StandAlone()
    fresh = lark.Lark(_grammar(), **regenerate_parser.OPTIONS)
    assert sorted(map(str, committed.rules)) == sorted(map(str, fresh.rules)), REGENERATE
    assert sorted(
        (t.name, t.pattern.type, t.pattern.value, t.priority) for t in committed.terminals
    ) == sorted((t.name, t.pattern.type, t.pattern.value, t.priority) for t in fresh.terminals)
    for source in sorted(ROOT.glob("examples/*.net")) + sorted(ROOT.glob("golden/*/input.net")):
        text = source.read_text(encoding="utf-8")
        assert committed.parse(text) == fresh.parse(text), source


def test_generated_code_is_what_the_generator_writes() -> None:
    """Everything but the embedded tables (whose numbering varies from run to run)."""
    committed = Path(regenerate_parser.TARGET).read_text(encoding="utf-8")
    if f"# lark: {lark.__version__}\n" not in committed:
        pytest.skip(f"generated with another lark version than the installed {lark.__version__}")

    def code(text: str) -> str:
        return re.sub(r"^b'[A-Za-z0-9+/=]+'$", "b'...'", text, flags=re.M)

    assert code(committed) == code(regenerate_parser.generate()), f"edited by hand? {REGENERATE}"


def test_compile_does_not_import_lark() -> None:
    probe = (
        "import sys\n"
        "from netc.compiler.api import compile_text\n"
        "compile_text('network n { bridge b0 forward nat ip 10.0.0.1/24 }', 'x.net', 'nft')\n"
        "assert not [m for m in sys.modules if m == 'lark' or m.startswith('lark.')]\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)
