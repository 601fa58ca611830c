"""The `netc` command line: parse arguments, run one command, render errors in one place.

Exit status: 0 success, 1 verification found a difference, 2 bad input or usage, 3 an internal
error (a bug: please report it). Commands live in `netc.commands.*`, each with `register()` and
`run()`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from netc.diagnostics import NetcError, render

COMMANDS = ("compile", "check", "verify", "import", "apply", "down", "status", "migrate", "doctor")

EXIT_OK, EXIT_DIFFERENT, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit status 2 and no traceback (its default)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"netc: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="netc", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"netc.commands.{name.replace('import', 'import_')}")
        except ModuleNotFoundError:
            continue  # a command whose module is not part of this build
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except NetcError as err:
        sys.stderr.write(render(err.diagnostics, getattr(err, "sources", None) or _sources(args)))
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - the one place a bug becomes a message, not a trace
        sys.stderr.write(f"netc: internal error: {type(err).__name__}: {err}\n")
        return EXIT_INTERNAL


def _sources(args: argparse.Namespace) -> dict[str, str]:
    """Source texts for rendering carets; re-read lazily, errors here are not interesting."""
    texts = {}
    for path in getattr(args, "files", None) or []:
        try:
            with open(path, encoding="utf-8") as handle:
                texts[path] = handle.read()
        except (OSError, UnicodeDecodeError):
            pass
    return texts
