"""netc's parser is Lark's parser: the committed stand-alone module (`compiler/lark_parser.py`)
was generated from the current grammar (regenerate it when this fails: `python
tools/regenerate_parser.py`), builds the tree Lark itself builds (positions included) or fails
where Lark fails, and netc's runtime never imports lark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lark
import pytest
import regenerate_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netc.compiler import lark_parser
from netc.compiler.parse import parse_recovering
from netc.compiler.syntax import parser
from netc.compiler.recover import _tokens, _Unreadable
from test_fuzz import GOOD, GRAMMAR_STRINGS, mutated

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = f"run `{regenerate_parser.COMMAND}` and commit compiler/lark_parser.py"
EXAMPLES = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# The options the generator gives Lark's stand-alone tool, as Lark's own.
LARK = lark.Lark(
    regenerate_parser.GRAMMAR.read_text(encoding="utf-8"),
    parser="lalr",
    lexer="basic",
    propagate_positions=True,
    maybe_placeholders=False,
)


def _position(node) -> tuple:
    if isinstance(node, (lark.Token, lark_parser.Token)):
        fields = ("type", "line", "column", "end_line", "end_column", "start_pos", "end_pos")
        return (str(node),) + tuple(getattr(node, f) for f in fields)
    meta = node.meta
    if meta.empty:
        return ("empty",)
    fields = ("line", "column", "end_line", "end_column", "start_pos", "end_pos")
    return tuple(getattr(meta, f) for f in fields)


def assert_same_tree(expected, got, path: str = "") -> None:
    """Equal trees, token types and every position (Lark's `==` ignores positions)."""
    assert isinstance(got, lark_parser.Token) == isinstance(expected, lark.Token), path
    assert _position(got) == _position(expected), path
    if isinstance(expected, lark.Tree):
        assert got.data == expected.data, path
        assert len(got.children) == len(expected.children), f"{path}/{expected.data}"
        for i, (a, b) in enumerate(zip(expected.children, got.children)):
            assert_same_tree(a, b, f"{path}/{expected.data}[{i}]")


def assert_parses_like_lark(text: str) -> None:
    """The generated module parses like Lark, and netc's parse (the recovering one when there
    is an error) keeps exactly Lark's tree for a well-formed text and reports errors otherwise."""
    tree, problems = parse_recovering(text, "x.net")
    try:
        expected = LARK.parse(text)
    except lark.exceptions.UnexpectedInput:
        with pytest.raises(lark_parser.UnexpectedInput):
            parser().parse(text)
        assert problems
        return
    assert_same_tree(expected, parser().parse(text))
    assert not problems
    assert_same_tree(expected, tree)


def _inputs() -> list[Path]:
    found = sorted(ROOT.glob("examples/*.net")) + sorted(ROOT.glob("golden/*/input.net"))
    return found + sorted(ROOT.glob("tests/bad/*.net"))


def test_module_is_from_the_current_grammar() -> None:
    digest = regenerate_parser.grammar_digest()
    assert regenerate_parser.recorded_digest() == digest, f"grammar/netc.lark changed: {REGENERATE}"


def test_check_reports_a_stale_module(tmp_path: Path) -> None:
    stale = tmp_path / "lark_parser.py"
    stale.write_text("# grammar sha256: 0\n", encoding="utf-8")
    assert regenerate_parser.recorded_digest(stale) == "0"
    assert regenerate_parser.recorded_digest(tmp_path / "missing.py") is None
    check = [sys.executable, str(ROOT / "tools" / "regenerate_parser.py"), "--check"]
    assert subprocess.run(check, capture_output=True).returncode == 0


def test_module_is_from_the_installed_lark() -> None:
    """The tested Lark wrote it; a new one is refused until the range is widened on purpose."""
    assert lark_parser.__version__ == lark.__version__ == regenerate_parser.lark_version()


def test_generator_refuses_an_untested_lark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regenerate_parser.metadata, "version", lambda name: "9.0.0")
    with pytest.raises(regenerate_parser.UntestedLark, match="lark 9.0.0 is not one"):
        regenerate_parser.generate()


def test_pyproject_pins_the_tested_lark() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (tested,) = regenerate_parser.TESTED_LARK
    major, minor = tested.split(".")
    assert f'"lark>={tested},<{major}.{int(minor) + 1}"' in pyproject


def test_regenerated_module_parses_like_the_committed_one(tmp_path: Path) -> None:
    """What the generator writes today is a working parser for the same trees (Lark orders its
    tables differently from run to run, so the bytes are not compared)."""
    fresh = tmp_path / "fresh_parser.py"
    fresh.write_text(regenerate_parser.generate(), encoding="utf-8")
    text = (ROOT / "examples" / "default.net").read_text(encoding="utf-8")
    probe = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "import fresh_parser\n"
        f"print(fresh_parser.Lark_StandAlone().parse({text!r}).pretty())\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout == parser().parse(text).pretty() + "\n"


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


def test_recovery_keeps_the_networks_without_errors_as_lark_parses_them() -> None:
    good = "".join(GOOD)
    broken = "network bad { bridge }\n"
    tree, problems = parse_recovering(broken + good + broken + good, "x.net")
    assert len(problems) == 2
    blank = " " * (len(broken) - 1) + "\n"  # the same positions without the broken networks
    assert_same_tree(LARK.parse(blank + good + blank + good), tree)


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
def test_unreadable_characters_are_reported_where_lark_stops(text: str) -> None:
    try:
        list(LARK.lex(text))
    except lark.exceptions.UnexpectedCharacters as err:
        _, problems = parse_recovering(text, "x.net")
        assert (err.line, err.column) in [(p.span.line, p.span.column) for p in problems]


def test_compile_does_not_import_lark() -> None:
    probe = (
        "import sys\n"
        "from netc.pipeline import compile_text\n"
        "compile_text('network n { bridge b0 forward nat ip 10.0.0.1/24 }', 'x.net', 'nft')\n"
        "assert not [m for m in sys.modules if m == 'lark' or m.startswith('lark.')]\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)


def test_skipping_unreadable_characters_keeps_positions() -> None:
    text = 'network "a\n  ;x } é\x0b'
    shown = [
        (type(i).__name__, i.line, i.column, getattr(i, "type", None), i.length if
         isinstance(i, _Unreadable) else str(i))
        for i in _tokens(text)
    ]  # fmt: skip
    assert shown == [
        ("Token", 1, 1, "NETWORK", "network"),
        ("_Unreadable", 1, 9, None, 2),
        ("_Unreadable", 2, 3, None, 1),
        ("Token", 2, 4, "WORD", "x"),
        ("Token", 2, 6, "RBRACE", "}"),
        ("Token", 2, 8, "WORD", "é"),
        ("_Unreadable", 2, 9, None, 1),
    ]
