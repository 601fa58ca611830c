"""One diagnostics type, rendered in one place.

Every stage (parser, validator, verifier, host code) raises `NetcError` with one or more
`Diagnostic`s; only the CLI renders them, in the shape nft and compilers use:

    default.net:4:17: error: expected one of: nat, route, open, isolated
        forward natt
                ^^^^
      hint: did you mean 'nat'?
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from netc.ir.span import Span


@dataclass(frozen=True, slots=True)
class Diagnostic:
    message: str
    span: Span | None = None
    hint: str | None = None
    file: str | None = None  # for errors about a whole file (missing, unreadable, empty)
    detail: bool = False  # a note only `-v` shows: it changes nothing in the rules

    @property
    def where(self) -> str:
        if self.span is not None:
            return f"{file_label(self.span.file)}:{self.span.line}:{self.span.column}"
        return file_label(self.file) if self.file else "netc"


def file_label(path: str) -> str:
    """How a file is named in messages ('-' is standard input)."""
    return "<stdin>" if path == "-" else path


class NetcError(Exception):
    """Bad input or a failed operation; carries every diagnostic found, in source order."""

    def __init__(
        self,
        diagnostics: Sequence[Diagnostic] | Diagnostic,
        sources: Mapping[str, str] | None = None,
    ):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = sorted(diagnostics, key=_order)
        # the texts the diagnostics point into (stdin included), for carets under the span
        self.sources: Mapping[str, str] | None = sources
        super().__init__("; ".join(f"{d.where}: {d.message}" for d in self.diagnostics))


def _order(d: Diagnostic) -> tuple:
    if d.span is None:
        return (d.file or "", 0, 0)
    return (d.span.file, d.span.line, d.span.column)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelt keyword or name, or None when nothing is close."""
    import difflib  # only on the error path: keeps it off `netc compile`'s start-up

    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def shown(text: str, limit: int = 40) -> str:
    """User text made safe to quote in a message: control and invisible characters escaped.

    Input is hostile: a name could carry terminal escape sequences or a newline that forges a
    second diagnostic line, so nothing from the source is printed as is.
    """
    if len(text) <= limit and text.isascii() and text.isprintable() and "\\" not in text:
        return text  # the common case, and the same answer: printable ASCII is all visible
    out = []
    for char in text[:limit]:
        if char == "\\" or not _visible(char):
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out) + ("..." if len(text) > limit else "")


def _visible(char: str) -> bool:
    # Letters, marks, numbers, punctuation, symbols and the plain space; not controls (Cc),
    # format characters such as bidi overrides (Cf), separators or unassigned code points.
    return char == " " or unicodedata.category(char)[0] in "LMNPS"


def _source_line(text: str) -> str:
    """A source line for the caret display: one printable column per character."""
    text = text.expandtabs(1)
    if text.isascii() and text.isprintable():  # the common case, without a call per character
        return text
    return "".join(c if c == " " or _visible(c) else "?" for c in text)


_WIDTH = 120  # longest source excerpt shown under a message


def render(diagnostics: Sequence[Diagnostic], sources: Mapping[str, str] | None = None) -> str:
    """Render diagnostics as text for stderr; `sources` maps file names to their text."""
    sources = sources or {}
    out: list[str] = []
    split: dict[str, list[str]] = {}  # each source split once, not once per diagnostic
    for d in diagnostics:
        out.append(_lines(f"{d.where}: error: {d.message}"))
        if d.span is not None and d.span.file in sources:
            # Lark counts lines by "\n" only; str.splitlines would also split at form feeds,
            # vertical tabs and U+2028, shifting every later line.
            lines = split.get(d.span.file)
            if lines is None:
                lines = split[d.span.file] = sources[d.span.file].split("\n")
            if 1 <= d.span.line <= len(lines):
                text = _source_line(lines[d.span.line - 1].removesuffix("\r"))
                start = max(d.span.column - 1, 0)
                if d.span.end_line == d.span.line and d.span.end_column > d.span.column:
                    width = d.span.end_column - d.span.column
                else:
                    width = max(len(text) - start, 1)
                if len(text) > _WIDTH:  # a window around the span, not a megabyte-long line
                    left = max(start - _WIDTH // 4, 0)
                    more = "..." if left + _WIDTH < len(text) else ""
                    text = ("..." if left else "") + text[left : left + _WIDTH] + more
                    start = start - left + (3 if left else 0)
                    width = min(width, len(text) - start)
                out.append(f"    {text}")
                out.append("    " + " " * start + "^" * max(width, 1))
        if d.hint:
            out.append(_one_line(f"  hint: {d.hint}"))
    return "\n".join(out) + "\n"


def render_notes(notes: Sequence[Diagnostic], verbose: bool = False) -> str:
    """Render remarks that are not errors (e.g. a renamed libvirt network) for stderr; details
    (elements without firewall meaning, e.g. `<uuid>`) only when `verbose`."""
    shown_notes = [d for d in notes if verbose or not d.detail]
    return "".join(f"{d.where}: note: {_one_line(d.message)}\n" for d in shown_notes)


def _lines(text: str) -> str:
    """A message over several lines (a loader's own multi-line error): each continuation line
    indented, so none can pass for a diagnostic of its own; every line escaped as one line."""
    first, *rest = text.split("\n")
    return "\n".join([_one_line(first), *(f"    {_one_line(line.strip())}" for line in rest)])


def _one_line(text: str) -> str:
    """Messages quote user text through `shown`; this is the backstop for any that do not."""
    if text.isascii() and text.isprintable():  # printable ASCII is what `_visible` keeps
        return text
    return "".join(c if c == " " or _visible(c) else shown(c) for c in text)
