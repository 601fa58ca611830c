"""One diagnostics type, rendered in one place.

Every stage (parser, validator, verifier, host code) raises `NetcError` with one or more
`Diagnostic`s; only the CLI renders them, in the shape nft and compilers use:

    default.net:4:17: error: expected one of: nat, route, open, isolated
        forward natt
                ^^^^
      hint: did you mean 'nat'?
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from netc.ir.span import Span


@dataclass(frozen=True, slots=True)
class Diagnostic:
    message: str
    span: Span | None = None
    hint: str | None = None
    file: str | None = None  # for errors about a whole file (missing, unreadable, empty)

    @property
    def where(self) -> str:
        if self.span is not None:
            return str(self.span)
        return self.file or "netc"


class NetcError(Exception):
    """Bad input or a failed operation; carries every diagnostic found, in source order."""

    def __init__(self, diagnostics: Sequence[Diagnostic] | Diagnostic):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = sorted(diagnostics, key=_order)
        super().__init__("; ".join(f"{d.where}: {d.message}" for d in self.diagnostics))


def _order(d: Diagnostic) -> tuple:
    if d.span is None:
        return (d.file or "", 0, 0)
    return (d.span.file, d.span.line, d.span.column)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelt keyword or name, or None when nothing is close."""
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def render(diagnostics: Sequence[Diagnostic], sources: Mapping[str, str] | None = None) -> str:
    """Render diagnostics as text for stderr; `sources` maps file names to their text."""
    sources = sources or {}
    out: list[str] = []
    for d in diagnostics:
        out.append(f"{d.where}: error: {d.message}")
        if d.span is not None and d.span.file in sources:
            lines = sources[d.span.file].splitlines()
            if 1 <= d.span.line <= len(lines):
                text = lines[d.span.line - 1].expandtabs(1)
                start = max(d.span.column - 1, 0)
                if d.span.end_line == d.span.line and d.span.end_column > d.span.column:
                    width = d.span.end_column - d.span.column
                else:
                    width = max(len(text) - start, 1)
                out.append(f"    {text}")
                out.append("    " + " " * start + "^" * max(width, 1))
        if d.hint:
            out.append(f"  hint: {d.hint}")
    return "\n".join(out) + "\n"


def render_notes(notes: Sequence[Diagnostic]) -> str:
    """Render remarks that are not errors (e.g. ignored libvirt XML elements) for stderr."""
    return "".join(f"{d.where}: note: {d.message}\n" for d in notes)
