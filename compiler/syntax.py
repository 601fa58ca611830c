"""The parser of `grammar/netc.lark` and facts about its terminals, shared by the fast parse
(`parse.py`) and the recovering one (`recover.py`).

The parser is Lark's LALR(1) parser as Lark's stand-alone generator writes it (`lark_parser.py`,
committed; regenerate with `python tools/regenerate_parser.py`, see that tool for why it is
generated rather than built at run time), so running netc needs no lark.
"""

from __future__ import annotations

import functools

from . import lark_parser


@functools.cache
def parser() -> lark_parser.Lark:
    """The one parser (building it reads the generated tables: once per process)."""
    return lark_parser.Lark_StandAlone()


@functools.cache
def literals() -> dict[str, str]:
    """Terminal name → text, for every fixed-text terminal (keywords and punctuation)."""
    return {t.name: t.pattern.value for t in parser().terminals if t.pattern.type == "str"}
