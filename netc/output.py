"""Writing results: stdout, or a file replaced atomically so a failure never leaves half of one."""

from __future__ import annotations

import os
import sys
import tempfile

from netc.diagnostics import Diagnostic, NetcError


def write_output(text: str, path: str | None) -> None:
    """Print `text`, or replace `path` with it in one rename.

    The text goes to a temporary file beside the target, is flushed to disk and renamed over
    it, so a reader (or a crash) sees the old file or the new one, never a mix. A symlink is
    followed, so `-o` through a link updates the file it points at. The new file keeps the
    old one's permission bits, or gets the usual umask-based ones (mkstemp alone gives 0600).
    Problems such as a missing directory are bad usage (exit 2), not a crash.
    """
    if path is None or path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = os.path.realpath(path)
    if os.path.isdir(target):
        raise _cannot(path, "is a directory")
    directory = os.path.dirname(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".netc-", dir=directory)
    except OSError as err:
        raise _cannot(path, err.strerror or str(err)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError):
            raise _cannot(path, err.strerror or str(err)) from None
        raise


def _mode_for(target: str) -> int:
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _cannot(path: str, why: str) -> NetcError:
    return NetcError(Diagnostic(f"cannot write output: {why}", None, None, file=path))
