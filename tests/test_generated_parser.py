"""netc's parser is Lark's parser: the committed tables are what the generator writes for the
current grammar (regenerate them when this fails: `python -m netc.compiler.regenerate_parser`),
the runtime `lalr.py` builds the tree Lark builds (positions included) or fails where Lark fails,
and netc's runtime never imports lark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lark
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netc.compiler import lalr, regenerate_parser
from netc.compiler.recover import _unreadable
from test_fuzz import GOOD, GRAMMAR_STRINGS, mutated

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = (
    "run `python -m netc.compiler.regenerate_parser` and commit compiler/parser_tables.json"
)
EXAMPLES = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _grammar() -> str:
    with open(regenerate_parser.grammar_path(), encoding="utf-8") as handle:
        return handle.read()


LARK = lark.Lark(_grammar(), **regenerate_parser.OPTIONS)


def _position(node) -> tuple:
    if isinstance(node, (lark.Token, lalr.Token)):
        fields = ("type", "line", "column", "end_line", "end_column", "start_pos", "end_pos")
        return (str(node),) + tuple(getattr(node, f) for f in fields)
    meta = node.meta
    if meta.empty:
        return ("empty",)
    fields = ("line", "column", "end_line", "end_column", "start_pos", "end_pos")
    return tuple(getattr(meta, f) for f in fields)


def assert_same_tree(expected, got, path: str = "") -> None:
    """Equal trees, token types and every position (Lark's `==` ignores positions)."""
    assert isinstance(got, lalr.Token) == isinstance(expected, lark.Token), path
    assert _position(got) == _position(expected), path
    if isinstance(expected, lark.Tree):
        assert got.data == expected.data, path
        assert len(got.children) == len(expected.children), f"{path}/{expected.data}"
        for i, (a, b) in enumerate(zip(expected.children, got.children)):
            assert_same_tree(a, b, f"{path}/{expected.data}[{i}]")


def assert_parses_like_lark(text: str) -> None:
    try:
        expected = LARK.parse(text)
    except lark.exceptions.UnexpectedInput:
        with pytest.raises((lalr.LexFault, lalr.UnexpectedToken)):
            lalr.parse(text)
        return
    assert_same_tree(expected, lalr.parse(text))


def _inputs() -> list[Path]:
    found = sorted(ROOT.glob("examples/*.net")) + sorted(ROOT.glob("golden/*/input.net"))
    return found + sorted(ROOT.glob("tests/bad/*.net"))


def test_tables_are_from_the_current_grammar() -> None:
    digest = regenerate_parser.grammar_digest(_grammar())
    assert regenerate_parser.recorded_digest() == digest, f"grammar/netc.lark changed: {REGENERATE}"


def test_tables_are_what_the_generator_writes() -> None:
    """Byte for byte: the generator numbers states canonically, so its output is reproducible."""
    committed = Path(regenerate_parser.TARGET).read_text(encoding="utf-8")
    if json.loads(committed)["lark"] != lark.__version__:
        pytest.skip(f"generated with another lark version than the installed {lark.__version__}")
    assert committed == regenerate_parser.generate(), f"edited by hand? {REGENERATE}"


@pytest.mark.parametrize("path", _inputs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_inputs_parse_like_lark(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace")
    assert_parses_like_lark(text)


def test_many_networks_parse_like_lark() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from generate import networks
    finally:
        sys.path.pop(0)
    assert_parses_like_lark(networks(40))
    assert_parses_like_lark("".join(GOOD))


@EXAMPLES
@given(text=GRAMMAR_STRINGS)
def test_grammar_strings_parse_like_lark(text: str) -> None:
    assert_parses_like_lark(text)


@EXAMPLES
@given(text=mutated())
def test_mutated_networks_parse_like_lark(text: str | bytes) -> None:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    assert_parses_like_lark(text)


@EXAMPLES
@given(text=st.text(st.sampled_from(list('ab-{}" \n\t#;\x0b/é')), max_size=40))
def test_tokens_are_larks(text: str) -> None:
    """Same tokens, types and positions; an unreadable character at the same place."""
    expected, failed_at = [], None
    try:
        expected = list(LARK.lex(text))
    except lark.exceptions.UnexpectedCharacters as err:
        failed_at = (err.pos_in_stream, err.line, err.column)
    got = []
    try:
        got = list(lalr.tokens(text))
    except lalr.LexFault as fault:
        assert failed_at == (fault.pos, fault.line, fault.column)
    else:
        assert failed_at is None
        assert [_position(t) for t in got] == [_position(t) for t in expected]


def test_skipping_unreadable_characters_keeps_positions() -> None:
    text = 'network "a\n  ;x } é\x0b'
    items = list(lalr.tokens(text, _unreadable))
    shown = [
        (type(i).__name__, i.line, i.column, getattr(i, "type", None), i.length if
         isinstance(i, lalr.LexFault) else str(i))
        for i in items
    ]  # fmt: skip
    assert shown == [
        ("Token", 1, 1, "NETWORK", "network"),
        ("LexFault", 1, 9, None, 2),
        ("LexFault", 2, 3, None, 1),
        ("Token", 2, 4, "WORD", "x"),
        ("Token", 2, 6, "RBRACE", "}"),
        ("Token", 2, 8, "WORD", "é"),
        ("LexFault", 2, 9, None, 1),
    ]


def test_compile_does_not_import_lark() -> None:
    probe = (
        "import sys\n"
        "from netc.pipeline import compile_text\n"
        "compile_text('network n { bridge b0 forward nat ip 10.0.0.1/24 }', 'x.net', 'nft')\n"
        "assert not [m for m in sys.modules if m == 'lark' or m.startswith('lark.')]\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)
