"""The checker must never read netc's IR or call its emitters: otherwise it proves nothing."""

from __future__ import annotations

import ast
from pathlib import Path

PARITY = Path(__file__).resolve().parents[2] / "parity"
FORBIDDEN = ("netc.ir", "netc.compiler", "netc.emitters", "ir", "compiler", "emitters")


def test_parity_imports_nothing_of_the_compiler():
    for path in sorted(PARITY.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            for name in names:
                bare = name.lstrip(".")
                if node.__class__ is ast.ImportFrom and node.level >= 2:
                    raise AssertionError(f"{path.name}: relative import out of parity: {name}")
                assert not any(
                    bare == f or bare.startswith(f + ".") for f in FORBIDDEN
                ), f"{path.name} imports {name}"
