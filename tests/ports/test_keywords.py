"""Every keyword of the grammar is known wherever netc writes `.net` text (the libvirt converter
quotes names equal to a keyword; an unquoted `bridge guests` would not parse)."""

from __future__ import annotations

import re

from netc.compiler.parse import parser
from netc.libvirt.tosource import KEYWORDS


def grammar_keywords() -> set[str]:
    return {
        t.pattern.value
        for t in parser().terminals
        if t.pattern.type == "str" and re.fullmatch(r"[a-z][a-z0-9]*", t.pattern.value)
    }


def test_converter_knows_every_keyword() -> None:
    assert grammar_keywords() == set(KEYWORDS)
