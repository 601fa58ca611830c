"""Every keyword of the grammar is known wherever netc writes `.net` text (the libvirt converter
quotes names equal to a keyword; an unquoted `bridge guests` would not parse)."""

from __future__ import annotations

import re

from netc.compiler.syntax import literals
from netc.libvirt.tosource import KEYWORDS


def grammar_keywords() -> set[str]:
    return {text for text in literals().values() if re.fullmatch(r"[a-z][a-z0-9]*", text)}


def test_converter_knows_every_keyword() -> None:
    assert grammar_keywords() == set(KEYWORDS)
