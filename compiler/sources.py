"""Reading input files, with clear errors for everything the outside world can get wrong."""

from __future__ import annotations

import os

from netc.diagnostics import Diagnostic, NetcError

MAX_SOURCE_BYTES = 8 * 1024 * 1024  # far beyond 10,000 networks; larger is a mistake


def read_source(path: str) -> str:
    """Read one input file as UTF-8 text; raises NetcError naming the file and what is wrong."""

    def fail(message: str, hint: str | None = None) -> NetcError:
        return NetcError(Diagnostic(message, None, hint, file=path))

    if path != "-" and os.path.isdir(path):
        raise fail("is a directory, not a network file")
    try:
        if path == "-":
            import sys

            data = sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1)
        else:
            if os.path.getsize(path) > MAX_SOURCE_BYTES:
                raise fail(f"file is larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MiB")
            with open(path, "rb") as handle:
                data = handle.read(MAX_SOURCE_BYTES + 1)
    except FileNotFoundError:
        raise fail("no such file") from None
    except PermissionError:
        raise fail("permission denied") from None
    except OSError as err:
        raise fail(f"cannot read: {err.strerror or err}") from None
    if len(data) > MAX_SOURCE_BYTES:
        raise fail(f"input is larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise fail(f"not UTF-8 text (bad byte at line {line}, offset {err.start})") from None
    if "\x00" in text:
        raise fail("contains NUL bytes; is this a binary file?")
    if not text.strip():
        raise fail("is empty", "a network file holds at least one 'network NAME { ... }' block")
    return text
